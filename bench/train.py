"""Benchmark of `commons train`: pretraining smoke run, LoRA fine-tuning speed
against peft + transformers' Trainer, FIM exact match before/after fine-tuning on
this repository's own code, and (on a GPU) pretraining tokens/s and MFU against
plain transformers.

    python bench/train.py                  # CPU parts, full settings (about 1 h on 2 idle cores)
    python bench/train.py --smoke          # smallest settings: checks the script (minutes)
    python bench/train.py --gpu            # + 125m / 350m on the GPU (needs CUDA)

Data: this repository (`commons curate src tests bench --keep-no-license`: the repository
declares Apache-2.0 in pyproject.toml but has no LICENSE file), or --data DIR.
The 0.5B model is the embedded Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF; transformers
dequantises it to fp32 for training). Its training data predates this code, so the
held-out files (seed 0) cannot have been seen.

The results replace the section between `<!-- bench/train.py -->` and
`<!-- end bench/train.py -->` in --out (bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from report import machine_info, machine_table, write_section  # noqa: E402

START, END = "<!-- bench/train.py -->", "<!-- end bench/train.py -->"
MODEL = "qwen2.5-coder-0.5b"
SETTINGS = {  # full | smoke
    "tokenizer_vocab": (8192, 2048),
    "pretrain_steps": (300, 20),
    "ft_steps": (30, 2),
    "ft_seq_len": (256, 128),
    "eval_lines": (40, 4),
    "baseline_steps": (6, 2),
}


def commons(*args: str, env: dict | None = None) -> str:
    cmd = [sys.executable, "-m", "codecommons", *args]
    print("$ commons", " ".join(args), flush=True)
    p = subprocess.run(cmd, cwd=ROOT, text=True, capture_output=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT / "src"), **(env or {})})
    if p.returncode:
        raise RuntimeError(f"commons {' '.join(args)} failed:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    return p.stdout


def log_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# -- CPU: pretraining smoke run ----------------------------------------------------
def pretrain_smoke(data: Path, work: Path, pick) -> list[str]:
    shutil.rmtree(work / "tiny", ignore_errors=True)  # a fresh run, not a resume
    t0 = time.perf_counter()
    commons("train", "tokenizer", str(data), "--vocab-size", str(pick("tokenizer_vocab")),
            "--heldout-fraction", "0.1", "--out", str(work / "tok"))
    t_tok = time.perf_counter() - t0
    steps = pick("pretrain_steps")
    t0 = time.perf_counter()
    commons("train", "pretrain", str(data), "--tokenizer", str(work / "tok"), "--config", "tiny",
            "--max-steps", str(steps), "--micro-batch", "8", "--seq-len", "256", "--warmup-steps", "20",
            "--lr", "1e-3", "--eval-every", str(max(steps // 4, 1)), "--save-every", str(steps),
            "--heldout-fraction", "0.1", "--no-progress", "--out", str(work / "tiny"))
    wall = time.perf_counter() - t0
    rows = log_rows(work / "tiny" / "log.jsonl")
    rep = json.loads((work / "tok" / "tokenizer_report.json").read_text())
    val = [(r["step"], r["val_loss"]) for r in rows if r.get("val_loss") is not None]
    tps = statistics.median(r["tokens_per_s"] for r in rows[len(rows) // 5:])
    bpt = ", ".join(f"{k}: {v}" for k, v in rep["bytes_per_token"].items())
    return ["### Tokenizer and tiny pretraining smoke run (CPU)", "",
            f"Tokenizer: {pick('tokenizer_vocab')} tokens trained in {t_tok:.0f} s (incl. start-up and the "
            f"Qwen tokenizer read from the GGUF). Bytes per token on {rep['heldout_files']} held-out files: {bpt}.",
            "",
            "| model | steps | tokens | wall clock | loss first 5 steps | loss last 5 steps | held-out loss by step | tokens/s (median) |",
            "|---|---|---|---|---|---|---|---|",
            f"| tiny GPTBigCode ({_params(work / 'tiny')}), seq 256, batch 8 | {steps} | {rows[-1]['tokens']:,} | "
            f"{wall:.0f} s | {statistics.mean(r['loss'] for r in rows[:5]):.3f} | "
            f"{statistics.mean(r['loss'] for r in rows[-5:]):.3f} | "
            f"{', '.join(f'{s}: {v:.3f}' for s, v in val)} | {tps:,.0f} |", ""]


def _params(run: Path) -> str:
    cfg = json.loads((run / "checkpoints" / (run / "latest").read_text().strip() / "config.json").read_text())
    n = cfg["n_layer"] * (12 * cfg["n_embd"] ** 2) + cfg["vocab_size"] * cfg["n_embd"]
    return f"~{n / 1e6:.1f}M parameters"


# -- CPU: fine-tuning the 0.5B on this repository ---------------------------------------
def finetune(data: Path, work: Path, pick) -> dict:
    out = work / "ft"
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    commons("train", "finetune", "--model", MODEL, "--data", str(data), "--method", "lora",
            "--max-steps", str(pick("ft_steps")), "--seq-len", str(pick("ft_seq_len")), "--micro-batch", "1",
            "--grad-accum", "4", "--eval-lines", str(pick("eval_lines")), "--heldout-fraction", "0.1",
            "--gguf", "q4_k_m", "--no-progress", "--out", str(out))
    res = json.loads((out / "eval.json").read_text())
    res["wall_s"] = time.perf_counter() - t0
    # The median step after the first (which pays for warm-up), as for the baseline.
    steps = log_rows(out / "log.jsonl")
    res["step_tokens_per_s"] = statistics.median(r["tokens_per_s"] for r in (steps[1:] or steps))
    return res


def trainer_baseline(data: Path, pick) -> dict:
    """peft LoRA + transformers Trainer, default settings (batch matched: 1 x 4
    accumulation), on the same packed contexts our run trains on."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import Trainer, TrainingArguments

    from codecommons.train import data as tdata
    from codecommons.train.finetune import load_base
    from codecommons.tokenizer.fim import FimConfig

    model, tok, spec = load_base(MODEL)
    codec = tdata.Codec(tok, spec.family)
    seq = pick("ft_seq_len")
    stream = tdata.StreamConfig(seq_len=seq, fim=FimConfig(), heldout_fraction=0.1, seed=0)
    packer = tdata.Packer(tdata.shard_files(data), codec, stream, "train", 0, 4)
    steps = pick("baseline_steps")
    rows = []
    for _ in range(steps * 4):
        x, y = tdata.to_batch([packer.next()])
        rows.append({"input_ids": x[0], "labels": y[0]})

    class Rows(torch.utils.data.Dataset):
        def __len__(self):
            return len(rows)

        def __getitem__(self, i):
            return rows[i]

    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05,
                                             target_modules="all-linear", task_type="CAUSAL_LM"))
    times = []

    from transformers import TrainerCallback

    class Clock(TrainerCallback):
        def on_step_begin(self, *a, **k):
            self.t = time.perf_counter()

        def on_step_end(self, *a, **k):
            times.append(time.perf_counter() - self.t)

    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(output_dir=tmp, per_device_train_batch_size=1, gradient_accumulation_steps=4,
                                 max_steps=steps, report_to=[], save_strategy="no", logging_strategy="no")
        Trainer(model=model, args=args, train_dataset=Rows(), callbacks=[Clock()]).train()
    per_step = statistics.median(times[1:] if len(times) > 1 else times)
    return {"tokens_per_s": 4 * seq / per_step, "steps": steps}


def finetune_report(ft: dict, base: dict, pick) -> list[str]:
    b, a = ft["before"], ft["after"]
    tr = ft["training"]
    g = {k: v for k, v in ft.get("gguf", {}).items() if isinstance(v, dict)}
    lines = ["### Fine-tuning Qwen2.5-Coder-0.5B on this repository (CPU, LoRA r=16 on every linear layer)", "",
             f"`commons train finetune --model {MODEL} --data <this repository, curated> --method lora "
             f"--max-steps {pick('ft_steps')} --seq-len {pick('ft_seq_len')} --micro-batch 1 --grad-accum 4 "
             f"--eval-lines {pick('eval_lines')} --gguf q4_k_m` ({ft['wall_s'] / 60:.1f} min in all). "
             f"{len(ft['heldout_files'])} held-out files (seed 0): {', '.join(ft['heldout_files'][:12])}"
             f"{' ...' if len(ft['heldout_files']) > 12 else ''}.", "",
             "| LoRA training, same model, data and batch | tokens/s |", "|---|---|",
             f"| ours (`commons train finetune`, {pick('ft_steps')} steps, median step) | {ft['step_tokens_per_s']:,.1f} |",
             f"| peft + transformers `Trainer`, default settings ({base['steps']} steps, median step) | {base['tokens_per_s']:,.1f} |",
             "", "| held-out figure | before | after |", "|---|---|---|",
             f"| loss (nats/token), fp32 | {b['heldout_loss']:.4f} | {a['heldout_loss']:.4f} |",
             f"| single-line FIM exact match, fp32 transformers ({b['n']} lines) | {b['exact_match']:.1%} "
             f"({b['hits']}) | {a['exact_match']:.1%} ({a['hits']}) |"]
    base_g = next((v for k, v in g.items() if k.startswith("base")), None)
    ft_g = next((v for k, v in g.items() if k.startswith("finetuned")), None)
    if base_g and ft_g:
        lines.append(f"| single-line FIM exact match, Q4_K_M GGUF on llama.cpp (the served files) | "
                     f"{base_g['exact_match']:.1%} ({base_g['hits']}) | {ft_g['exact_match']:.1%} ({ft_g['hits']}) |")
    return lines + ["", f"Trainable parameters: {tr['trainable_params']:,}; tokens seen: {tr['tokens']:,}; "
                    f"whole training loop {tr['tokens_per_s']:,.1f} tokens/s including the first step.", ""]


# -- GPU: 125m / 350m against plain transformers ---------------------------------------------
def gpu_report(data: Path, work: Path, tok: Path, steps: int) -> list[str]:
    import torch

    if not torch.cuda.is_available():
        return ["### Pretraining on a GPU", "", "Not measured: no GPU in this session.", ""]
    lines = ["### Pretraining on a GPU: tokens/s and MFU", "", f"Device: {torch.cuda.get_device_name()}; "
             f"seq 2048, micro-batch 16 (350m) / 32 (125m), {steps} steps, median of the second half.", "",
             "| config | implementation | tokens/s | MFU |", "|---|---|---|---|"]
    for size, mb in (("125m", 32), ("350m", 16)):
        for label, extra in (("plain transformers GPTBigCode, bf16 autocast", ["--impl", "transformers"]),
                             ("ours: compact, bf16 autocast, torch.compile", ["--compile"])):
            out = work / f"gpu-{size}-{extra[-1].strip('-')}"
            commons("train", "pretrain", str(data), "--tokenizer", str(tok), "--config", size, "--micro-batch",
                    str(mb), "--max-steps", str(steps), "--save-every", str(10 * steps), "--eval-every",
                    str(10 * steps), "--no-progress", "--out", str(out), *extra)
            rows = log_rows(out / "log.jsonl")[steps // 2:]
            lines.append(f"| {size} | {label} | {statistics.median(r['tokens_per_s'] for r in rows):,.0f} | "
                         f"{statistics.median(r['mfu'] or 0 for r in rows):.3f} |")
    return lines + [""]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="smallest settings (checks the script)")
    ap.add_argument("--gpu", action="store_true", help="also the GPU comparison (125m, 350m)")
    ap.add_argument("--gpu-steps", type=int, default=60)
    ap.add_argument("--data", type=Path, help="curated dataset (default: this repository, curated)")
    ap.add_argument("--work", type=Path, help="work folder (default: runs/bench-train)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "RESULTS.md")
    a = ap.parse_args()
    pick = lambda k: SETTINGS[k][1 if a.smoke else 0]  # noqa: E731
    t0 = time.time()
    work = a.work or ROOT / "runs" / ("bench-train-smoke" if a.smoke else "bench-train")
    work.mkdir(parents=True, exist_ok=True)
    data = a.data
    if data is None:
        data = work / "curated"
        if not (data / "stats.json").exists():
            commons("curate", *(str(ROOT / d) for d in ("src", "tests", "bench")), "--keep-no-license",
                    "--no-progress", "--out", str(data))
    import torch

    hw = machine_table(machine_info({"torch": torch.__version__, "threads": str(torch.get_num_threads()),
                                     "load average at start": f"{os.getloadavg()[0]:.2f}"}))
    body = ["## Training — `commons train`", "",
            f"Command: `python bench/train.py{' --smoke' if a.smoke else ''}{' --gpu' if a.gpu else ''}` "
            "(took {took})." + (" **Smoke settings: the script checked, not the figures to quote.**"
                                if a.smoke else ""), "", *hw, ""]
    body += pretrain_smoke(data, work, pick)
    ft = finetune(data, work, pick)
    body += finetune_report(ft, trainer_baseline(data, pick), pick)
    body += (gpu_report(data, work, work / "tok", a.gpu_steps) if a.gpu
             else ["### Pretraining on a GPU", "", "Not measured: no GPU in this session "
                   "(`python bench/train.py --gpu` on a GPU machine).", ""])
    text = "\n".join(body).replace("{took}", f"{(time.time() - t0) / 60:.1f} min")
    print(text)
    write_section(a.out, START, END, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
