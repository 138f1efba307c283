"""The attribution index: one embedded SQLite file (stdlib sqlite3, WAL mode).

    sources(id, repo, path, language, license, license_type, sha256 UNIQUE, n_tokens,
            shard, offsets)      offsets: uint32 (start, end) char offsets per token
    fingerprints(hash, source_id, token_pos)   clustered on hash (WITHOUT ROWID
            primary key (hash, source_id, token_pos): the index on hash, no copy)
    shards(name, sha256)         shards already indexed

``build`` reads a curated dataset's ``data/*.parquet`` shard by shard, batch by
batch (only the needed columns), and skips shards already indexed with the same
content: adding a shard later indexes only it; a shard whose content changed is
re-indexed. Each shard is one transaction, so an interrupted build resumes.
``remove_repo`` deletes a repository's sources and fingerprints (opt-out) in place.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import sys
import time
from array import array
from pathlib import Path

from codecommons.attribution.normalize import normalize_spans
from codecommons.attribution.winnow import K, W, fingerprints

COLUMNS = ["content", "repo", "path", "language", "license", "license_type", "sha256"]
BATCH_ROWS = 512

SCHEMA = """
CREATE TABLE IF NOT EXISTS sources(
    id INTEGER PRIMARY KEY, repo TEXT NOT NULL, path TEXT NOT NULL, language TEXT,
    license TEXT, license_type TEXT, sha256 TEXT UNIQUE, n_tokens INTEGER,
    shard TEXT, offsets BLOB);
CREATE INDEX IF NOT EXISTS sources_repo ON sources(repo);
CREATE INDEX IF NOT EXISTS sources_shard ON sources(shard);
CREATE TABLE IF NOT EXISTS fingerprints(
    hash INTEGER NOT NULL, source_id INTEGER NOT NULL, token_pos INTEGER NOT NULL,
    PRIMARY KEY (hash, source_id, token_pos)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS shards(name TEXT PRIMARY KEY, sha256 TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
"""


def connect(index_path: str | Path, create: bool = False) -> sqlite3.Connection:
    path = Path(index_path)
    if not create and not path.exists():
        raise FileNotFoundError(f"no attribution index at {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    if create:
        con.executescript(SCHEMA)
        got = dict(con.execute("SELECT key, value FROM meta"))
        want = {"k": str(K), "w": str(W)}
        if got and {k: got.get(k) for k in want} != want:
            raise ValueError(f"index {path} was built with {got}, this code uses {want}")
        con.executemany("INSERT OR IGNORE INTO meta VALUES (?, ?)", want.items())
        con.commit()
    return con


def pack_offsets(starts: list[int], ends: list[int]) -> bytes:
    a = array("I", [0]) * (2 * len(starts))
    a[0::2] = array("I", starts)
    a[1::2] = array("I", ends)
    return a.tobytes()


def unpack_offsets(blob: bytes) -> tuple[array, array]:
    a = array("I")
    a.frombytes(blob)
    return a[0::2], a[1::2]


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _delete_sources(con: sqlite3.Connection, where: str, args: tuple) -> int:
    ids = [r[0] for r in con.execute(f"SELECT id FROM sources WHERE {where}", args)]
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        marks = ",".join("?" * len(chunk))
        # fingerprints is clustered on hash: this is a scan, fine for a rare opt-out
        con.execute(f"DELETE FROM fingerprints WHERE source_id IN ({marks})", chunk)
        con.execute(f"DELETE FROM sources WHERE id IN ({marks})", chunk)
    return len(ids)


def index_text(con: sqlite3.Connection, content: str, *, repo: str, path: str, language: str | None,
               license: str | None, license_type: str | None, sha256: str | None,
               shard: str | None = None) -> int | None:
    """Add one file; returns its source id, or None when its content is already there."""
    if sha256 is None:
        sha256 = hashlib.sha256(content.encode("utf-8", "surrogatepass")).hexdigest()
    toks, starts, ends = normalize_spans(content, language or None, guess=False)
    cur = con.execute(
        "INSERT OR IGNORE INTO sources(repo, path, language, license, license_type, sha256, n_tokens,"
        " shard, offsets) VALUES (?,?,?,?,?,?,?,?,?)",
        (repo, path, language, license, license_type, sha256, len(toks), shard,
         pack_offsets(starts, ends)))
    if cur.rowcount == 0:
        return None
    sid = cur.lastrowid
    con.executemany("INSERT OR IGNORE INTO fingerprints VALUES (?,?,?)",
                    [(h, sid, pos) for h, pos in fingerprints(toks)])
    return sid


def build(dataset_dir: str | Path, index_path: str | Path, progress: bool = True) -> dict:
    """Index every shard of DATASET_DIR/data/*.parquet not yet in the index."""
    import pyarrow.parquet as pq

    shards = sorted(Path(dataset_dir, "data").glob("*.parquet"))
    if not shards:
        raise FileNotFoundError(f"no shards in {Path(dataset_dir, 'data')}")
    con = connect(index_path, create=True)
    stats = {"shards": 0, "skipped_shards": 0, "files": 0, "duplicates": 0}
    t0 = time.perf_counter()
    try:
        for shard in shards:
            digest = _file_sha256(shard)
            if con.execute("SELECT 1 FROM shards WHERE name=? AND sha256=?", (shard.name, digest)).fetchone():
                stats["skipped_shards"] += 1
                continue
            with con:  # one transaction per shard
                _delete_sources(con, "shard = ?", (shard.name,))  # a changed shard: start over
                pf = pq.ParquetFile(shard)
                cols = [c for c in COLUMNS if c in pf.schema_arrow.names]
                for batch in pf.iter_batches(batch_size=BATCH_ROWS, columns=cols):
                    d = batch.to_pydict()
                    n = batch.num_rows
                    none = [None] * n
                    for content, repo, path, lang, lic, ltype, sha in zip(
                            d["content"], d["repo"], d["path"], d.get("language", none),
                            d.get("license", none), d.get("license_type", none), d.get("sha256", none)):
                        if content is None:
                            continue
                        sid = index_text(con, content, repo=repo, path=path, language=lang, license=lic,
                                         license_type=ltype, sha256=sha, shard=shard.name)
                        stats["files" if sid is not None else "duplicates"] += 1
                con.execute("INSERT OR REPLACE INTO shards VALUES (?, ?)", (shard.name, digest))
                _update_languages(con)
            stats["shards"] += 1
            if progress:
                print(f"indexed {shard.name}: {stats['files']} files so far "
                      f"({time.perf_counter() - t0:.1f}s)", file=sys.stderr)
    finally:
        con.close()
    return stats


def _update_languages(con: sqlite3.Connection) -> None:
    """Languages by file count, kept in meta: the candidates a query of unknown
    language is normalised as (see search.attribute)."""
    rows = con.execute("SELECT coalesce(language, ''), count(*) FROM sources GROUP BY 1 ORDER BY 2 DESC")
    con.execute("INSERT OR REPLACE INTO meta VALUES ('languages', ?)", (json.dumps(rows.fetchall()),))


def languages(con: sqlite3.Connection) -> list[tuple[str, int]]:
    row = con.execute("SELECT value FROM meta WHERE key='languages'").fetchone()
    return [tuple(x) for x in json.loads(row[0])] if row else []


def remove_repo(index_path: str | Path, repo: str) -> int:
    """Delete a repository's sources and fingerprints (opt-out); returns files removed."""
    con = connect(index_path)
    try:
        with con:
            n = _delete_sources(con, "repo = ?", (repo,))
            _update_languages(con)
            return n
    finally:
        con.close()
