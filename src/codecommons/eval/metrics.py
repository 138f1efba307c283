"""Scores: the unbiased pass@k estimator and exact match.

pass@k (Chen et al. 2021, "Evaluating Large Language Models Trained on Code",
arXiv:2107.03374, eq. 1): with n samples of which c pass,
    pass@k = 1 - C(n - c, k) / C(n, k),
computed as a running product to stay numerically stable for large n.
"""

from __future__ import annotations

KS = (1, 10, 100)


def pass_at_k(n: int, c: int, k: int) -> float:
    assert 0 <= c <= n and k >= 1, f"need 0 <= c ({c}) <= n ({n}) and k ({k}) >= 1"
    assert n >= k, f"pass@{k} needs at least {k} samples, got {n}"
    if n - c < k:
        return 1.0
    prob_all_fail = 1.0
    for i in range(n - c + 1, n + 1):
        prob_all_fail *= 1.0 - k / i
    return 1.0 - prob_all_fail


def mean_pass_at_k(counts: list[tuple[int, int]], ks: tuple[int, ...] = KS) -> dict[str, float]:
    """Average pass@k over problems for every k that all problems have samples for."""
    if not counts:
        return {}
    n_min = min(n for n, _ in counts)
    return {f"pass@{k}": sum(pass_at_k(n, c, k) for n, c in counts) / len(counts)
            for k in ks if k <= n_min}


def exact_match(prediction: str, reference: str) -> bool:
    """SantaCoder's single-line FIM metric: equal after stripping surrounding blanks."""
    return prediction.strip() == reference.strip()
