"""`commons train finetune`: teach a code model a team's own repositories.

    # LoRA on the embedded 0.5B, data curated on the fly from a repository, GGUF out:
    commons train finetune --model qwen2.5-coder-0.5b --data ./my-repo --method lora \\
        --max-steps 200 --gguf q4_k_m --out runs/ft
    commons serve --model runs/ft/model-q4_k_m.gguf          # llama.cpp, CPU
    # a curated dataset, full fine-tuning of a model folder, on a GPU:
    commons train finetune --model runs/350m/checkpoints/step_010000 --data runs/stack \\
        --method full --micro-batch 8 --out runs/ft-full

Data: a `commons curate` dataset, or a folder / git repository, which is curated
first by running `commons curate` (licence, PII and secrets, dedup; a subprocess,
since stages talk through files) into OUT/curated. Files are split into train and
held-out by a seeded hash (train/data.py). The objective is the pretraining one:
packed contexts, half of the documents rearranged for FIM (tokenizer/fim.py, in
the model's own FIM format), the rest left to right.

Methods: LoRA with peft (Hu et al. 2021, arXiv:2106.09685; adapters on every linear
layer) saved as OUT/adapter and merged into OUT/model; or full fine-tuning into
OUT/model. Models: a registry name or .gguf (transformers dequantises the GGUF to
fp32), or a transformers folder.

Before and after training: held-out loss and single-line FIM exact match on the
held-out files (train/fim_eval.py), written to OUT/eval.json and the model card.
With --gguf, OUT/model is exported to GGUF (train/export_gguf.py) and the exported
file is scored again through the llama.cpp engine that serves it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from codecommons.config import add_arguments, field, from_args, git_commit
from codecommons.tokenizer.fim import FimConfig

METHODS = ("lora", "full")


@dataclass
class FinetuneConfig:
    model: str = field("", "registry name, .gguf file or transformers model folder")
    data: str = field("", "curated dataset folder, or a folder / git repository to curate")
    method: str = field("lora", "lora | full")
    out: str = field("", "output folder: model/, adapter/, eval.json, log.jsonl, *.gguf")
    max_steps: int = field(100, "optimizer steps")
    seq_len: int = field(512, "context length in tokens")
    micro_batch: int = field(1, "sequences per micro-step")
    grad_accum: int = field(4, "micro-steps per optimizer step")
    lr: float = field(0.0, "peak learning rate (0: 2e-4 for LoRA, 2e-5 for full)")
    warmup_steps: int = field(10, "linear warm-up steps, then cosine decay to 10%")
    weight_decay: float = field(0.0, "AdamW weight decay")
    grad_clip: float = field(1.0, "clip the gradient norm to this (0: off)")
    lora_r: int = field(16, "LoRA rank")
    lora_alpha: int = field(32, "LoRA alpha (scale alpha / r)")
    lora_dropout: float = field(0.05, "LoRA dropout")
    fim_rate: float = field(0.5, "share of documents rearranged for FIM; the rest left to right")
    # Serving prompts in PSM order, and Qwen2.5-Coder was trained on PSM only
    # (arXiv:2409.12186 §3.2): SPM examples would teach an order nobody asks for.
    fim_spm_rate: float = field(0.0, "share of FIM examples in SPM order")
    heldout_fraction: float = field(0.1, "share of files held out for evaluation")
    seed: int = field(0, "seed of the split, the FIM draws and the evaluated lines")
    eval_lines: int = field(40, "held-out lines in the FIM exact-match evaluation (0: skip)")
    eval_budget: int = field(384, "prompt tokens of each exact-match problem (prefix + suffix)")
    eval_max_tokens: int = field(32, "tokens generated per exact-match problem")
    eval_contexts: int = field(16, "held-out contexts in the loss")
    gguf: str = field("", "also export OUT/model-<kind>.gguf: f16 | q8_0 | q4_k_m")
    keep_no_license: bool = field(False, "curating a folder: keep files without a licence")
    device: str = field("", "cpu | cuda (default: cuda if available)")
    dtype: str = field("auto", "auto (bf16 on GPUs that have it) | bf16 | fp32")
    license: str = field("", "licence for the card (default: the base model's)")
    progress: bool = field(True, "progress bar")

    def __post_init__(self) -> None:
        from codecommons.train.export_gguf import QUANTS

        problems = [f"--{n} is required" for n in ("model", "data", "out") if not getattr(self, n)]
        if self.method not in METHODS:
            problems.append(f"--method must be one of {', '.join(METHODS)}")
        if self.gguf and self.gguf not in QUANTS:
            problems.append(f"--gguf must be one of {', '.join(QUANTS)}")
        if self.max_steps < 1:
            problems.append("--max-steps must be >= 1")
        if problems:
            raise ValueError("\n".join(problems))
        self.lr = self.lr or (2e-4 if self.method == "lora" else 2e-5)


def load_base(name: str):
    """(model, tokenizer, spec): transformers reads GGUFs (dequantised to fp32)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from codecommons.models.registry import resolve

    spec = resolve(name)
    p = Path(spec.path)
    if spec.format == "gguf":
        kw = {"gguf_file": p.name}
        where = str(p.parent)
    elif spec.format == "transformers":
        kw, where = {}, str(p)
    else:
        raise ValueError(f"{name}: cannot fine-tune a {spec.format} model; give a .gguf or a model folder")
    tok = AutoTokenizer.from_pretrained(where, **kw)
    model = AutoModelForCausalLM.from_pretrained(where, dtype=torch.float32, **kw)
    if spec.format == "gguf":
        model = _plain(model)
    return model, tok, spec


def _plain(model):
    """A GGUF-loaded model is fp32 already but still marked "quantized with gguf",
    which transformers refuses to save: the same weights in a plain model."""
    import torch
    from transformers import AutoModelForCausalLM

    cfg = model.config
    if hasattr(cfg, "quantization_config"):
        del cfg.quantization_config
    plain = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    missing, unexpected = plain.load_state_dict(model.state_dict(), strict=False)
    assert not unexpected and set(missing) <= {"lm_head.weight"}, (missing, unexpected)
    plain.tie_weights()
    plain.generation_config = model.generation_config
    return plain.eval()


def curated_dataset(cfg: FinetuneConfig) -> Path:
    """cfg.data if it is a curated dataset, else `commons curate` run on it."""
    src = Path(cfg.data)
    if list((src / "data").glob("*.parquet")):
        return src
    out = Path(cfg.out) / "curated"
    cmd = [sys.executable, "-m", "codecommons", "curate", cfg.data, "--out", str(out), "--no-progress"]
    if cfg.keep_no_license:
        cmd.append("--keep-no-license")
    if out.exists():
        cmd.append("--resume")
    print("curating:", " ".join(cmd[1:]))
    subprocess.run(cmd, check=True)
    return out


def heldout_files(files, cfg: FinetuneConfig) -> list[tuple[str, str]]:
    from codecommons.train import data

    return [(d.path, d.text) for _, d in data.iter_docs(files, "heldout", cfg.heldout_fraction, cfg.seed)]


def held_out_loss(model, batches, device: str) -> float | None:
    import torch
    import torch.nn.functional as F

    if not batches:
        return None
    model.eval()
    total = count = 0.0
    with torch.no_grad():
        for x, y in batches:
            logits = model(input_ids=x.to(device)).logits
            total += float(F.cross_entropy(logits.float().flatten(0, 1), y.to(device).flatten(),
                                           reduction="sum"))
            count += float((y != -100).sum())
    model.train()
    return total / max(count, 1)


def evaluate(model, codec, batches, problems_, cfg: FinetuneConfig, device: str) -> dict:
    from codecommons.train import fim_eval

    t0 = time.perf_counter()
    res = {"heldout_loss": held_out_loss(model, batches, device)}
    if problems_:
        model.eval()
        gen = fim_eval.torch_generator(model, codec, cfg.eval_budget, cfg.eval_max_tokens)
        res.update(fim_eval.score(problems_, gen))
        model.train()
    res["seconds"] = round(time.perf_counter() - t0, 1)
    return res


def apply_method(model, cfg: FinetuneConfig):
    if cfg.method == "full":
        return model
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as e:
        raise ImportError("LoRA needs peft: pip install 'codecommons[train]'") from e
    lcfg = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules="all-linear", task_type="CAUSAL_LM")
    return get_peft_model(model, lcfg)


def train_loop(model, train_data, cfg: FinetuneConfig, device: str, dtype, log_path: Path) -> dict:
    """The pretraining loop's skeleton, one process: returns tokens and time."""
    import torch
    import torch.nn.functional as F
    from tqdm import tqdm

    from codecommons.train import dist
    from codecommons.train.data import IGNORE
    from codecommons.train.pretrain import lr_at

    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, betas=(0.9, 0.95), weight_decay=cfg.weight_decay)
    sched_cfg = argparse.Namespace(warmup_steps=cfg.warmup_steps, min_lr_ratio=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_at(s, sched_cfg, cfg.max_steps))
    tokens = 0
    t_start = time.perf_counter()
    model.train()
    with log_path.open("w") as log:
        for step in tqdm(range(1, cfg.max_steps + 1), disable=not cfg.progress, unit="step"):
            t0 = time.perf_counter()
            loss_sum = 0.0
            for k in range(cfg.grad_accum):
                x, y = train_data.micro(k)
                with dist.autocast(device, dtype):
                    logits = model(input_ids=x.to(device)).logits
                    loss = F.cross_entropy(logits.float().flatten(0, 1), y.to(device).flatten(),
                                           ignore_index=IGNORE)
                (loss / cfg.grad_accum).backward()
                loss_sum += float(loss.detach())
            norm = torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip) if cfg.grad_clip else torch.zeros(())
            lr = opt.param_groups[0]["lr"]
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            n = cfg.micro_batch * cfg.seq_len * cfg.grad_accum
            tokens += n
            dt = time.perf_counter() - t0
            log.write(json.dumps({"step": step, "tokens": tokens, "loss": loss_sum / cfg.grad_accum,
                                  "lr": lr, "grad_norm": float(norm),
                                  "tokens_per_s": round(n / dt, 1)}) + "\n")
            log.flush()
    seconds = time.perf_counter() - t_start
    return {"tokens": tokens, "seconds": round(seconds, 1), "tokens_per_s": round(tokens / seconds, 1)}


def save(model, tok, cfg: FinetuneConfig, out: Path):
    """LoRA: OUT/adapter, then the merged weights; full: the weights. -> OUT/model."""
    if cfg.method == "lora":
        model.save_pretrained(str(out / "adapter"))
        model = model.merge_and_unload()
    model.save_pretrained(str(out / "model"), safe_serialization=True)
    tok.save_pretrained(str(out / "model"))
    return model


def export_and_score(cfg: FinetuneConfig, out: Path, spec, problems_) -> dict:
    """Export OUT/model to GGUF, quantise, and score base and export through llama.cpp."""
    from codecommons.engines.base import load_engine
    from codecommons.models.registry import resolve
    from codecommons.train import export_gguf, fim_eval

    name = f"{spec.id.removesuffix('.gguf')}-finetuned"
    f16 = export_gguf.export(out / "model", out / "model-f16.gguf", name=name, license=_license(cfg, spec))
    final = f16 if cfg.gguf == "f16" else export_gguf.quantize(f16, out / f"model-{cfg.gguf}.gguf", cfg.gguf)
    if final != f16:
        f16.unlink()
    res = {"gguf": str(final)}
    if problems_:
        bases = [("base", spec.path)] if spec.format == "gguf" else []
        for label, path in bases + [("finetuned", str(final))]:
            engine = load_engine(resolve(path))
            try:
                gen = fim_eval.engine_generator(engine, cfg.eval_budget, cfg.eval_max_tokens)
                res[f"{label} ({Path(path).name}, llama.cpp)"] = fim_eval.score(problems_, gen)
            finally:
                engine.close()
    return res


def _license(cfg: FinetuneConfig, spec) -> str:
    return cfg.license or (spec.license if spec.license != "unknown" else "other")


def main(argv: list[str] | None = None) -> int:
    import torch

    from codecommons.train import card, data, dist, fim_eval

    parser = argparse.ArgumentParser(prog="commons train finetune", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser, FinetuneConfig)
    cfg = from_args(FinetuneConfig, parser.parse_args(argv))
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    device = cfg.device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = dist.choose_dtype(cfg.dtype, device)
    torch.manual_seed(cfg.seed)

    # -- data and model ----------------------------------------------------------
    dataset = curated_dataset(cfg)
    files = data.shard_files(dataset)
    model, tok, spec = load_base(cfg.model)
    model.to(device)
    codec = data.Codec(tok, spec.family)
    stream = data.StreamConfig(seq_len=cfg.seq_len, fim=FimConfig(cfg.fim_rate, cfg.fim_spm_rate),
                               heldout_fraction=cfg.heldout_fraction, seed=cfg.seed)
    train_data = data.RankData(files, codec, stream, cfg.micro_batch, cfg.grad_accum)
    batches = data.heldout_batches(files, codec, stream, cfg.eval_contexts, cfg.micro_batch)
    held = heldout_files(files, cfg)
    if not held:
        raise ValueError(f"{dataset}: no held-out files at --heldout-fraction {cfg.heldout_fraction}; raise it")
    problems_ = fim_eval.problems(held, cfg.eval_lines, cfg.seed) if codec.template else []
    print(f"{spec.id}: {sum(p.numel() for p in model.parameters()) / 1e6:.0f}M parameters on {device}; "
          f"{len(held)} held-out files, {len(problems_)} exact-match lines")

    # -- before, train, after ----------------------------------------------------
    before = evaluate(model, codec, batches, problems_, cfg, device)
    print("before:", before)
    model = apply_method(model, cfg)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    run = train_loop(model, train_data, cfg, device, dtype, out / "log.jsonl")
    after = evaluate(model, codec, batches, problems_, cfg, device)
    print("after:", after, f"({run['tokens_per_s']} tokens/s)")
    model = save(model, tok, cfg, out)
    results = {"before": before, "after": after, "training": {**run, "trainable_params": trainable},
               "heldout_files": [p for p, _ in held], "config": asdict(cfg), "git_commit": git_commit()}
    if cfg.gguf:
        del model
        results["gguf"] = export_and_score(cfg, out, spec, problems_)
        print("gguf:", results["gguf"])
    (out / "eval.json").write_text(json.dumps(results, indent=2) + "\n")

    figures = {"held-out loss before": _r(before["heldout_loss"]), "held-out loss after": _r(after["heldout_loss"])}
    if problems_:
        figures[f"FIM exact match before ({before['n']} held-out lines)"] = _r(before["exact_match"])
        figures[f"FIM exact match after ({after['n']} held-out lines)"] = _r(after["exact_match"])
    for k, v in results.get("gguf", {}).items():
        if isinstance(v, dict):
            figures[f"FIM exact match, {k}"] = _r(v["exact_match"])
    card.write(out / "model", title=f"{spec.id} fine-tuned ({cfg.method})",
               summary=f"`{spec.id}` fine-tuned with {cfg.method} on `{cfg.data}` by `commons train finetune` "
                       f"(FIM rate {cfg.fim_rate}, SPM share {cfg.fim_spm_rate}, the rest left to right).",
               license=_license(cfg, spec), data=card.dataset_summary(dataset),
               tokenizer=f"The base model's ({len(tok):,} tokens, FIM format `{codec.template.name if codec.template else 'none'}`).",
               config={**asdict(cfg), "git_commit": git_commit()},
               training={"steps": cfg.max_steps, "tokens seen": f"{run['tokens']:,}",
                         "trainable parameters": f"{trainable:,}", "hardware": card.hardware(device),
                         "time (s)": run["seconds"], "tokens/s": run["tokens_per_s"]},
               evaluation=figures, base_model=spec.id)
    print(f"done: {out / 'model'}" + (f", {results['gguf']['gguf']}" if cfg.gguf else ""))
    return 0


def _r(x):
    return None if x is None else round(x, 4)
