"""Scores: the unbiased pass@k estimator, exact match, and CrossCodeEval's line metrics.

pass@k (Chen et al. 2021, "Evaluating Large Language Models Trained on Code",
arXiv:2107.03374, eq. 1): with n samples of which c pass,
    pass@k = 1 - C(n - c, k) / C(n, k),
computed as a running product to stay numerically stable for large n.
"""

from __future__ import annotations

import difflib
import keyword
import re

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


# -- CrossCodeEval's code-matching metrics (Ding et al. 2023, arXiv:2310.11248), as
# amazon-science/cceval scripts/eval_metric.py and eval_utils.py compute them for Python:
# comments are removed from prediction and reference first (`#.*`).
_STRING = re.compile(r"\"([^\"\\]*(\\.[^\"\\]*)*)\"|\'([^\'\\]*(\\.[^\'\\]*)*)\'")
_IDENTIFIER = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")
_NOT_IDENTIFIERS = frozenset(k for k in keyword.kwlist if k not in ("True", "False"))


def strip_comments(code: str) -> str:
    return re.sub(r"#.*", "", code)


def line_exact_match(prediction: str, reference: str) -> bool:
    """cceval's EM: the non-blank lines, each stripped, are equal (comments removed)."""
    def lines(s: str) -> list[str]:
        return [ln.strip() for ln in strip_comments(s).split("\n") if ln.strip()]
    return lines(prediction) == lines(reference)


def edit_similarity(prediction: str, reference: str) -> float:
    """cceval's ES, in [0, 1]: fuzzywuzzy's `fuzz.ratio` of the stripped strings (comments
    removed), which is difflib's SequenceMatcher ratio when python-Levenshtein is absent
    (cceval's requirements.txt lists fuzzywuzzy alone); cceval reports it x100."""
    a, b = strip_comments(prediction).strip(), strip_comments(reference).strip()
    return difflib.SequenceMatcher(None, a, b).ratio()


def code_identifiers(code: str) -> list[str]:
    """cceval's extract_identifiers: \\w+ words outside string literals that look like
    identifiers and are not keywords (True and False count as identifiers)."""
    words = re.findall(r"\w+", _STRING.sub("", strip_comments(code)))
    return [w for w in words if _IDENTIFIER.match(w) and w not in _NOT_IDENTIFIERS]


def identifier_match(prediction: str, reference: str) -> tuple[bool, float]:
    """cceval's identifier EM (the identifier sequences are equal) and F1 (over the sets)."""
    pred, ref = code_identifiers(prediction), code_identifiers(reference)
    p, r = set(pred), set(ref)
    tp = len(p & r)
    denom = len(p) + len(r)
    return pred == ref, (2 * tp / denom if denom else 0.0)
