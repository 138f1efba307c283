"""CodeIndex.attribute(): which indexed files does a piece of code copy, and where?

0. Fingerprints the index holds in more than ``store.COMMON_POSTINGS`` places
   (licence headers, idiom, generated tables) are left out of the query: as in
   MOSS, a passage shared by that many files is boilerplate, not a copy of one
   source, and looking it up is what made the slow tail of queries.
   Then the membership filter (membership.py) answers: when no chain of the
   query's fingerprints present in it spans ``min_chars``, there is no match and
   SQLite is not touched (most generated code).
1. Normalise and winnow the query (the same k, w as the index): its code stream and
   its prose stream (comments and docstrings, normalize.py), so copied prose is found
   and reported like copied code, with the same minimum length. With no language
   given, the query is normalised as each of the index's most common languages
   (up to ``MAX_CANDIDATES``; lexing 1,000 characters costs ~0.3 ms, where
   Pygments' ``guess_lexer`` costs 100-400 ms), and a source's hits count only
   under its own language.
2. Look every fingerprint up (``hash IN (...)`` in batches, on the clustered key).
3. Per source, chain hits whose query and source token positions advance together
   into regions: the next hit is at most ``k + w`` tokens further on both sides
   (a changed token destroys the k k-grams over it; surviving fingerprints are at
   most w apart) and the two steps differ by at most ``w`` (a few tokens inserted
   or deleted).
4. A region's length is the normalised characters of the query it spans; regions
   of at least ``min_chars`` are reported, longest first.
"""

from __future__ import annotations

import sqlite3
import threading
from bisect import bisect_left, bisect_right
from collections import defaultdict
from dataclasses import asdict, dataclass
from itertools import accumulate
from pathlib import Path

from codecommons.codeindex.membership import MembershipFilter
from codecommons.codeindex.store import common_hashes, connect, languages, read_filter, unpack_offsets
from codecommons.codeindex.normalize import normalize_spans
from codecommons.codeindex.winnow import K, W, stream_fingerprints

MAX_CANDIDATES = 8
_BATCH = 500


@dataclass
class Match:
    repo: str
    path: str
    license: str
    license_type: str
    query_start: int   # char offsets in the query
    query_end: int
    source_start: int  # char offsets in the source file
    source_end: int
    length: int        # normalised characters of the matched region
    similarity: float  # fraction of the region's query fingerprints found in the source

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class _Query:
    tokens: list[str]           # code tokens, then prose tokens (normalize.Normalized)
    starts: list[int]
    ends: list[int]
    prefix: list[int]           # prefix[i] = normalised chars of tokens[:i]
    fp_pos: list[int]           # sorted positions of the query's fingerprints
    n_code: int

    def kgram_end(self, pos: int) -> int:
        """Exclusive end token of the k-gram at `pos`, inside its own stream."""
        return _kgram_end(pos, self.n_code, len(self.tokens))


def _kgram_end(pos: int, n_code: int, n_tokens: int) -> int:
    return min(pos + K, n_code if pos < n_code else n_tokens)


def _prepare(text: str, language: str | None,
             common: frozenset[int] = frozenset()) -> tuple[_Query, list[tuple[int, int]]]:
    """Normalised query and its fingerprints, less the index's common ones."""
    toks, starts, ends, n_code = normalize_spans(text, language or None, guess=False)
    fps = [(h, p) for h, p in stream_fingerprints(toks, n_code) if h not in common]
    return _Query(toks, starts, ends, [0, *accumulate(map(len, toks))], [p for _, p in fps],
                  n_code), fps


def _chain(pairs: list[tuple[int, int]]) -> list[list]:
    """(query pos, source pos) hits -> regions [fq, fs, lq, ls, {query positions}]."""
    regions: list[list] = []
    step = K + W
    for q, s in sorted(set(pairs)):
        best, best_key = None, None
        for r in regions:
            dq, ds = q - r[2], s - r[3]
            if 0 < dq <= step and 0 < ds <= step and abs(dq - ds) <= W:
                key = (abs(dq - ds), dq)
                if best_key is None or key < best_key:
                    best, best_key = r, key
        if best is None:
            regions.append([q, s, q, s, {q}])
        else:
            best[2], best[3] = q, s
            best[4].add(q)
    return regions


class CodeIndex:
    """An open index: the membership filter in memory, one SQLite connection per
    thread (the server queries from its engine thread and its request handlers).
    A build or opt-out committed by another process is picked up on the next
    query (SQLite's ``data_version`` changes), so a running server never answers
    from a stale filter."""

    def __init__(self, path: str | Path, min_chars: int = 150) -> None:
        self.path, self.min_chars = Path(path), min_chars
        self._local = threading.local()
        self._lock = threading.Lock()
        self._filter: MembershipFilter | None = None
        self._common: frozenset[int] = frozenset()
        self._languages: list[str] = []
        self._con()  # fail now on a missing index

    def _con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = self._local.con = connect(self.path)
            self._local.version = None
        version = con.execute("PRAGMA data_version").fetchone()[0]
        if version != self._local.version or self._filter is None:
            self._local.version = version
            self._reload(con)
        return con

    def _reload(self, con: sqlite3.Connection) -> None:
        with self._lock:
            self._filter = read_filter(con)
            self._common = common_hashes(con)
            self._languages = [lang for lang, _ in languages(con)[:MAX_CANDIDATES]] or [""]

    def candidates(self, language: str | None) -> list[str]:
        return [language] if language else list(self._languages)

    def _queries(self, text: str, language: str | None) -> dict[str, tuple[_Query, list, int]]:
        """Per candidate language: the query, its fingerprints, and the membership
        filter's longest run (an upper bound on any match under that language)."""
        out = {}
        for cand in self.candidates(language):
            q, fps = _prepare(text, cand, self._common)
            out[cand] = (q, fps, self._filter.longest_run(q.prefix, fps))
        return out

    def longest_run(self, text: str, language: str | None = None) -> int:
        """Normalised characters of the longest stretch of ``text`` that the
        membership filter says may be indexed (an upper bound on any match)."""
        self._con()
        return max(run for _, _, run in self._queries(text, language).values())

    def attribute(self, text: str, language: str | None = None,
                  min_chars: int | None = None) -> list[Match]:
        """Regions of ``text`` copied from indexed files, longest first."""
        min_chars = self.min_chars if min_chars is None else min_chars
        con = self._con()
        prepared = self._queries(text, language)
        if all(run < min_chars for _, _, run in prepared.values()):
            return []
        queries = {cand: q for cand, (q, _, _) in prepared.items()}
        by_hash: dict[int, list[tuple[str, int]]] = defaultdict(list)
        for cand, (_, fps, _) in prepared.items():
            for h, pos in fps:
                by_hash[h].append((cand, pos))
        found = _regions(_lookup(con, by_hash, check_language=not language), queries, min_chars)
        if not found:
            return []
        meta = _sources(con, sorted({sid for sid, _, _ in found}))
        matches = _merged([(sid, _match(meta[sid], queries[cand], r)) for sid, cand, r in found])
        matches.sort(key=lambda m: (-m.length, -m.similarity, m.repo, m.path, m.query_start))
        return matches

    def close(self) -> None:
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None


def _lookup(con: sqlite3.Connection, by_hash: dict[int, list[tuple[str, int]]],
            check_language: bool) -> dict[tuple[int, str], list[tuple[int, int]]]:
    """(source id, candidate language) -> [(query pos, source pos)] fingerprint hits;
    with no language given, a source's hits count only under its own language."""
    hits: dict[tuple[int, str], list[tuple[int, int]]] = defaultdict(list)
    hashes = list(by_hash)
    for i in range(0, len(hashes), _BATCH):
        chunk = hashes[i:i + _BATCH]
        sql = ("SELECT f.hash, f.source_id, f.token_pos, coalesce(s.language, '') FROM fingerprints f"
               " JOIN sources s ON s.id = f.source_id"
               f" WHERE f.hash IN ({','.join('?' * len(chunk))})")
        for h, sid, spos, slang in con.execute(sql, chunk):
            for cand, qpos in by_hash[h]:
                if not check_language or cand == slang:
                    hits[(sid, cand)].append((qpos, spos))
    return hits


def _regions(hits: dict, queries: dict[str, _Query], min_chars: int) -> list[tuple[int, str, list]]:
    found = []
    for (sid, cand), pairs in hits.items():
        q = queries[cand]
        for r in _chain(pairs):
            if q.prefix[q.kgram_end(r[2])] - q.prefix[r[0]] >= min_chars:
                found.append((sid, cand, r))
    return found


def _merged(found: list[tuple[int, Match]]) -> list[Match]:
    """One match per stretch of the query copied from one source: a code region and the
    prose region of the same copy (its comments, its docstring) overlap and are one
    copy, reported as the union of their spans."""
    out: list[tuple[int, Match]] = []
    for sid, m in sorted(found, key=lambda x: (x[0], x[1].query_start)):
        prev = out[-1] if out else None
        if prev is not None and prev[0] == sid and m.query_start <= prev[1].query_end:
            p = prev[1]
            p.query_end = max(p.query_end, m.query_end)
            p.source_start, p.source_end = min(p.source_start, m.source_start), max(p.source_end, m.source_end)
            p.length, p.similarity = max(p.length, m.length), max(p.similarity, m.similarity)
        else:
            out.append((sid, m))
    return [m for _, m in out]


def _sources(con: sqlite3.Connection, sids: list[int]) -> dict[int, tuple]:
    meta = {}
    for i in range(0, len(sids), _BATCH):
        chunk = sids[i:i + _BATCH]
        sql = ("SELECT id, repo, path, license, license_type, n_tokens, n_code, offsets FROM sources"
               f" WHERE id IN ({','.join('?' * len(chunk))})")
        for row in con.execute(sql, chunk):
            meta[row[0]] = row[1:]
    return meta


def _match(source: tuple, q: _Query, region: list) -> Match:
    repo, path, lic, ltype, n_tok, n_code, blob = source
    fq, fs, lq, ls, qset = region
    s_starts, s_ends = unpack_offsets(blob)
    q_last = q.kgram_end(lq) - 1
    s_last = _kgram_end(ls, n_code, n_tok) - 1
    n_fp = bisect_right(q.fp_pos, lq) - bisect_left(q.fp_pos, fq)
    return Match(repo=repo, path=path, license=lic or "", license_type=ltype or "",
                 query_start=q.starts[fq], query_end=q.ends[q_last],
                 source_start=s_starts[fs], source_end=s_ends[s_last],
                 length=q.prefix[q_last + 1] - q.prefix[fq],
                 similarity=round(len(qset) / max(n_fp, 1), 3))


def attribute(text: str, index_path: str | Path, language: str | None = None,
              min_chars: int = 150) -> list[Match]:
    """One-off query (opens and closes the index); servers keep a CodeIndex."""
    index = CodeIndex(index_path, min_chars)
    try:
        return index.attribute(text, language)
    finally:
        index.close()
