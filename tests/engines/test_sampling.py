"""Sampling semantics (engines/sampling.py, the sampler of every local engine):
top-k, top-p, temperature and repetition penalty do what their papers define, checked
on hand-made logits by drawing many samples; randomness is per request.

    python -m pytest tests/engines/test_sampling.py -q
"""

from __future__ import annotations

import collections

import numpy as np

from codecommons.engines.base import SamplingParams
from codecommons.engines.sampling import Sampler, log_softmax, top_logprobs

# probabilities 0.4, 0.3, 0.2, 0.1 and 0 (-inf) for ids 0..4
with np.errstate(divide="ignore"):
    LOGITS = np.log(np.array([0.4, 0.3, 0.2, 0.1, 0.0], dtype=np.float32))


def draws(params: SamplingParams, n: int = 4000, logits=LOGITS, prev=None) -> collections.Counter:
    sampler = Sampler(SamplingParams(**{**params.__dict__, "seed": 1}))
    return collections.Counter(sampler.sample(logits, prev) for _ in range(n))


def test_greedy_and_top_k_1_are_argmax():
    assert set(draws(SamplingParams(temperature=0), 50)) == {0}
    assert set(draws(SamplingParams(temperature=1.0, top_k=1), 200)) == {0}


def test_top_k_keeps_exactly_the_k_most_likely():
    counts = draws(SamplingParams(temperature=1.0, top_k=2))
    assert set(counts) == {0, 1}
    assert abs(counts[0] / sum(counts.values()) - 0.4 / 0.7) < 0.03  # renormalised


def test_top_p_keeps_the_smallest_set_reaching_p():
    # cumulative 0.4, 0.7, 0.9: p = 0.65 needs ids 0 and 1 (the token that crosses p is kept)
    assert set(draws(SamplingParams(temperature=1.0, top_p=0.65))) == {0, 1}
    assert set(draws(SamplingParams(temperature=1.0, top_p=0.4))) == {0}
    assert set(draws(SamplingParams(temperature=1.0, top_p=0.85))) == {0, 1, 2}


def test_temperature_one_matches_the_distribution_and_low_temperature_sharpens():
    counts = draws(SamplingParams(temperature=1.0), 8000)
    for i, p in enumerate([0.4, 0.3, 0.2, 0.1]):
        assert abs(counts[i] / 8000 - p) < 0.025
    assert counts[4] == 0  # probability 0 is never drawn
    sharp = draws(SamplingParams(temperature=0.25), 4000)
    # p_i^4 normalised: 0.4^4 / sum = 0.67
    assert abs(sharp[0] / 4000 - 0.4**4 / sum(q**4 for q in (0.4, 0.3, 0.2, 0.1))) < 0.03


def test_repetition_penalty_divides_positive_and_multiplies_negative_logits():
    logits = np.array([2.0, 1.9, -1.0, -1.2], dtype=np.float32)
    seen = [0, 2]
    # CTRL (arXiv:1909.05858): 2.0 / 1.5 = 1.33 < 1.9, so greedy moves from id 0 to id 1
    assert draws(SamplingParams(temperature=0, repetition_penalty=1.5), 1, logits, seen) == {1: 1}
    assert draws(SamplingParams(temperature=0, repetition_penalty=1.0), 1, logits, seen) == {0: 1}
    # a seen negative logit gets more negative: -1.0 * 1.5 = -1.5 < -1.2
    neg = np.array([-3.0, -3.0, -1.0, -1.2], dtype=np.float32)
    assert draws(SamplingParams(temperature=0, repetition_penalty=1.5), 1, neg, seen) == {3: 1}


def test_seeded_draws_reproduce_and_unseeded_draws_differ():
    def run(seed):
        sampler = Sampler(SamplingParams(temperature=1.0, seed=seed))
        return [sampler.sample(LOGITS) for _ in range(30)]

    assert run(5) == run(5) and run(5) != run(6)
    # no seed: each request draws a fresh one, so two requests differ (p(equal) = ~1e-12)
    assert run(None) != run(None)


def test_logprobs_are_the_models_distribution():
    lp = log_softmax(LOGITS)
    assert abs(np.exp(lp[:4]).sum() - 1.0) < 1e-6 and abs(lp[0] - np.log(0.4)) < 1e-6
    assert [i for i, _ in top_logprobs(lp, 3)] == [0, 1, 2]
