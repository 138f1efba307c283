"""Token sampling over a vector of logits, for every local engine (llama.cpp, transformers).

Order as in Hugging Face's `generate` and llama.cpp's default chain: repetition
penalty (CTRL, arXiv:1909.05858), temperature, top-k, top-p (nucleus, Holtzman et
al. 2019, arXiv:1904.09751), then a draw. Temperature 0 is greedy (argmax), as in
the OpenAI API.

Randomness is per request: a `Sampler` owns its generator, seeded with the request's
seed or, without one, a fresh seed from the operating system, so an unseeded request
never repeats another's draws and a seeded one reproduces without touching any other
request (a library-wide RNG that one request seeds would leak that seed into every
later request).

Log-probabilities are of the model's distribution before any sampling transform
(the logits' log-softmax), as OpenAI's `logprobs` and TGI's `details` report them.
"""

from __future__ import annotations

import secrets

import numpy as np

from codecommons.engines.base import SamplingParams


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """(V,) logits -> (V,) log-probabilities, in float64 for stable sums."""
    x = logits.astype(np.float64)
    m = np.max(x)
    return x - m - np.log(np.sum(np.exp(x - m)))


class Sampler:
    """Picks tokens for one request."""

    def __init__(self, params: SamplingParams) -> None:
        self.params = params
        self.seed = params.seed if params.seed is not None else secrets.randbits(63)
        self.rng = np.random.default_rng(self.seed)

    @property
    def greedy(self) -> bool:
        return self.params.temperature == 0 or self.params.top_k == 1

    @property
    def uses_history(self) -> bool:
        p = self.params
        return p.repetition_penalty != 1.0 or p.presence_penalty != 0.0 or p.frequency_penalty != 0.0

    def penalized(self, logits: np.ndarray, prev_ids=None, output_ids=None) -> np.ndarray:
        """Repetition penalty on the ids seen so far (prompt and output): positive
        logits are divided by it and negative ones multiplied (CTRL); presence and
        frequency penalties on the output's ids (OpenAI's definition, as vLLM applies
        it); logit bias."""
        p = self.params
        if not self.uses_history and not p.logit_bias:
            return logits
        out = np.array(logits, dtype=np.float32, copy=True)
        if p.repetition_penalty != 1.0 and prev_ids is not None and len(prev_ids):
            window = prev_ids if p.repeat_last_n < 0 else prev_ids[len(prev_ids) - p.repeat_last_n:]
            ids = np.unique(np.asarray(window, dtype=np.int64))
            seen = out[ids]
            out[ids] = np.where(seen > 0, seen / p.repetition_penalty, seen * p.repetition_penalty)
        if (p.presence_penalty or p.frequency_penalty) and output_ids is not None and len(output_ids):
            ids, counts = np.unique(np.asarray(output_ids, dtype=np.int64), return_counts=True)
            out[ids] -= p.presence_penalty + p.frequency_penalty * counts
        for tok, bias in p.logit_bias:
            out[tok] += bias
        return out

    def sample(self, logits: np.ndarray, prev_ids=None, output_ids=None) -> int:
        """The next token id from (V,) logits; prev_ids: prompt and output so far,
        output_ids: the output so far (for the penalties)."""
        params = self.params
        logits = self.penalized(logits, prev_ids, output_ids)
        if self.greedy:
            return int(np.argmax(logits))
        x = logits.astype(np.float64) / params.temperature
        if params.top_k > 0 and params.top_k < x.size:
            kth = np.partition(x, -params.top_k)[-params.top_k]
            x = np.where(x < kth, -np.inf, x)
        probs = np.exp(x - np.max(x))
        probs /= probs.sum()
        if params.min_p > 0.0:
            probs = np.where(probs >= params.min_p * probs.max(), probs, 0.0)
            probs /= probs.sum()
        if params.top_p < 1.0:
            order = np.argsort(-probs, kind="stable")
            cum = np.cumsum(probs[order])
            # keep the smallest prefix whose mass reaches top_p (the crossing token included)
            keep = order[: int(np.searchsorted(cum, params.top_p, side="left")) + 1]
            mask = np.zeros_like(probs, dtype=bool)
            mask[keep] = True
            probs = np.where(mask, probs, 0.0)
            probs /= probs.sum()
        return int(self.rng.choice(probs.size, p=probs))


def top_logprobs(logprobs: np.ndarray, n: int) -> list[tuple[int, float]]:
    """The n most likely (id, logprob) pairs, most likely first."""
    if n <= 0:
        return []
    idx = np.argpartition(-logprobs, min(n, logprobs.size - 1))[:n]
    idx = idx[np.argsort(-logprobs[idx], kind="stable")]
    return [(int(i), float(logprobs[i])) for i in idx]
