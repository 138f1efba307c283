"""The StarCoder architecture, GPTBigCode, in one file: the training fast path.

GPTBigCode (SantaCoder, arXiv:2301.03988; StarCoder, arXiv:2305.06161) is GPT-2 with
multi-query attention (Shazeer 2019, arXiv:1911.02150): every head has its own
query, all heads share one key and one value head. Learned absolute positions,
pre-LayerNorm blocks, GELU (tanh) MLP of 4x width, input and output embeddings tied.

Written nanoGPT-style (karpathy/nanoGPT `model.py`) for speed: one fused QKV
projection, `scaled_dot_product_attention` (FlashAttention / memory-efficient
kernels on GPU, GQA broadcasting of the single KV head), no KV cache, and it
compiles with `torch.compile`. Parameter names and shapes are transformers'
`GPTBigCodeForCausalLM`'s, so `save_pretrained` writes a folder that
`AutoModelForCausalLM.from_pretrained` loads and `commons serve --model DIR` serves,
with the same logits (tests/train/test_model.py).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
from torch.nn import functional as F


@dataclass
class GPTConfig:
    vocab_size: int
    n_positions: int = 2048  # context length (learned position embeddings)
    n_embd: int = 768
    n_layer: int = 12
    n_head: int = 12
    n_inner: int | None = None  # MLP width; None = 4 * n_embd
    layer_norm_epsilon: float = 1e-5
    initializer_range: float = 0.02
    dropout: float = 0.0
    bos_token_id: int = 0
    eos_token_id: int = 0

    def __post_init__(self) -> None:
        assert self.n_embd % self.n_head == 0, f"n_embd ({self.n_embd}) must be a multiple of n_head ({self.n_head})"
        self.n_inner = self.n_inner or 4 * self.n_embd


# Sizes: tiny for CPU smoke runs; 125m and 350m have GPT-2 small's and medium's
# shapes (multi-query attention makes them 110M and 307M with a 49,152 vocabulary);
# 1b is StarCoderBase-1b's (24 x 2048, 16 heads).
SIZES: dict[str, dict] = {
    "tiny": dict(n_embd=128, n_layer=2, n_head=4),
    "125m": dict(n_embd=768, n_layer=12, n_head=12),
    "350m": dict(n_embd=1024, n_layer=24, n_head=16),
    "1b": dict(n_embd=2048, n_layer=24, n_head=16),
}


class MultiQueryAttention(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.n_head, self.head_dim = cfg.n_head, cfg.n_embd // cfg.n_head
        # Fused projection: n_embd query features, then one key head and one value head.
        self.c_attn = nn.Linear(cfg.n_embd, cfg.n_embd + 2 * self.head_dim)
        self.c_proj = nn.Linear(cfg.n_embd, cfg.n_embd)
        self.dropout = cfg.dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split((C, self.head_dim, self.head_dim), dim=2)
        q = q.view(B, T, self.n_head, self.head_dim).transpose(1, 2)  # (B, nh, T, hs)
        k = k.unsqueeze(1)  # (B, 1, T, hs): shared by all heads
        v = v.unsqueeze(1)  # (B, 1, T, hs)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True,
                                           dropout_p=self.dropout if self.training else 0.0)
        y = y.transpose(1, 2).reshape(B, T, C)  # (B, T, nh * hs)
        return self.c_proj(y)


class MLP(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(cfg.n_embd, cfg.n_inner)
        self.c_proj = nn.Linear(cfg.n_inner, cfg.n_embd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))  # "gelu_pytorch_tanh"


class Block(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.n_embd, eps=cfg.layer_norm_epsilon)
        self.attn = MultiQueryAttention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.n_embd, eps=cfg.layer_norm_epsilon)
        self.mlp = MLP(cfg)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.attn(self.ln_1(x)))
        return x + self.drop(self.mlp(self.ln_2(x)))


class GPTBigCode(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.config = cfg
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(cfg.vocab_size, cfg.n_embd),
            wpe=nn.Embedding(cfg.n_positions, cfg.n_embd),
            drop=nn.Dropout(cfg.dropout),
            h=nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer)),
            ln_f=nn.LayerNorm(cfg.n_embd, eps=cfg.layer_norm_epsilon),
        ))
        self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # tied, as GPTBigCode
        self.apply(self._init_weights)
        # GPT-2's scaled init of the residual projections: std / sqrt(2 * n_layer).
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=cfg.initializer_range / math.sqrt(2 * cfg.n_layer))

    def _init_weights(self, m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, mean=0.0, std=self.config.initializer_range)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """idx (B, T) token ids -> logits (B, T, V)."""
        B, T = idx.shape
        assert T <= self.config.n_positions, f"sequence of {T} > n_positions {self.config.n_positions}"
        pos = torch.arange(T, device=idx.device)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))  # (B, T, C)
        for block in self.transformer.h:
            x = block(x)
        return self.lm_head(self.transformer.ln_f(x))  # (B, T, V)

    def num_params(self, non_embedding: bool = True) -> int:
        """Parameters, without the position embeddings by default (nanoGPT's count
        for FLOPs; the tied token embedding counts once, as the output layer)."""
        n = sum(p.numel() for p in self.parameters())
        return n - self.transformer.wpe.weight.numel() if non_embedding else n

    # -- transformers format ------------------------------------------------
    def hf_config(self) -> dict:
        c = self.config
        return {
            "architectures": ["GPTBigCodeForCausalLM"], "model_type": "gpt_bigcode",
            "vocab_size": c.vocab_size, "n_positions": c.n_positions, "n_embd": c.n_embd,
            "n_layer": c.n_layer, "n_head": c.n_head, "n_inner": c.n_inner,
            "activation_function": "gelu_pytorch_tanh", "layer_norm_epsilon": c.layer_norm_epsilon,
            "initializer_range": c.initializer_range, "multi_query": True,
            "attn_pdrop": c.dropout, "embd_pdrop": c.dropout, "resid_pdrop": c.dropout,
            "scale_attn_weights": True, "attention_softmax_in_fp32": True,
            "scale_attention_softmax_in_fp32": True, "tie_word_embeddings": True,
            "bos_token_id": c.bos_token_id, "eos_token_id": c.eos_token_id, "use_cache": True,
            "dtype": "float32",
        }

    def save_pretrained(self, folder: str | Path, state_dict: dict | None = None) -> None:
        """config.json + model.safetensors in transformers' GPTBigCode layout.
        `state_dict`: a full (gathered) one, when the model is sharded (FSDP)."""
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        sd = state_dict if state_dict is not None else self.state_dict()
        # lm_head is tied to wte: stored once, as transformers does.
        tensors = {k: v.detach().to("cpu", torch.float32).contiguous()
                   for k, v in sd.items() if k != "lm_head.weight"}
        save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
        (folder / "config.json").write_text(json.dumps(self.hf_config(), indent=2) + "\n")
        (folder / "generation_config.json").write_text(json.dumps({
            "bos_token_id": self.config.bos_token_id, "eos_token_id": self.config.eos_token_id,
            "do_sample": False}, indent=2) + "\n")

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> "GPTBigCode":
        """Load a GPTBigCode folder (ours, or any multi-query GPTBigCode checkpoint)."""
        from safetensors.torch import load_file

        hf = json.loads((Path(folder) / "config.json").read_text())
        if hf.get("model_type") != "gpt_bigcode" or not hf.get("multi_query", True):
            raise ValueError(f"{folder}: not a multi-query GPTBigCode model (model_type "
                             f"{hf.get('model_type')!r}); load it with --impl transformers")
        cfg = GPTConfig(**{k: hf[k] for k in ("vocab_size", "n_positions", "n_embd", "n_layer", "n_head",
                                              "n_inner", "layer_norm_epsilon", "initializer_range")
                           if hf.get(k) is not None},
                        bos_token_id=hf.get("bos_token_id") or 0, eos_token_id=hf.get("eos_token_id") or 0)
        model = cls(cfg)
        sd = load_file(str(Path(folder) / "model.safetensors"))
        sd = {k: v for k, v in sd.items() if not k.endswith(".attn.bias") and k != "transformer.bias"}
        missing, unexpected = model.load_state_dict(sd, strict=False)
        assert set(missing) <= {"lm_head.weight"} and not unexpected, (missing, unexpected)
        return model
