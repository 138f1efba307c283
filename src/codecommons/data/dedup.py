"""Exact and near deduplication, keeping the copy with the most permissive licence,
then the shortest path.

Near duplicates follow BigCode's near-deduplication of The Stack (Kocetkov et al.
2022, arXiv:2211.15533; bigcode-dataset/near_deduplication): case-sensitive tokens
split on characters other than [A-Za-z_0-9] (so `my_var` is one token), 5-gram
shingles, MinHash with 256 permutations, LSH banding, and pairs kept only when
their estimated Jaccard similarity is >= 0.7. One deviation: BigCode splits on
each such character, leaving empty tokens between consecutive ones (`a = b` is
`a, "", "", b`); we split on runs and drop empty tokens, so shingles do not depend
on how code is spaced. Signatures come from datatrove's MinHash block (its
permutation hashing), given a code word tokenizer instead of its natural-language
ones (so spaCy is not needed).

Three steps, run as separate pipeline stages because the choice is global:
  `Signatures`     per document, adds `sha256` and the MinHash signature;
  `choose_keepers` one process: clusters by equal hashes and by LSH, verifies the
                   Jaccard estimate, picks one keeper per cluster, writes the rest;
  `DropDuplicates` drops the chosen documents with reason exact/near_duplicate.
At cluster scale the bucket pass is datatrove's MinhashDedupBuckets (one task per
band); `choose_keepers` then reads its duplicate pairs instead of the signatures.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.filters.base_filter import BaseFilter

from codecommons.config import field

NON_ALPHA = re.compile(r"[^A-Za-z_0-9]+")  # BigCode's near_deduplication tokenizer

# Rank of licences when choosing which copy to keep: public-domain-like first, then
# the short notice licences, then those with more conditions (Apache's NOTICE and
# patent terms), then the rest. Lower is kept.
LICENSE_RANK = {**{k: 0 for k in ("CC0-1.0", "Unlicense", "0BSD", "MIT-0", "WTFPL",
                                  "LicenseRef-scancode-public-domain")},
                **{k: 1 for k in ("MIT", "ISC", "BSD-2-Clause", "BSD-3-Clause", "Zlib",
                                  "BSL-1.0", "X11", "NCSA")},
                **{k: 2 for k in ("Apache-2.0", "PSF-2.0", "Python-2.0")}}
TYPE_RANK = {"permissive": 0, "no_license": 1, "non_permissive": 2}


@dataclass
class DedupConfig:
    n_grams: int = field(5, "tokens per shingle")
    num_perm: int = field(256, "MinHash permutations")
    bands: int = field(32, "LSH bands (num_perm / bands rows each; threshold ~ (1/b)^(1/r))")
    threshold: float = field(0.7, "estimated Jaccard similarity that makes a near duplicate")

    def __post_init__(self) -> None:
        assert self.num_perm % self.bands == 0, \
            f"num_perm ({self.num_perm}) must be a multiple of bands ({self.bands})"
        assert 0 < self.threshold <= 1, f"threshold must be in (0, 1], got {self.threshold}"


def code_tokenizer():
    """A datatrove WordTokenizer that splits code like BigCode did, passed to its
    MinHash block so that no natural-language tokenizer (spaCy) is loaded."""
    from datatrove.utils.word_tokenizers import WordTokenizer

    class CodeTokenizer(WordTokenizer):
        def word_tokenize(self, text: str) -> list[str]:
            return [t for t in NON_ALPHA.split(text) if t]

        def sent_tokenize(self, text: str) -> list[str]:
            return text.splitlines()

        def span_tokenize(self, text: str) -> list[tuple[int, int]]:
            return [m.span() for m in re.finditer(r"[A-Za-z_0-9]+", text)]

    return CodeTokenizer("code")


def minhasher(cfg: DedupConfig):
    """datatrove's MinHash signature block, configured so its shingles are BigCode's
    (see the module docstring); `get_shingles` and `get_signature` are what we use."""
    from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature
    from datatrove.utils.text import TextNormConfig

    # datatrove normalises text (simplify_text) before tokenizing; BigCode did not, so
    # every step that changes our tokens is off: case and numbers are kept as written
    # (no lowercasing, no digits -> 0, no weekday/month names), diacritics are kept
    # (NON_ALPHA already splits on non-ASCII letters, as BigCode's does), and
    # punctuation is not replaced, since datatrove's punctuation set includes "_" and
    # would split `my_var` into two tokens. Whitespace normalisation stays on: it only
    # rewrites separators, which NON_ALPHA drops anyway.
    norm = TextNormConfig(lowercase=False, norm_numbers=False, norm_weekdays=False,
                          norm_monthnames=False, remove_punctuation=False, norm_whitespace=True,
                          norm_unicode_diacritics=False)
    mh = MinhashConfig(n_grams=cfg.n_grams, num_buckets=cfg.bands,
                       hashes_per_bucket=cfg.num_perm // cfg.bands, seed=1, norm_config=norm)
    return MinhashDedupSignature(output_folder=os.devnull, config=mh, language=code_tokenizer())


def signature(text: str, hasher) -> list[int]:
    """(num_perm,) MinHash values; empty for texts shorter than one shingle."""
    shingles = hasher.get_shingles(text)
    if not len(shingles):
        return []
    return [v for band in hasher.get_signature(shingles) for v in band]


class Signatures(PipelineStep):
    name = "minhash signatures"
    type = "🫂 - DEDUP"

    def __init__(self, cfg: DedupConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self._hasher = None

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        self._hasher = self._hasher or minhasher(self.cfg)
        for doc in data:
            with self.track_time():
                doc.metadata["sha256"] = hashlib.sha256(doc.text.encode("utf-8")).hexdigest()
                doc.metadata["minhash"] = signature(doc.text, self._hasher)
            yield doc


def keep_order(row: dict) -> tuple:
    """Sort key: the first document of a cluster is kept."""
    spdx = row.get("license") or ""
    return (TYPE_RANK.get(row.get("license_type"), 3), LICENSE_RANK.get(spdx, 3),
            len(row["path"]), row["path"], row["repo"])


def choose_keepers(rows: list[dict], cfg: DedupConfig) -> dict[str, str]:
    """id -> reason for every document to drop. `rows` have id, repo, path,
    license, license_type, sha256 and minhash."""
    parent = list(range(len(rows)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        a, b = find(i), find(j)
        if a != b:
            parent[max(a, b)] = min(a, b)

    by_hash: dict[str, int] = {}
    for i, r in enumerate(rows):
        if r["sha256"] in by_hash:
            union(by_hash[r["sha256"]], i)
        else:
            by_hash[r["sha256"]] = i
    sigs = {i: np.asarray(r["minhash"], dtype=np.uint64) for i, r in enumerate(rows) if r["minhash"]}
    width = cfg.num_perm // cfg.bands
    for b in range(cfg.bands):
        buckets: dict[bytes, list[int]] = {}
        for i, sig in sigs.items():
            buckets.setdefault(sig[b * width:(b + 1) * width].tobytes(), []).append(i)
        for members in buckets.values():
            first = members[0]
            for other in members[1:]:
                if find(first) != find(other) and \
                        float(np.mean(sigs[first] == sigs[other])) >= cfg.threshold:
                    union(first, other)
    clusters: dict[int, list[int]] = {}
    for i in range(len(rows)):
        clusters.setdefault(find(i), []).append(i)
    drop = {}
    for members in clusters.values():
        if len(members) > 1:
            keeper = min(members, key=lambda i: keep_order(rows[i]))
            for i in members:
                if i != keeper:
                    same = rows[i]["sha256"] == rows[keeper]["sha256"]
                    drop[rows[i]["id"]] = "exact_duplicate" if same else "near_duplicate"
    return drop


def write_decisions(filtered: Path, out: Path, cfg: DedupConfig) -> dict[str, str]:
    """Read every stage-1 shard, choose keepers, write `out` atomically (sorted
    JSON lines), and return the decisions. Skipped when `out` exists (resume)."""
    if out.exists():
        return {d["id"]: d["reason"] for d in map(json.loads, out.read_text().splitlines())}
    import pyarrow.parquet as pq

    cols = ["id", "repo", "path", "license", "license_type", "sha256", "minhash"]
    rows = [r for shard in sorted(filtered.glob("*.parquet"))
            for r in pq.read_table(shard, columns=cols).to_pylist()]
    drop = choose_keepers(rows, cfg)
    tmp = out.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps({"id": k, "reason": drop[k]}) + "\n" for k in sorted(drop)))
    os.replace(tmp, out)
    return drop


class DropDuplicates(BaseFilter):
    name = "deduplicate"

    def __init__(self, decisions: str, exclusion_writer=None) -> None:
        super().__init__(exclusion_writer)
        self.decisions = decisions
        self._drop: dict[str, str] | None = None

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if self._drop is None:
            lines = Path(self.decisions).read_text().splitlines()
            self._drop = {d["id"]: d["reason"] for d in map(json.loads, lines)}
        reason = self._drop.get(doc.id)
        return (False, reason) if reason else True
