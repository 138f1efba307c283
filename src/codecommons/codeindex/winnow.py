"""Winnowing (Schleimer, Wilkerson & Aiken 2003, "Winnowing: local algorithms for
document fingerprinting", the algorithm behind MOSS).

Every k-gram of normalised tokens is hashed; in each window of ``w`` consecutive
k-gram hashes the minimum is selected (the rightmost one on ties) and recorded
once as ``(hash, token_index)``. Guarantee: any run of at least ``w + k - 1``
shared normalised tokens shares at least one fingerprint; runs shorter than ``k``
are never matched (noise threshold). Expected density is about ``2 / (w + 1)``
fingerprints per token.

Choices, relative to the ~150 normalised characters a match must reach: a
normalised token of code is 2-3 characters on average (``V``, operators and
punctuation are one; keywords and literals longer), so 150 characters are about
50-75 tokens.

* ``k = 12``: a 12-token phrase (``for V in V ( V ) : if V . V (``) is still
  common idiom; the noise it lets through is removed by chaining hits into regions
  and requiring 150 characters of region, not by k. A larger k would lose matches
  with small edits (one changed token destroys the k k-grams covering it).
* ``w = 8``: guarantee threshold ``w + k - 1 = 19`` tokens (~40-60 characters),
  well under 150, so a 150-character copy holds several fingerprints (~0.22 per
  token, ~11-16) and chains into a region even with an edit or two; the index
  stores ~2/9 of all k-grams.

Hash: xxhash64 of the k tokens joined by ``\\x1f`` (blake2b-64 where xxhash is
missing), stored as a signed int64 (SQLite's integer).
"""

from __future__ import annotations

from collections import deque

K = 12
W = 8
_SEP = "\x1f"

try:
    import xxhash

    def _h64(s: str) -> int:
        return xxhash.xxh64_intdigest(s.encode("utf-8", "surrogatepass"))
except ImportError:  # pragma: no cover - xxhash is a dependency
    import hashlib

    def _h64(s: str) -> int:
        return int.from_bytes(hashlib.blake2b(s.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")


def to_signed(h: int) -> int:
    return h - (1 << 64) if h >= (1 << 63) else h


def kgram_hashes(tokens: list[str], k: int = K) -> list[int]:
    """Signed 64-bit hash of each k-gram; position i covers tokens[i:i+k]."""
    return [to_signed(_h64(_SEP.join(tokens[i:i + k]))) for i in range(len(tokens) - k + 1)]


def winnow_hashes(hashes: list[int], w: int = W) -> list[tuple[int, int]]:
    """Robust winnowing over k-gram hashes -> [(hash, k-gram index)], in order.

    A document with fewer than ``w`` k-grams is one window (its minimum)."""
    n = len(hashes)
    if n == 0:
        return []
    w = min(w, n)
    out: list[tuple[int, int]] = []
    q: deque[int] = deque()  # indices with increasing hashes; front = window minimum
    last = -1
    for i, h in enumerate(hashes):
        while q and hashes[q[-1]] >= h:  # >=: the rightmost minimum wins ties
            q.pop()
        q.append(i)
        if q[0] <= i - w:
            q.popleft()
        if i >= w - 1 and q[0] != last:
            last = q[0]
            out.append((hashes[last], last))
    return out


def fingerprints(tokens: list[str], k: int = K, w: int = W) -> list[tuple[int, int]]:
    """Winnowed fingerprints ``(signed hash, token index)`` of normalised tokens."""
    return winnow_hashes(kgram_hashes(tokens, k), w)


PROSE_MARK = "\u00b6"  # hashed before each prose token: prose and code k-grams never collide


def stream_fingerprints(tokens: list[str], n_code: int, k: int = K, w: int = W) -> list[tuple[int, int]]:
    """Fingerprints of a normalised text's two streams (normalize.Normalized): the code
    tokens ``tokens[:n_code]`` and the prose tokens after them, winnowed apart (no
    k-gram spans the two) with positions into ``tokens``."""
    code = fingerprints(tokens[:n_code], k, w)
    prose = fingerprints([PROSE_MARK + t for t in tokens[n_code:]], k, w)
    return code + [(h, p + n_code) for h, p in prose]

