"""One infill policy for serving and evaluation: the same FIM task through a local
engine and through `--endpoint` on `commons serve` (same model) gives identical
completions at temperature 0, and each report says which path it measured.

    python -m pytest tests/eval/test_parity.py -q
"""

from __future__ import annotations

import json

from codecommons.eval.cli import main


def completions(out) -> list[tuple[str, str]]:
    rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    return [(r["task_id"], r["completion"]) for r in rows]


def test_local_engine_and_endpoint_give_identical_fim_completions(tiny_gguf, server, tmp_path):
    common = ["--limit", "4", "--max-new-tokens", "16", "--n-ctx", "512", "--temperature", "0"]
    for task in ("santacoder-fim-py", "humaneval-infill-single-line"):
        local, remote = tmp_path / task / "local", tmp_path / task / "remote"
        assert main(["generate", task, "--model", str(tiny_gguf), "--out", str(local)] + common) == 0
        assert main(["generate", task, "--endpoint", server + "/v1", "--model",
                     tiny_gguf.name, "--out", str(remote)] + common) == 0
        a, b = completions(local), completions(remote)
        assert len(a) >= 4 and a == b, task
        assert any(c for _, c in a)  # not a comparison of empty strings
        paths = [json.loads((d / "generate.json").read_text())["path"] for d in (local, remote)]
        assert paths[0]["endpoint"] is None and paths[0]["fim_prompts"].endswith("here")
        assert paths[1]["endpoint"] == server + "/v1" and "by the endpoint" in paths[1]["fim_prompts"]
