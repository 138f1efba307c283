"""Processes, devices and precision for training: one process, or many under
torchrun / accelerate (DDP; FSDP for models that do not fit one device).

torchrun sets RANK, WORLD_SIZE, LOCAL_RANK and MASTER_ADDR/PORT; we read them and
join the process group: NCCL on GPUs, gloo on CPU (the 2-process CPU test).
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from dataclasses import dataclass

import torch
import torch.distributed as torch_dist

# Dense bf16 tensor-core peaks (vendor data sheets, without sparsity), for MFU.
PEAK_BF16_FLOPS = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12,
                   "L4": 121e12, "A10G": 70e12, "RTX 4090": 165e12}


@dataclass
class Dist:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: str = "cpu"

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def on(self) -> bool:
        return self.world_size > 1


def setup(device: str = "") -> Dist:
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    local = int(os.environ.get("LOCAL_RANK", 0))
    if not device:
        device = f"cuda:{local}" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        torch.cuda.set_device(device)
    if world > 1 and not torch_dist.is_initialized():
        torch_dist.init_process_group("nccl" if device.startswith("cuda") else "gloo",
                                      rank=rank, world_size=world)
    return Dist(rank, world, local, device)


def cleanup(d: Dist) -> None:
    if d.on and torch_dist.is_initialized():
        torch_dist.destroy_process_group()


def mean(d: Dist, value: torch.Tensor) -> float:
    """The mean of a scalar over processes."""
    if d.on:
        value = value.detach().clone()
        torch_dist.all_reduce(value, op=torch_dist.ReduceOp.SUM)
        value /= d.world_size
    return float(value)


def gather(d: Dist, obj) -> list:
    """Every process's `obj`, in rank order, on every process."""
    if not d.on:
        return [obj]
    out = [None] * d.world_size
    torch_dist.all_gather_object(out, obj)
    return out


def choose_dtype(name: str, device: str) -> torch.dtype:
    """auto: bf16 where the GPU has it (same range as fp32, no loss scaling),
    else fp32 (CPU bf16 matmuls are slower than fp32 without AMX)."""
    if name == "auto":
        ok = device.startswith("cuda") and torch.cuda.is_bf16_supported()
        return torch.bfloat16 if ok else torch.float32
    return {"bf16": torch.bfloat16, "fp32": torch.float32}[name]


def autocast(device: str, dtype: torch.dtype):
    """Mixed precision: fp32 master weights, bf16 matmuls."""
    if dtype == torch.float32:
        return nullcontext()
    return torch.autocast(device_type=device.split(":")[0], dtype=dtype)


def peak_flops(device: str, dtype: torch.dtype, override_tflops: float = 0.0) -> float | None:
    """Peak FLOP/s of one device for MFU; None where unknown (CPUs)."""
    if override_tflops:
        return override_tflops * 1e12
    if not device.startswith("cuda") or dtype != torch.bfloat16:
        return None
    name = torch.cuda.get_device_name(device)
    return next((v for k, v in PEAK_BF16_FLOPS.items() if k in name), None)


def wrap(model: torch.nn.Module, d: Dist, fsdp: bool, block_type: type | None = None):
    """DDP, or FSDP2 (`fully_shard`, one unit per transformer block, then the root)."""
    if not d.on and not fsdp:
        return model
    if fsdp:
        from torch.distributed.fsdp import fully_shard

        for m in model.modules():
            if block_type is not None and isinstance(m, block_type):
                fully_shard(m)
        return fully_shard(model)
    from torch.nn.parallel import DistributedDataParallel as DDP

    return DDP(model, device_ids=[d.local_rank] if d.device.startswith("cuda") else None)


def no_sync(model, last_micro_step: bool):
    """Skip the gradient all-reduce on all but the last micro-step (DDP)."""
    if last_micro_step or not hasattr(model, "no_sync"):
        return nullcontext()
    return model.no_sync()
