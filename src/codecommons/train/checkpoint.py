"""Checkpoints that resume exactly and serve as they are.

OUT/checkpoints/step_000100/ is a transformers model folder (config.json,
model.safetensors, the tokenizer, README.md model card) plus trainer_state.pt:
optimizer, scheduler, step, tokens seen, and per process its data position and
RNG states. OUT/latest names the newest complete checkpoint; it is written last
(atomically), so a run killed while saving resumes from the previous one.

State dicts go through torch.distributed.checkpoint.state_dict, which gives full
(unsharded) tensors for plain, DDP and FSDP models alike.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import torch

from codecommons.train import dist as dist_mod

STATE_FILE = "trainer_state.pt"


def rng_state(device: str) -> dict:
    import numpy as np

    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if device.startswith("cuda"):
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict, device: str) -> None:
    import numpy as np

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and device.startswith("cuda"):
        torch.cuda.set_rng_state(state["cuda"], device)


def full_state(model, optimizer) -> tuple[dict, dict]:
    from torch.distributed.checkpoint.state_dict import (StateDictOptions, get_model_state_dict,
                                                         get_optimizer_state_dict)

    opts = StateDictOptions(full_state_dict=True, cpu_offload=True)
    return get_model_state_dict(model, options=opts), get_optimizer_state_dict(model, optimizer, options=opts)


def save(out: Path, step: int, d: dist_mod.Dist, model, optimizer, scheduler,
         data_state: list, extra: dict, write_folder, keep: int = 2) -> Path | None:
    """Every process calls this (gathers are collective); process 0 writes.
    `write_folder(folder, model_state_dict)` writes the transformers folder."""
    model_sd, optim_sd = full_state(model, optimizer)
    per_rank = dist_mod.gather(d, {"data": data_state, "rng": rng_state(d.device)})
    if not d.main:
        return None
    folder = out / "checkpoints" / f"step_{step:06d}"
    if folder.exists():
        shutil.rmtree(folder)
    write_folder(folder, model_sd)
    torch.save({"step": step, "optimizer": optim_sd, "scheduler": scheduler.state_dict(),
                "ranks": per_rank, **extra}, folder / STATE_FILE)
    tmp = out / "latest.tmp"
    tmp.write_text(folder.name + "\n")
    tmp.replace(out / "latest")
    _prune(out / "checkpoints", keep)
    return folder


def _prune(root: Path, keep: int) -> None:
    done = sorted(p for p in root.glob("step_*") if (p / STATE_FILE).exists())
    for p in done[:-keep] if keep > 0 else []:
        shutil.rmtree(p)


def latest(out: Path) -> Path | None:
    ptr = out / "latest"
    if not ptr.exists():
        return None
    folder = out / "checkpoints" / ptr.read_text().strip()
    assert (folder / STATE_FILE).exists(), f"{ptr} names {folder}, which has no {STATE_FILE}"
    return folder


def load(folder: Path, d: dist_mod.Dist, model, optimizer, scheduler) -> dict:
    """Restore model, optimizer, scheduler and this process's RNG; returns the
    state (step, tokens, this rank's data position under "data")."""
    from safetensors.torch import load_file
    from torch.distributed.checkpoint.state_dict import (StateDictOptions, set_model_state_dict,
                                                         set_optimizer_state_dict)

    state = torch.load(folder / STATE_FILE, map_location="cpu", weights_only=False)
    if len(state["ranks"]) != d.world_size:
        raise ValueError(f"{folder} was written by {len(state['ranks'])} processes; resume with "
                         f"the same number (this run has {d.world_size})")
    sd = load_file(str(folder / "model.safetensors"))
    opts = StateDictOptions(full_state_dict=True, strict=False)
    set_model_state_dict(model, sd, options=opts)
    set_optimizer_state_dict(model, optimizer, state["optimizer"], options=opts)
    scheduler.load_state_dict(state["scheduler"])
    mine = state["ranks"][d.rank]
    set_rng_state(mine["rng"], d.device)
    return {**state, "data": mine["data"]}
