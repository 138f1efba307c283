"""attribute(): which indexed files does a piece of code copy, and where?

1. Normalise and winnow the query (the same k, w as the index). With no language
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

from bisect import bisect_left, bisect_right
from collections import defaultdict
from dataclasses import asdict, dataclass
from itertools import accumulate
from pathlib import Path

from codecommons.attribution.index import connect, languages, unpack_offsets
from codecommons.attribution.normalize import normalize_spans
from codecommons.attribution.winnow import K, W, fingerprints

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
    tokens: list[str]
    starts: list[int]
    ends: list[int]
    prefix: list[int]           # prefix[i] = normalised chars of tokens[:i]
    fp_pos: list[int]           # sorted positions of the query's fingerprints


def _prepare(text: str, language: str | None) -> tuple[_Query, list[tuple[int, int]]]:
    toks, starts, ends = normalize_spans(text, language or None, guess=False)
    fps = fingerprints(toks)
    return _Query(toks, starts, ends, [0, *accumulate(map(len, toks))], [p for _, p in fps]), fps


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


def attribute(text: str, index_path: str | Path, language: str | None = None,
              min_chars: int = 150) -> list[Match]:
    """Regions of ``text`` copied from indexed files, longest first."""
    con = connect(index_path)
    try:
        if language:
            candidates = [language]
        else:
            candidates = [lang for lang, _ in languages(con)[:MAX_CANDIDATES]] or [""]
        queries: dict[str, _Query] = {}
        by_hash: dict[int, list[tuple[str, int]]] = defaultdict(list)
        for cand in candidates:
            q, fps = _prepare(text, cand)
            queries[cand] = q
            for h, pos in fps:
                by_hash[h].append((cand, pos))
        if not by_hash:
            return []

        # (source id, candidate language) -> [(query pos, source pos)]
        hits: dict[tuple[int, str], list[tuple[int, int]]] = defaultdict(list)
        hashes = list(by_hash)
        check_language = not language
        for i in range(0, len(hashes), _BATCH):
            chunk = hashes[i:i + _BATCH]
            sql = ("SELECT f.hash, f.source_id, f.token_pos, coalesce(s.language, '') FROM fingerprints f"
                   " JOIN sources s ON s.id = f.source_id"
                   f" WHERE f.hash IN ({','.join('?' * len(chunk))})")
            for h, sid, spos, slang in con.execute(sql, chunk):
                for cand, qpos in by_hash[h]:
                    if not check_language or cand == slang:
                        hits[(sid, cand)].append((qpos, spos))

        found: list[tuple[int, str, list]] = []
        for (sid, cand), pairs in hits.items():
            q = queries[cand]
            for r in _chain(pairs):
                last = min(r[2] + K, len(q.tokens))  # exclusive end token of the last k-gram
                if q.prefix[last] - q.prefix[r[0]] >= min_chars:
                    found.append((sid, cand, r))
        if not found:
            return []

        sids = sorted({sid for sid, _, _ in found})
        meta = {}
        for i in range(0, len(sids), _BATCH):
            chunk = sids[i:i + _BATCH]
            sql = ("SELECT id, repo, path, license, license_type, n_tokens, offsets FROM sources"
                   f" WHERE id IN ({','.join('?' * len(chunk))})")
            for row in con.execute(sql, chunk):
                meta[row[0]] = row[1:]
    finally:
        con.close()

    matches = []
    for sid, cand, (fq, fs, lq, ls, qset) in found:
        repo, path, lic, ltype, n_tok, blob = meta[sid]
        q = queries[cand]
        s_starts, s_ends = unpack_offsets(blob)
        q_last = min(lq + K, len(q.tokens)) - 1
        s_last = min(ls + K, n_tok) - 1
        n_fp = bisect_right(q.fp_pos, lq) - bisect_left(q.fp_pos, fq)
        matches.append(Match(
            repo=repo, path=path, license=lic or "", license_type=ltype or "",
            query_start=q.starts[fq], query_end=q.ends[q_last],
            source_start=s_starts[fs], source_end=s_ends[s_last],
            length=q.prefix[q_last + 1] - q.prefix[fq],
            similarity=round(len(qset) / max(n_fp, 1), 3)))
    matches.sort(key=lambda m: (-m.length, -m.similarity, m.repo, m.path, m.query_start))
    return matches
