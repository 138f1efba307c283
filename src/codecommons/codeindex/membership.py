"""The membership filter: a Bloom filter over the index's fingerprints, the fast
yes/no layer in front of the fingerprint table (StarCoder shipped the same kind of
test: a Bloom filter over fixed-size windows of its training data).

What goes in: the winnowed fingerprints of every indexed file, i.e. the hashes
of selected fixed-size windows (k = 12 normalised tokens) of normalised text, the
same selection the fingerprint table stores. So the filter answers "is this
window's hash in the table?" with no false negatives and ~1% false positives, in
memory, without touching SQLite.

`longest_run` turns that into a verdict on a text: the query's fingerprints that
are present are chained when at most ``k + w`` tokens apart (the gap
`search._chain` tolerates), and the longest chain's normalised length is
returned. Every region `search.attribute` can report lies inside such a chain,
so ``longest_run(...) < min_chars`` proves there is no match and the SQLite
lookup is skipped (the common case for generated code). A chain of n present
fingerprints that are all false positives has probability ~0.01**n.

Stored as one row of the index's ``membership`` table (rbloom's bytes), so an
index stays one file. Bloom filters cannot delete: after removing a repository
the filter is rebuilt from the fingerprint table (seconds), as it is when more
fingerprints were added than it was sized for.
"""

from __future__ import annotations

from codecommons.codeindex.winnow import K, W

ERROR_RATE = 0.01
MIN_CAPACITY = 100_000


def _identity(h: int) -> int:
    # Fingerprints are already uniform 64-bit hashes (xxhash64): rbloom derives its
    # bit positions from them directly.
    return h


def _bloom_class():
    try:
        from rbloom import Bloom
    except ImportError as e:  # pragma: no cover - rbloom is in the attribution extra
        raise ImportError("the attribution index needs rbloom: pip install 'codecommons[attribution]'") from e
    return Bloom


class MembershipFilter:
    def __init__(self, capacity: int, error_rate: float = ERROR_RATE, items: int = 0,
                 bloom=None) -> None:
        self.capacity, self.error_rate, self.items = max(capacity, MIN_CAPACITY), error_rate, items
        self.bloom = bloom if bloom is not None else _bloom_class()(self.capacity, error_rate, _identity)

    # -- building -----------------------------------------------------------------
    def add(self, hashes: list[int]) -> None:
        self.bloom.update(hashes)
        self.items += len(hashes)

    @property
    def overfull(self) -> bool:
        return self.items > self.capacity

    def to_row(self) -> tuple[int, float, int, bytes]:
        return self.capacity, self.error_rate, self.items, self.bloom.save_bytes()

    @classmethod
    def from_row(cls, capacity: int, error_rate: float, items: int, data: bytes) -> "MembershipFilter":
        return cls(capacity, error_rate, items, _bloom_class().load_bytes(data, _identity))

    # -- querying -----------------------------------------------------------------
    def __contains__(self, h: int) -> bool:
        return h in self.bloom

    def longest_run(self, prefix: list[int], fps: list[tuple[int, int]]) -> int:
        """Normalised characters of the longest chain of present fingerprints.

        prefix: prefix[i] = normalised characters of the query's first i tokens;
        fps: its (hash, token position) fingerprints in position order."""
        n_tokens = len(prefix) - 1
        best, first, last = 0, None, None
        for h, pos in fps:
            if h not in self.bloom:
                continue
            if last is None or pos - last > K + W:
                first = pos
            last = pos
            best = max(best, prefix[min(last + K, n_tokens)] - prefix[first])
        return best
