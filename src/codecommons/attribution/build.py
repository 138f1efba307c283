"""`commons index build`: a curated dataset's Parquet shards -> the code index.

Reads DATASET/data/*.parquet (`codecommons.dataset`: the rows `commons curate`
writes; content, repo, path, language, license, license_type, sha256 are used)
shard by shard, batch by batch (only the needed columns). A shard already indexed with the same content is skipped, so
adding a shard later indexes only it and a changed shard is re-indexed. Each
shard is one transaction (its sources, fingerprints and the membership filter
together), so an interrupted build resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path

from codecommons import dataset
from codecommons.codeindex.store import (connect, delete_sources, index_text, load_filter,
                                         save_filter, update_common, update_languages)

# What the index keeps of a row; content, repo and path are required, the rest
# are read where a shard has them.
COLUMNS = ["content", "repo", "path", "language", "license", "license_type", "sha256"]
REQUIRED = {"content", "repo", "path"}
BATCH_ROWS = 512
# Winnowed fingerprints per byte of code: ~0.026 on the standard library (k=12,
# w=8); sized at twice that so the filter keeps its error rate.
FINGERPRINTS_PER_BYTE = 0.05


def file_sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def content_bytes(shards: list[Path]) -> int:
    """Uncompressed size of the shards' content column, from Parquet metadata."""
    import pyarrow.parquet as pq

    total = 0
    for shard in shards:
        meta = pq.ParquetFile(shard).metadata
        names = [meta.schema.column(i).name for i in range(meta.num_columns)]
        if "content" in names:
            col = names.index("content")
            total += sum(meta.row_group(g).column(col).total_uncompressed_size
                         for g in range(meta.num_row_groups))
    return total


def _index_shard(con, shard: Path, membership, stats: dict) -> None:
    have = set(dataset.column_names(shard))
    cols = [c for c in COLUMNS if c in have or c in REQUIRED]
    for batch in dataset.batches(shard, cols, BATCH_ROWS):
        d = batch.to_pydict()
        none = [None] * batch.num_rows
        for content, repo, path, lang, lic, ltype, sha in zip(
                d["content"], d["repo"], d["path"], d.get("language", none),
                d.get("license", none), d.get("license_type", none), d.get("sha256", none)):
            if content is None:
                continue
            sid = index_text(con, content, repo=repo, path=path, language=lang, license=lic,
                             license_type=ltype, sha256=sha, shard=shard.name,
                             membership=membership)
            stats["files" if sid is not None else "duplicates"] += 1
            stats["bytes"] += len(content.encode("utf-8", "surrogatepass")) if sid is not None else 0


def build(dataset_dir: str | Path, index_path: str | Path, progress: bool = True) -> dict:
    """Index every shard of DATASET_DIR/data/*.parquet not yet in the index."""
    shards = dataset.shards(dataset_dir)
    con = connect(index_path, create=True)
    stats = {"shards": 0, "skipped_shards": 0, "files": 0, "duplicates": 0, "bytes": 0}
    t0 = time.perf_counter()
    try:
        todo = []
        for shard in shards:
            digest = file_sha256(shard)
            if con.execute("SELECT 1 FROM shards WHERE name=? AND sha256=?", (shard.name, digest)).fetchone():
                stats["skipped_shards"] += 1
            else:
                todo.append((shard, digest))
        membership = load_filter(con, int(FINGERPRINTS_PER_BYTE * content_bytes([s for s, _ in todo])))
        for shard, digest in todo:
            with con:  # one transaction per shard
                delete_sources(con, "shard = ?", (shard.name,))  # a changed shard: start over
                _index_shard(con, shard, membership, stats)
                con.execute("INSERT OR REPLACE INTO shards VALUES (?, ?)", (shard.name, digest))
                update_languages(con)
                membership = save_filter(con, membership)
            stats["shards"] += 1
            if progress:
                print(f"indexed {shard.name}: {stats['files']} files so far "
                      f"({time.perf_counter() - t0:.1f}s)", file=sys.stderr)
        if todo:
            with con:
                stats["common_hashes"] = update_common(con)
    finally:
        con.close()
    return stats
