"""The code index's storage: one embedded SQLite file (stdlib sqlite3, WAL mode).

    sources(id, repo, path, language, license, license_type, sha256 UNIQUE, n_tokens, n_code,
            shard, offsets)      offsets: uint32 (start, end) char offsets per token
    fingerprints(hash, source_id, token_pos)   clustered on hash (WITHOUT ROWID
            primary key (hash, source_id, token_pos): the index on hash, no copy)
    shards(name, sha256)         dataset shards already indexed (attribution/build.py)
    membership(id=0, capacity, error_rate, items, data)   the Bloom filter
            (membership.py) over every fingerprint hash
    common(hash)                 hashes in more than COMMON_POSTINGS places: left out
            of queries (boilerplate; search.py)
    meta(key, value)             k, w, languages by file count

``index_text`` adds one file (and its fingerprints to a membership filter the
caller saves with ``save_filter`` in the same transaction); ``remove_repo``
deletes a repository's sources and fingerprints (opt-out) in place and rebuilds
the filter from the table, since a Bloom filter cannot delete.

Scale-out: this file holds one machine's worth (the python-env dataset, 353 MB of
code, gives ~640 MB; SQLite is fine to a few hundred GB). Past that the same two
tables map onto a real database: `fingerprints` becomes a table partitioned by
hash in PostgreSQL, ClickHouse or ScyllaDB (a point lookup per fingerprint batch,
as `search.py` does), `sources` a plain table, and the membership filter stays a
per-node in-memory file (or RedisBloom); README "Attribution at scale" says how.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from array import array
from pathlib import Path

from codecommons.codeindex.membership import MembershipFilter
from codecommons.codeindex.normalize import NORMALIZE_VERSION, normalize_spans
from codecommons.codeindex.winnow import K, W, stream_fingerprints

# A fingerprint stored in more places than this is boilerplate (MOSS ignores
# passages shared by many documents the same way): ~50 in 34k files of python-env
# are licence headers, `if __name__ == "__main__":` blocks and generated tables.
COMMON_POSTINGS = 50

COLUMNS = ["content", "repo", "path", "language", "license", "license_type", "sha256"]
BATCH_ROWS = 512

SCHEMA = """
CREATE TABLE IF NOT EXISTS sources(
    id INTEGER PRIMARY KEY, repo TEXT NOT NULL, path TEXT NOT NULL, language TEXT,
    license TEXT, license_type TEXT, sha256 TEXT UNIQUE, n_tokens INTEGER,
    n_code INTEGER, shard TEXT, offsets BLOB);
CREATE INDEX IF NOT EXISTS sources_repo ON sources(repo);
CREATE INDEX IF NOT EXISTS sources_shard ON sources(shard);
CREATE TABLE IF NOT EXISTS fingerprints(
    hash INTEGER NOT NULL, source_id INTEGER NOT NULL, token_pos INTEGER NOT NULL,
    PRIMARY KEY (hash, source_id, token_pos)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS shards(name TEXT PRIMARY KEY, sha256 TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS common(hash INTEGER PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS membership(
    id INTEGER PRIMARY KEY CHECK (id = 0), capacity INTEGER NOT NULL, error_rate REAL NOT NULL,
    items INTEGER NOT NULL, data BLOB NOT NULL);
"""


def connect(index_path: str | Path, create: bool = False) -> sqlite3.Connection:
    """Open (or with ``create``, make) an index; one built by a different k, w or
    normalisation is refused, since its fingerprints would never match."""
    path = Path(index_path)
    if not create and not path.exists():
        raise FileNotFoundError(f"no attribution index at {path}: build one with "
                                f"`commons index build DATASET --out {path}`")
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    if create:
        con.executescript(SCHEMA)
    want = {"k": str(K), "w": str(W), "normalize": NORMALIZE_VERSION}
    got = dict(con.execute("SELECT key, value FROM meta")) if _has_table(con, "meta") else {}
    if got and {k: got.get(k, "1" if k == "normalize" else None) for k in want} != want:
        con.close()
        raise ValueError(f"index {path} was built with {got}, this version uses {want}: rebuild it "
                         f"with `commons index build DATASET --out NEW_INDEX`")
    if create:
        con.executemany("INSERT OR IGNORE INTO meta VALUES (?, ?)", want.items())
        con.commit()
    return con


def _has_table(con: sqlite3.Connection, name: str) -> bool:
    return con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None


def pack_offsets(starts: list[int], ends: list[int]) -> bytes:
    a = array("I", [0]) * (2 * len(starts))
    a[0::2] = array("I", starts)
    a[1::2] = array("I", ends)
    return a.tobytes()


def unpack_offsets(blob: bytes) -> tuple[array, array]:
    a = array("I")
    a.frombytes(blob)
    return a[0::2], a[1::2]


def delete_sources(con: sqlite3.Connection, where: str, args: tuple) -> int:
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
               shard: str | None = None, membership: MembershipFilter | None = None) -> int | None:
    """Add one file; returns its source id, or None when its content is already there."""
    if sha256 is None:
        sha256 = hashlib.sha256(content.encode("utf-8", "surrogatepass")).hexdigest()
    toks, starts, ends, n_code = normalize_spans(content, language or None, guess=False)
    cur = con.execute(
        "INSERT OR IGNORE INTO sources(repo, path, language, license, license_type, sha256, n_tokens,"
        " n_code, shard, offsets) VALUES (?,?,?,?,?,?,?,?,?,?)",
        (repo, path, language, license, license_type, sha256, len(toks), n_code, shard,
         pack_offsets(starts, ends)))
    if cur.rowcount == 0:
        return None
    sid = cur.lastrowid
    fps = stream_fingerprints(toks, n_code)
    con.executemany("INSERT OR IGNORE INTO fingerprints VALUES (?,?,?)",
                    [(h, sid, pos) for h, pos in fps])
    if membership is not None:
        membership.add([h for h, _ in fps])
    return sid


def _filter_row(con: sqlite3.Connection) -> tuple | None:
    if not _has_table(con, "membership"):  # an index from before the filter existed
        return None
    return con.execute("SELECT capacity, error_rate, items, data FROM membership WHERE id = 0").fetchone()


def load_filter(con: sqlite3.Connection, capacity: int = 0) -> MembershipFilter:
    """The index's membership filter; a new one sized for ``capacity`` more
    fingerprints when there is none yet."""
    row = _filter_row(con)
    return MembershipFilter.from_row(*row) if row else MembershipFilter(capacity)


def update_common(con: sqlite3.Connection) -> int:
    """Recompute the common hashes (one scan of the clustered table); after a build.
    Removals leave them as they are: a hash only becomes less common then."""
    con.execute("DELETE FROM common")
    con.execute("INSERT INTO common SELECT hash FROM fingerprints GROUP BY hash HAVING count(*) > ?",
                (COMMON_POSTINGS,))
    return con.execute("SELECT count(*) FROM common").fetchone()[0]


def common_hashes(con: sqlite3.Connection) -> frozenset[int]:
    if not _has_table(con, "common"):  # an index from before the table existed
        return frozenset()
    return frozenset(h for (h,) in con.execute("SELECT hash FROM common"))


def read_filter(con: sqlite3.Connection) -> MembershipFilter:
    """The filter to query with: the saved one, or (an index written before the
    filter existed) one rebuilt from the fingerprint table, so none is missed."""
    row = _filter_row(con)
    return MembershipFilter.from_row(*row) if row else rebuild_filter(con)


def save_filter(con: sqlite3.Connection, membership: MembershipFilter) -> MembershipFilter:
    """Store the filter (inside the caller's transaction) and return the one to go
    on with: one that grew past its capacity (its false-positive rate rising) is
    first rebuilt twice as large."""
    if membership.overfull:
        membership = rebuild_filter(con, 2 * membership.items)
    con.execute("INSERT OR REPLACE INTO membership VALUES (0, ?, ?, ?, ?)", membership.to_row())
    return membership


def rebuild_filter(con: sqlite3.Connection, capacity: int = 0) -> MembershipFilter:
    """A fresh filter from every hash in the fingerprint table."""
    n = con.execute("SELECT count(*) FROM fingerprints").fetchone()[0]
    membership = MembershipFilter(max(capacity, 2 * n))
    cur = con.execute("SELECT hash FROM fingerprints")
    while rows := cur.fetchmany(100_000):
        membership.add([h for (h,) in rows])
    return membership


def update_languages(con: sqlite3.Connection) -> None:
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
            n = delete_sources(con, "repo = ?", (repo,))
            update_languages(con)
            save_filter(con, rebuild_filter(con))
            return n
    finally:
        con.close()
