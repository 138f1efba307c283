"""`commons train pretrain` end to end on CPU: a tiny model learns, its checkpoint
is a transformers folder, a SIGKILLed run resumes to the same losses, and 2
processes (gloo) match 1 process with twice the gradient accumulation.

    python -m pytest tests/train/test_pretrain.py -q
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def args(dataset, tok, out, *more) -> list[str]:
    return [str(dataset), "--tokenizer", str(tok), "--config", "tiny", "--seq-len", "64",
            "--micro-batch", "4", "--warmup-steps", "5", "--heldout-fraction", "0.2",
            "--eval-contexts", "8", "--no-progress", "--out", str(out), *more]


def run_cli(argv: list[str], launcher: list[str] | None = None, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}", "OMP_NUM_THREADS": "1"}
    cmd = (launcher or [sys.executable]) + ["-m", "codecommons", "train", "pretrain", *argv]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def finish(p: subprocess.Popen, timeout: float = 240) -> str:
    out, _ = p.communicate(timeout=timeout)
    assert p.returncode == 0, out[-3000:]
    return out


def losses(out: Path) -> list[float]:
    return [json.loads(line)["loss"] for line in (out / "log.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def pretrained(tiny_dataset, tiny_tokenizer, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pretrain") / "run"
    finish(run_cli(args(tiny_dataset, tiny_tokenizer, out, "--max-steps", "40", "--save-every", "10",
                        "--eval-every", "20", "--lr", "3e-3")))
    return out


def test_loss_falls_and_outputs_are_written(pretrained):
    rows = [json.loads(line) for line in (pretrained / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 41))
    assert rows[-1]["tokens"] == 40 * 4 * 64
    first, last = sum(r["loss"] for r in rows[:5]) / 5, sum(r["loss"] for r in rows[-5:]) / 5
    assert last < first - 0.3, (first, last)
    assert rows[19]["val_loss"] is not None and rows[39]["val_loss"] < rows[19]["val_loss"] + 0.1
    assert (pretrained / "loss.png").stat().st_size > 5000
    assert (pretrained / "latest").read_text().strip() == "step_000040"
    kept = sorted(p.name for p in (pretrained / "checkpoints").iterdir())
    assert kept == ["step_000030", "step_000040"]  # --keep 2


def test_checkpoint_is_a_transformers_model_with_a_card(pretrained):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = pretrained / "checkpoints" / "step_000040"
    model = AutoModelForCausalLM.from_pretrained(str(folder)).eval()
    tok = AutoTokenizer.from_pretrained(str(folder))
    assert type(model).__name__ == "GPTBigCodeForCausalLM"
    ids = tok("def add(a, b):\n    return", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        assert model(input_ids=ids).logits.shape == (1, ids.shape[1], len(tok))
    card = (folder / "README.md").read_text()
    assert card.startswith("---\nlicense: other\n")
    for needle in ("## Data", "PSF-2.0 (", "tiny test dataset", "## Tokenizer", "1,000 tokens",
                   "| tokens seen | 10,240 |", "held-out loss", "## Licence and use", '"fim_rate": 0.5'):
        assert needle in card, needle


def test_killed_run_resumes_to_the_same_losses(tiny_dataset, tiny_tokenizer, tmp_path):
    """SIGKILL mid-run after a checkpoint, resume: the log equals an uninterrupted run's."""
    more = ["--max-steps", "30", "--save-every", "4", "--eval-every", "10", "--metadata-rate", "0.3"]
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    finish(run_cli(args(tiny_dataset, tiny_tokenizer, whole, *more)))
    p = run_cli(args(tiny_dataset, tiny_tokenizer, cut, *more))
    deadline = time.monotonic() + 120
    while not (cut / "latest").exists() or (cut / "latest").read_text().strip() != "step_000008":
        assert p.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert len(losses(cut)) < 30
    out = finish(run_cli(args(tiny_dataset, tiny_tokenizer, cut, *more, "--resume")))
    assert "resumed from" in out
    a, b = losses(whole), losses(cut)
    assert len(a) == len(b) == 30
    assert max(abs(x - y) for x, y in zip(a, b)) <= 1e-6, list(zip(a, b))
    val = lambda o: [json.loads(line).get("val_loss") for line in (o / "log.jsonl").read_text().splitlines()]
    assert val(whole) == pytest.approx(val(cut), abs=1e-6)


def test_two_processes_match_one_with_twice_the_accumulation(tiny_dataset, tiny_tokenizer, tmp_path):
    more = ["--max-steps", "8", "--save-every", "8", "--eval-every", "4"]
    one = run_cli(args(tiny_dataset, tiny_tokenizer, tmp_path / "one", *more, "--grad-accum", "2"))
    finish(one)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    two = finish(run_cli(args(tiny_dataset, tiny_tokenizer, tmp_path / "two", *more), launcher=torchrun))
    assert "2 process(es)" in two
    a, b = losses(tmp_path / "one"), losses(tmp_path / "two")
    assert len(a) == len(b) == 8
    assert max(abs(x - y) for x, y in zip(a, b)) < 1e-4, list(zip(a, b))
    # FSDP (parameters, gradients and optimizer state sharded) computes the same.
    finish(run_cli(args(tiny_dataset, tiny_tokenizer, tmp_path / "fsdp", *more, "--fsdp"), launcher=torchrun))
    c = losses(tmp_path / "fsdp")
    assert max(abs(x - y) for x, y in zip(a, c)) < 1e-4, list(zip(a, c))


def test_checkpoint_is_served_by_commons_serve_and_answers_fim(pretrained):
    """`commons serve --model DIR` on the checkpoint: the transformers engine, the
    StarCoder FIM template detected from our tokenizer, a real /v1/completions."""
    import httpx

    from codecommons.engines.base import load_engine
    from codecommons.models.registry import resolve
    from tests.serve.live import running_server

    spec = resolve(str(pretrained / "checkpoints" / "step_000040"))
    assert spec.format == "transformers" and spec.family == "starcoder" and spec.context_length == 64
    engine = load_engine(spec, device="cpu")
    try:
        assert engine.fim_template().name == "starcoder"
        with running_server(engine) as url:
            r = httpx.post(url + "/v1/completions", json={
                "prompt": "def add(a, b):\n    ", "suffix": "\n", "max_tokens": 8,
                "temperature": 0}, timeout=60)
            models = httpx.get(url + "/v1/models", timeout=10).json()
    finally:
        engine.close()
    assert r.status_code == 200, r.text
    assert r.json()["usage"]["prompt_tokens"] > 5
    assert models["data"][0]["id"] == "step_000040"


def test_starcoder2_with_transformers(tiny_dataset, tiny_tokenizer, tmp_path):
    from transformers import AutoModelForCausalLM

    from codecommons.train import pretrain

    out = tmp_path / "sc2"
    assert pretrain.main(args(tiny_dataset, tiny_tokenizer, out, "--arch", "starcoder2", "--impl",
                              "transformers", "--max-steps", "2", "--eval-every", "2")) == 0
    model = AutoModelForCausalLM.from_pretrained(str(out / "checkpoints" / "step_000002"))
    assert type(model).__name__ == "Starcoder2ForCausalLM"
    with pytest.raises(ValueError, match="--arch starcoder2 needs --impl transformers"):
        pretrain.PretrainConfig(dataset="d", tokenizer="t", out="o", max_steps=1, arch="starcoder2")


def test_refuses_to_overwrite_a_run_without_resume(pretrained, tiny_dataset, tiny_tokenizer):
    from codecommons.train import pretrain

    with pytest.raises(ValueError, match="already holds checkpoints \\(step_000040\\): pass --resume"):
        pretrain.main(args(tiny_dataset, tiny_tokenizer, pretrained, "--max-steps", "1"))
