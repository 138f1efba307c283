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

    def penalized(self, logits: np.ndarray, prev_ids) -> np.ndarray:
        """Repetition penalty on the ids seen so far (prompt and output): positive
        logits are divided by it and negative ones multiplied (CTRL)."""
        p = self.params.repetition_penalty
        if p == 1.0 or prev_ids is None or len(prev_ids) == 0:
            return logits
        out = np.array(logits, dtype=np.float32, copy=True)
        ids = np.unique(np.asarray(prev_ids, dtype=np.int64))
        seen = out[ids]
        out[ids] = np.where(seen > 0, seen / p, seen * p)
        return out

    def sample(self, logits: np.ndarray, prev_ids=None) -> int:
        """The next token id from (V,) logits."""
        params = self.params
        logits = self.penalized(logits, prev_ids)
        if self.greedy:
            return int(np.argmax(logits))
        x = logits.astype(np.float64) / params.temperature
        if params.top_k > 0 and params.top_k < x.size:
            kth = np.partition(x, -params.top_k)[-params.top_k]
            x = np.where(x < kth, -np.inf, x)
        probs = np.exp(x - np.max(x))
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
