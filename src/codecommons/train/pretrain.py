"""`commons train pretrain`: a StarCoder-architecture model trained with FIM on a
curated dataset.

    # CPU smoke run (minutes):
    commons train pretrain runs/stack --tokenizer runs/tok --config tiny --max-steps 200 --out runs/tiny
    # after a kill: the same losses as an uninterrupted run
    commons train pretrain runs/stack --tokenizer runs/tok --config tiny --max-steps 200 --out runs/tiny --resume
    # 1 GPU (bf16, compiled):
    commons train pretrain runs/stack --tokenizer runs/tok --config 350m --micro-batch 16 \\
        --grad-accum 8 --max-tokens 2000000000 --compile --out runs/350m
    # N GPUs on one node (DDP), or several nodes (run on each, same --master-addr):
    torchrun --nproc-per-node 8 -m codecommons train pretrain ... --out runs/350m
    torchrun --nnodes 4 --node-rank $R --nproc-per-node 8 --master-addr HOST --master-port 29500 \\
        -m codecommons train pretrain ... --fsdp --config 1b --out runs/1b
    # accelerate (it sets the same variables): accelerate launch -m codecommons train pretrain ...

The loop (nanoGPT's `train.py` shape): packed FIM contexts from train/data.py,
AdamW with linear warm-up then cosine decay to min_lr, gradient accumulation,
clipping, a held-out validation loss, checkpoints that resume exactly
(train/checkpoint.py), OUT/log.jsonl and OUT/loss.png, and a model card.
Settings default to StarCoder's (arXiv:2305.06161 §5.2: AdamW beta 0.9/0.95, eps
1e-8, weight decay 0.1, lr 3e-4 with cosine decay to 10%, FIM 0.5, SPM 0.5).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from codecommons.config import add_arguments, field, from_args, git_commit
from codecommons.tokenizer.fim import FimConfig

ARCHS = ("gpt_bigcode", "starcoder2")
IMPLS = ("compact", "transformers")


@dataclass
class PretrainConfig:
    dataset: str = field("", "curated dataset folder (DIR/data/*.parquet)")
    tokenizer: str = field("", "tokenizer folder (`commons train tokenizer --out`)")
    config: str = field("tiny", "model size: tiny | 125m | 350m | 1b")
    out: str = field("", "output folder: checkpoints/, log.jsonl, loss.png, latest")
    arch: str = field("gpt_bigcode", "gpt_bigcode (StarCoder, multi-query) | starcoder2 (GQA, RoPE)")
    impl: str = field("compact", "compact (train/model.py, fused, compilable) | transformers")
    seq_len: int = field(0, "context length in tokens (0: 256 for tiny, else 2048)")
    micro_batch: int = field(8, "sequences per micro-step per process")
    grad_accum: int = field(1, "micro-steps per optimizer step")
    max_steps: int = field(0, "stop after this many optimizer steps (0: no limit)")
    max_tokens: int = field(0, "stop after this many tokens, all processes (0: no limit)")
    lr: float = field(3e-4, "peak learning rate")
    min_lr_ratio: float = field(0.1, "cosine decay ends at lr * this")
    warmup_steps: int = field(100, "linear warm-up steps")
    weight_decay: float = field(0.1, "AdamW weight decay (2-D weights only)")
    beta1: float = field(0.9, "AdamW beta1")
    beta2: float = field(0.95, "AdamW beta2")
    grad_clip: float = field(1.0, "clip the global gradient norm to this (0: off)")
    dropout: float = field(0.0, "dropout")
    fim_rate: float = field(0.5, "share of documents rearranged for fill-in-the-middle")
    fim_spm_rate: float = field(0.5, "share of FIM examples in SPM order")
    metadata_rate: float = field(0.0, "share of documents with <repo_name>/<file_sep> metadata")
    heldout_fraction: float = field(0.05, "share of files held out for the validation loss")
    eval_every: int = field(100, "validation loss every N steps (and at the end)")
    eval_contexts: int = field(64, "held-out contexts in the validation loss")
    save_every: int = field(500, "checkpoint every N steps (and at the end)")
    keep: int = field(2, "checkpoints kept")
    resume: bool = field(False, "continue from OUT/latest")
    seed: int = field(0, "seed of initialisation, data split and FIM")
    dtype: str = field("auto", "auto (bf16 where the GPU has it) | bf16 | fp32")
    compile: bool = field(False, "torch.compile the model")
    fsdp: bool = field(False, "shard parameters, gradients and optimizer state (FSDP2)")
    device: str = field("", "cpu | cuda[:N] (default: this process's GPU, else cpu)")
    peak_tflops: float = field(0.0, "peak TFLOP/s of one device for MFU (0: known GPUs only)")
    license: str = field("other", "licence written into the model card")
    progress: bool = field(True, "progress bar")

    def __post_init__(self) -> None:
        from codecommons.train.model import SIZES

        problems = []
        for name in ("dataset", "tokenizer", "out"):
            if not getattr(self, name):
                problems.append(f"--{name} is required" if name != "dataset" else "DATASET is required")
        if self.config not in SIZES:
            problems.append(f"--config must be one of {', '.join(SIZES)}")
        if self.arch not in ARCHS:
            problems.append(f"--arch must be one of {', '.join(ARCHS)}")
        if self.impl not in IMPLS:
            problems.append(f"--impl must be one of {', '.join(IMPLS)}")
        if self.arch == "starcoder2" and self.impl == "compact":
            problems.append("--arch starcoder2 needs --impl transformers (the compact model is GPTBigCode)")
        if self.max_steps <= 0 and self.max_tokens <= 0:
            problems.append("give --max-steps N or --max-tokens N")
        if self.dtype not in ("auto", "bf16", "fp32"):
            problems.append("--dtype must be auto, bf16 or fp32")
        if min(self.micro_batch, self.grad_accum) < 1:
            problems.append("--micro-batch and --grad-accum must be >= 1")
        if problems:
            raise ValueError("\n".join(problems))
        self.seq_len = self.seq_len or (256 if self.config == "tiny" else 2048)


def build_model(cfg: PretrainConfig, vocab_size: int, eot: int):
    """(model, forward(model, idx) -> logits, family for FIM/serving, block class)."""
    import torch

    from codecommons.train.model import SIZES, Block, GPTBigCode, GPTConfig

    size = SIZES[cfg.config]
    torch.manual_seed(cfg.seed)
    if cfg.arch == "gpt_bigcode":
        gcfg = GPTConfig(vocab_size=vocab_size, n_positions=cfg.seq_len, dropout=cfg.dropout,
                         bos_token_id=eot, eos_token_id=eot, **size)
        model = GPTBigCode(gcfg)
        if cfg.impl == "compact":
            return model, lambda m, x: m(x), "starcoder", Block
        from transformers import GPTBigCodeConfig, GPTBigCodeForCausalLM

        hf = GPTBigCodeForCausalLM(GPTBigCodeConfig(**model.hf_config()))
        return hf, _hf_forward, "starcoder", type(hf.transformer.h[0])
    from transformers import Starcoder2Config, Starcoder2ForCausalLM

    d = size["n_embd"]
    hf = Starcoder2ForCausalLM(Starcoder2Config(
        vocab_size=vocab_size, hidden_size=d, intermediate_size=4 * d,
        num_hidden_layers=size["n_layer"], num_attention_heads=size["n_head"],
        num_key_value_heads=max(1, size["n_head"] // 4),  # grouped-query, as StarCoder2
        max_position_embeddings=cfg.seq_len, sliding_window=None, use_bias=True,
        residual_dropout=cfg.dropout, embedding_dropout=cfg.dropout, attention_dropout=cfg.dropout,
        bos_token_id=eot, eos_token_id=eot, tie_word_embeddings=True))
    return hf, _hf_forward, "starcoder2", type(hf.model.layers[0])


def _hf_forward(model, x):
    return model(input_ids=x, use_cache=False).logits


def num_params(model) -> int:
    """Parameters for FLOP counting: without learned position embeddings."""
    n = sum(p.numel() for p in model.parameters())
    wpe = [m for name, m in model.named_modules() if name.endswith("wpe")]
    return n - sum(m.weight.numel() for m in wpe)


def flops_per_token(n_params: int, n_layer: int, n_embd: int, seq_len: int) -> float:
    """Training FLOPs per token: 6N for the weights plus 12 L d T for attention
    scores (PaLM, arXiv:2204.02311, appendix B; nanoGPT's estimate_mfu)."""
    return 6 * n_params + 12 * n_layer * n_embd * seq_len


def lr_at(step: int, cfg: PretrainConfig, total_steps: int) -> float:
    """Multiplier of cfg.lr: linear warm-up, then cosine to min_lr_ratio."""
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    span = max(total_steps - cfg.warmup_steps, 1)
    progress = min((step - cfg.warmup_steps) / span, 1.0)
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def make_optimizer(model, cfg: PretrainConfig, device: str):
    import torch

    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    other = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": other, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=1e-8,
                             fused=device.startswith("cuda"))


def evaluate(model, forward, batches, d, device: str, dtype) -> float | None:
    """Mean held-out loss; process r evaluates batches r, r + world, ..."""
    import torch
    import torch.nn.functional as F

    from codecommons.train import dist

    if not batches:
        return None
    model.eval()
    total, count = torch.zeros((), dtype=torch.float64), torch.zeros((), dtype=torch.float64)
    with torch.no_grad(), dist.autocast(device, dtype):
        for x, y in batches[d.rank::d.world_size]:
            x, y = x.to(device), y.to(device)
            logits = forward(model, x)
            total += F.cross_entropy(logits.float().flatten(0, 1), y.flatten(), reduction="sum").double().cpu()
            count += (y != -100).sum().double().cpu()
    model.train()
    if d.on:
        import torch.distributed as td

        td.all_reduce(total)
        td.all_reduce(count)
    return float(total / count.clamp(min=1))


def plot(log_path: Path, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot([r["tokens"] for r in rows], [r["loss"] for r in rows], label="train", lw=1)
    val = [r for r in rows if r.get("val_loss") is not None]
    if val:
        ax.plot([r["tokens"] for r in val], [r["val_loss"] for r in val], "o-", label="held-out")
    ax.set_xlabel("tokens")
    ax.set_ylabel("loss (nats/token)")
    ax.set_title(log_path.parent.name)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)


def _truncate_log(path: Path, step: int) -> None:
    """After a resume, forget what the killed run logged past its checkpoint."""
    if not path.exists():
        return
    text = path.read_text()
    lines = text.splitlines()
    if lines and not text.endswith("\n"):
        lines.pop()  # the kill interrupted this line's write
    keep = [line for line in lines if line and json.loads(line)["step"] <= step]
    path.write_text("".join(line + "\n" for line in keep))


def main(argv: list[str] | None = None) -> int:
    import torch
    import torch.nn.functional as F
    from tqdm import tqdm
    from transformers import AutoTokenizer

    from codecommons.train import card, checkpoint, data, dist

    parser = argparse.ArgumentParser(prog="commons train pretrain", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", metavar="DATASET", help="a `commons curate --out` folder")
    add_arguments(parser, PretrainConfig, skip=("dataset",))
    cfg = from_args(PretrainConfig, parser.parse_args(argv))

    # -- setup -----------------------------------------------------------------
    d = dist.setup(cfg.device)
    device, out = d.device, Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    dtype = dist.choose_dtype(cfg.dtype, device)
    tok = AutoTokenizer.from_pretrained(cfg.tokenizer)
    files = data.shard_files(cfg.dataset)
    model, forward, family, block_type = build_model(cfg, len(tok), 0)
    codec = data.Codec(tok, family)
    model.config.bos_token_id = model.config.eos_token_id = codec.eot
    model.to(device)
    stream = data.StreamConfig(seq_len=cfg.seq_len, fim=FimConfig(cfg.fim_rate, cfg.fim_spm_rate),
                               metadata_rate=cfg.metadata_rate, heldout_fraction=cfg.heldout_fraction,
                               seed=cfg.seed)
    train_data = data.RankData(files, codec, stream, cfg.micro_batch, cfg.grad_accum, d.rank, d.world_size)
    val_batches = data.heldout_batches(files, codec, stream, cfg.eval_contexts, cfg.micro_batch)
    tokens_per_step = cfg.micro_batch * cfg.seq_len * cfg.grad_accum * d.world_size
    total_steps = cfg.max_steps or math.ceil(cfg.max_tokens / tokens_per_step)
    if cfg.max_tokens:
        total_steps = min(total_steps, math.ceil(cfg.max_tokens / tokens_per_step))
    size = model.config
    n_layer = getattr(size, "n_layer", None) or size.num_hidden_layers
    n_embd = getattr(size, "n_embd", None) or size.hidden_size
    n_params = num_params(model)
    fpt = flops_per_token(n_params, n_layer, n_embd, cfg.seq_len)
    peak = dist.peak_flops(device, dtype, cfg.peak_tflops)

    # FSDP replaces parameters with sharded ones: wrap first, then the optimizer.
    wrapped = dist.wrap(model, d, cfg.fsdp, block_type)
    optimizer = make_optimizer(wrapped, cfg, device)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_at(s, cfg, total_steps))
    step, tokens, elapsed = 0, 0, 0.0
    log_path = out / "log.jsonl"
    ckpt = checkpoint.latest(out)
    if ckpt is not None and not cfg.resume:
        raise ValueError(f"{out} already holds checkpoints ({ckpt.name}): pass --resume to continue "
                         "that run, or another --out")
    if ckpt is not None:
        state = checkpoint.load(ckpt, d, wrapped, optimizer, scheduler)
        step, tokens, elapsed = state["step"], state["tokens"], state.get("elapsed_s", 0.0)
        train_data.load_state_dict(state["data"])
        if d.main:
            _truncate_log(log_path, step)
            print(f"resumed from {ckpt} (step {step}, {tokens:,} tokens)")
    elif d.main and log_path.exists():
        log_path.unlink()  # a run killed before its first checkpoint starts over
    runner = torch.compile(wrapped) if cfg.compile else wrapped  # checkpoints use `wrapped`
    if d.main:
        print(f"{cfg.arch} {cfg.config} ({cfg.impl}): {n_params / 1e6:.1f}M parameters, {d.world_size} "
              f"process(es) on {device}, {dtype}, {tokens_per_step:,} tokens/step, {total_steps} steps")

    def write_folder(folder: Path, sd: dict, val_loss=None) -> None:
        model.save_pretrained(folder, state_dict=sd)
        tok.save_pretrained(str(folder))
        card.write(folder, title=f"codecommons {cfg.arch} {cfg.config}",
                   summary=f"A {n_params / 1e6:.1f}M-parameter {cfg.arch} model pretrained from scratch "
                           f"with fill-in-the-middle by `commons train pretrain`.",
                   license=cfg.license, data=dataset_info, tokenizer=_tokenizer_text(cfg.tokenizer, tok),
                   config={**asdict(cfg), "git_commit": git_commit()},
                   training={"steps": step, "tokens seen": f"{tokens:,}", "processes": d.world_size,
                             "hardware": card.hardware(device), "precision": str(dtype),
                             "time (s)": round(elapsed, 1)},
                   evaluation={"held-out loss (nats/token)": round(val_loss, 4)} if val_loss else None)

    dataset_info = card.dataset_summary(cfg.dataset) if d.main else {}
    model.train()
    bar = tqdm(total=total_steps, initial=step, disable=not (cfg.progress and d.main), unit="step")
    last_val = None
    while step < total_steps:
        t0 = time.perf_counter()
        loss_sum = torch.zeros((), device=device)
        for k in range(cfg.grad_accum):
            x, y = train_data.micro(k)
            x, y = x.to(device), y.to(device)
            with dist.no_sync(wrapped, k == cfg.grad_accum - 1), dist.autocast(device, dtype):
                logits = forward(runner, x)  # (B, T, V)
                loss = F.cross_entropy(logits.float().flatten(0, 1), y.flatten(), ignore_index=data.IGNORE)
                (loss / cfg.grad_accum).backward()
            loss_sum += loss.detach()
        grad_norm = (torch.nn.utils.clip_grad_norm_(wrapped.parameters(), cfg.grad_clip)
                     if cfg.grad_clip > 0 else torch.zeros(()))
        lr = optimizer.param_groups[0]["lr"]
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        tokens += tokens_per_step
        loss_value = dist.mean(d, loss_sum / cfg.grad_accum)
        dt = time.perf_counter() - t0
        elapsed += dt
        tps = tokens_per_step / dt
        mfu = fpt * tps / (d.world_size * peak) if peak else None
        row = {"step": step, "tokens": tokens, "loss": loss_value, "lr": lr,
               "grad_norm": float(grad_norm), "tokens_per_s": round(tps, 1),
               "mfu": round(mfu, 4) if mfu is not None else None, "elapsed_s": round(elapsed, 3)}
        if step % cfg.eval_every == 0 or step == total_steps:
            row["val_loss"] = last_val = evaluate(runner, forward, val_batches, d, device, dtype)
        if d.main:
            with log_path.open("a") as f:
                f.write(json.dumps(row) + "\n")
            bar.update(1)
            bar.set_postfix(loss=f"{loss_value:.3f}", tok_s=f"{tps:,.0f}",
                            mfu=f"{mfu:.2f}" if mfu is not None else "n/a")
        if step % cfg.save_every == 0 or step == total_steps:
            folder = checkpoint.save(out, step, d, wrapped, optimizer, scheduler,
                                     train_data.state_dict(), {"tokens": tokens, "elapsed_s": elapsed},
                                     lambda f, sd: write_folder(f, sd, last_val), cfg.keep)
            if d.main:
                plot(log_path, out / "loss.png")
    bar.close()
    if d.main:
        print(f"done: {step} steps, {tokens:,} tokens in {elapsed:.1f}s; held-out loss "
              f"{last_val if last_val is None else round(last_val, 4)}; model: {checkpoint.latest(out)}")
    dist.cleanup(d)
    return 0


def _tokenizer_text(path: str, tok) -> str:
    report = Path(path) / "tokenizer_report.json"
    bpt = json.loads(report.read_text()).get("bytes_per_token", {}) if report.exists() else {}
    return (f"`{path}`: {len(tok):,} tokens" +
            (f"; bytes per held-out token: {bpt}" if bpt else ""))
