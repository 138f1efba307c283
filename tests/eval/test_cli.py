"""`commons eval` end to end on the tiny GGUF: every task runs with --limit, the
stages resume, and refusals are clear.

    python -m pytest tests/eval/test_cli.py -q
"""

from __future__ import annotations

import json

import pytest

from codecommons.eval.cli import main
from codecommons.eval.tasks import TASKS
from tests.eval import needs


def run(argv) -> int:
    return main(argv)


@pytest.mark.parametrize("task", [pytest.param(t, marks=needs.task_marks(TASKS[t])) for t in TASKS])
def test_every_task_runs_end_to_end(task, tiny_gguf, tmp_path):
    out = tmp_path / "runs"
    assert run(["run", task, "--model", str(tiny_gguf), "--limit", "1", "--max-new-tokens", "12",
                "--n-ctx", "512", "--out", str(out), "--allow-code-execution"]) == 0
    report = json.loads((out / task / "report.json").read_text())
    assert report["n_samples"] >= 1 and report["metrics"]
    assert report["model"]["sha256"] and report["git_commit"]
    assert report["mode"] == ("fim" if "fim" in TASKS[task].modes else "instruct")
    assert (out / task / "report.png").stat().st_size > 1000
    assert set(report["statuses"]) <= {"passed", "failed", "timeout", "error"}


@needs.bwrap
def test_base_mode_and_pass_at_k(tiny_gguf, tmp_path):
    out = tmp_path / "runs"
    assert run(["run", "humaneval", "--model", str(tiny_gguf), "--limit", "2", "--mode", "base",
                "--n-samples", "3", "--temperature", "0.8", "--max-new-tokens", "8",
                "--n-ctx", "512", "--out", str(out), "--allow-code-execution"]) == 0
    report = json.loads((out / "humaneval" / "report.json").read_text())
    assert report["mode"] == "base" and set(report["metrics"]) == {"pass@1"}
    assert report["n_samples"] == 6


def test_generation_resumes_after_a_kill(tiny_gguf, tmp_path):
    args = ["generate", "humaneval", "--model", str(tiny_gguf), "--limit", "3",
            "--max-new-tokens", "8", "--n-ctx", "512", "--mode", "base"]
    assert run(args + ["--out", str(tmp_path / "a")]) == 0
    full = (tmp_path / "a" / "samples.jsonl").read_text().splitlines()
    partial = tmp_path / "b" / "samples.jsonl"
    partial.parent.mkdir()
    partial.write_text(full[0] + "\n" + full[1][:20])  # killed mid-line
    assert run(args + ["--out", str(tmp_path / "b")]) == 0
    assert partial.read_text().splitlines() == full


def test_resuming_with_other_settings_is_refused_and_loses_nothing(tiny_gguf, tmp_path, capsys):
    args = ["generate", "humaneval", "--model", str(tiny_gguf), "--max-new-tokens", "8",
            "--n-ctx", "512", "--mode", "base", "--out", str(tmp_path)]
    assert run(args + ["--limit", "1"]) == 0
    samples, meta = tmp_path / "samples.jsonl", tmp_path / "generate.json"
    before, meta_before = samples.read_text(), meta.read_text()
    assert run(args + ["--limit", "1", "--temperature", "0.5"]) != 0
    err = capsys.readouterr().err
    assert "other settings" in err and "sampling" in err and "another --out" in err
    assert samples.read_text() == before and meta.read_text() == meta_before
    assert run(args + ["--limit", "2"]) == 0  # more problems, same settings: resumes
    rows = samples.read_text().splitlines()
    assert rows[0] == before.splitlines()[0] and len(rows) == 2


def test_execute_refuses_without_flag(tiny_gguf, tmp_path, capsys):
    assert run(["generate", "humaneval", "--model", str(tiny_gguf), "--limit", "1",
                "--max-new-tokens", "4", "--n-ctx", "512", "--out", str(tmp_path)]) == 0
    assert run(["execute", str(tmp_path / "samples.jsonl"), "--task", "humaneval"]) == 1
    assert "--allow-code-execution" in capsys.readouterr().err


def test_missing_toolchain_is_an_error_not_a_zero(tiny_gguf, tmp_path, monkeypatch, capsys):
    """A PATH without node: `execute` and `run` refuse before any program runs, name
    the tool and how to install it, and write no results."""
    assert run(["generate", "multipl-e-js", "--model", str(tiny_gguf), "--limit", "1",
                "--max-new-tokens", "4", "--n-ctx", "512", "--out", str(tmp_path)]) == 0
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert run(["execute", str(tmp_path / "samples.jsonl"), "--task", "multipl-e-js",
                "--allow-code-execution"]) == 1
    err = capsys.readouterr().err
    assert "node: not found on PATH" in err and "apt-get install -y nodejs" in err, err
    assert not (tmp_path / "results.jsonl").exists()
    out = tmp_path / "runs"
    assert run(["run", "multipl-e-js", "--model", str(tiny_gguf), "--limit", "1",
                "--max-new-tokens", "4", "--n-ctx", "512", "--out", str(out),
                "--allow-code-execution"]) == 1
    assert "apt-get install -y nodejs" in capsys.readouterr().err
    assert not out.exists()  # refused before generating


def test_bad_flags_are_explained(capsys):
    assert run(["run", "humaneval", "--model", "x", "--n-samples", "5"]) == 1
    assert "--temperature" in capsys.readouterr().err
    assert run(["tasks"]) == 0
    assert "santacoder-fim-py" in capsys.readouterr().out
