"""Sampling semantics (engines/sampling.py, the sampler of the transformers engine):
top-k, top-p, temperature and repetition penalty do what their papers define, checked
on hand-made logits by drawing many samples.

    python -m pytest tests/engines/test_sampling.py -q
"""

from __future__ import annotations

import collections

import pytest

torch = pytest.importorskip("torch")

from codecommons.engines.base import SamplingParams  # noqa: E402
from codecommons.engines.sampling import sample  # noqa: E402

# probabilities 0.4, 0.3, 0.2, 0.1 and 0 (-inf) for ids 0..4
LOGITS = torch.log(torch.tensor([0.4, 0.3, 0.2, 0.1, 0.0]))


def draws(params: SamplingParams, n: int = 4000, logits=LOGITS, prev=None) -> collections.Counter:
    gen = torch.Generator().manual_seed(1)
    return collections.Counter(sample(logits.clone(), params, gen, prev) for _ in range(n))


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
    logits = torch.tensor([2.0, 1.9, -1.0, -1.2])
    seen = torch.tensor([0, 2])
    # CTRL (arXiv:1909.05858): 2.0 / 1.5 = 1.33 < 1.9, so greedy moves from id 0 to id 1
    assert draws(SamplingParams(temperature=0, repetition_penalty=1.5), 1, logits, seen) == {1: 1}
    assert draws(SamplingParams(temperature=0, repetition_penalty=1.0), 1, logits, seen) == {0: 1}
    # a seen negative logit gets more negative: -1.0 * 1.5 = -1.5 < -1.2
    neg = torch.tensor([-3.0, -3.0, -1.0, -1.2])
    assert draws(SamplingParams(temperature=0, repetition_penalty=1.5), 1, neg, seen) == {3: 1}


def test_seeded_draws_reproduce_and_differ_across_seeds():
    def run(seed):
        gen = torch.Generator().manual_seed(seed)
        return [sample(LOGITS.clone(), SamplingParams(temperature=1.0), gen) for _ in range(30)]

    assert run(5) == run(5) and run(5) != run(6)
