"""Token sampling for engines that hand us raw logits (transformers).

Order as in Hugging Face's `generate` and llama.cpp's default chain: repetition
penalty (CTRL, arXiv:1909.05858), temperature, top-k, top-p (nucleus, Holtzman et
al. 2019, arXiv:1904.09751), then a draw from a seeded generator. Temperature 0 is
greedy (argmax), as in the OpenAI API.
"""

from __future__ import annotations

import torch

from codecommons.engines.base import SamplingParams


def sample(logits: torch.Tensor, params: SamplingParams, generator: torch.Generator,
           prev_ids: torch.Tensor | None = None) -> int:
    """Pick the next token id from `logits` of shape (V,)."""
    logits = logits.float()
    if params.repetition_penalty != 1.0 and prev_ids is not None and prev_ids.numel():
        seen = logits[prev_ids]
        logits[prev_ids] = torch.where(seen > 0, seen / params.repetition_penalty,
                                       seen * params.repetition_penalty)
    if params.temperature == 0:
        return int(torch.argmax(logits))
    logits = logits / params.temperature
    if params.top_k > 0:
        kth = torch.topk(logits, min(params.top_k, logits.numel())).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if params.top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True)
        cum = torch.softmax(sorted_logits, dim=-1).cumsum(dim=-1)
        drop = cum - torch.softmax(sorted_logits, dim=-1) >= params.top_p  # keep the token that crosses p
        logits[order[drop]] = float("-inf")
    probs = torch.softmax(logits, dim=-1)
    return int(torch.multinomial(probs, 1, generator=generator))
