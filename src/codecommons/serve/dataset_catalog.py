"""What the dataset explorer knows of a curated dataset (`commons serve --dataset DIR`).

At startup the metadata columns of every shard (repo, path, language, licence,
size, hash, redactions; not the content) are read into one Arrow table, with
lower-cased repo and path columns: repository and path searches are vectorised
substring / glob matches over it (a few ms for 100k files) and never touch file
content. A file's content is read on demand from its shard's row group. Only an
author search reads content, shard by shard, because the files' text is the only
place authors appear (emails are redacted in curated data, so names find more).
The excluded files (DIR/excluded/*.jsonl) are indexed by repository too, so
"is my code in it?" can say that a repository was read and why its files were
dropped.

A 100k-file dataset costs ~20 MB of memory here.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path

INDEX_COLUMNS = ["repo", "path", "language", "license", "license_type", "size", "sha256", "redactions"]
MAX_LIMIT = 500
_SCAN_LOCK = threading.Lock()
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")
_SCP = re.compile(r"^[^/@]+@([^:/]+):(.+)$")  # git@github.com:org/repo
_PYPI = re.compile(r"^(?:pypi\.org/project|pypi)/([^/]+)$")


# -- reading shards: the one place that knows the on-disk layout (DIR/data/*.parquet,
#    the columns `commons curate` writes). Swap for codecommons.dataset's reader. --

def shards(root: Path) -> list[Path]:
    return sorted((root / "data").glob("*.parquet"))


def read_shard(shard: Path, columns: list[str]):
    """(row group, pyarrow.Table) of each row group of `shard`, in order."""
    import pyarrow.parquet as pq

    f = pq.ParquetFile(shard)
    for rg in range(f.num_row_groups):
        yield rg, f.read_row_group(rg, columns=columns)


def dataset_problems(root: Path) -> list[str]:
    """What keeps `root` from being explored: no shards, or shards without the
    columns `commons curate` writes (read from the Parquet footers only)."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return ["--dataset needs pyarrow: pip install 'codecommons[attribution]'"]
    paths = shards(root)
    if not paths:
        return [f"--dataset {root}: no DIR/data/*.parquet there; give a `commons curate ... "
                f"--out DIR` output folder"]
    for shard in paths:
        try:
            names = set(pq.read_schema(shard).names)
        except (OSError, ValueError, pa.ArrowException) as e:
            return [f"--dataset {root}: {shard.name} is not readable Parquet ({e})"]
        missing = [c for c in [*INDEX_COLUMNS, "content"] if c not in names]
        if missing:
            return [f"--dataset {root}: {shard.name} lacks column(s) {', '.join(missing)}; "
                    f"is it a `commons curate` output?"]
    return []


def read_cell(shard: Path, row_group: int, row: int, column: str):
    import pyarrow.parquet as pq

    return pq.ParquetFile(shard).read_row_group(row_group, columns=[column]).column(0)[row].as_py()


# -----------------------------------------------------------------------------------

def query_form(text: str) -> str:
    """A repository as users type it -> the form datasets name repositories in
    (`https://github.com/Org/Repo.git` -> `github.com/org/repo`,
    `https://pypi.org/project/Foo_Bar/` -> `pypi/foo-bar`)."""
    s = _SCHEME.sub("", text.strip().lower())
    if m := _SCP.match(s):
        s = f"{m.group(1)}/{m.group(2)}"
    s = s.strip("/").removesuffix(".git")
    if m := _PYPI.match(s):  # python-env names a distribution pypi/NAME (PEP 503)
        s = "pypi/" + re.sub(r"[-_.]+", "-", m.group(1))
    return s


def glob_regex(pattern: str) -> str:
    """A path glob as an RE2 pattern (pyarrow's): `*` any characters, `?` one;
    anchored at the end only, so `tests/*.py` finds `pkg/tests/a.py`."""
    out = [".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern.lower()]
    return "".join(out) + "$"


@dataclass
class DatasetCatalog:
    root: Path
    table: object  # pyarrow.Table: INDEX_COLUMNS + _shard, _rg, _row, _repo_lc, _path_lc
    excluded: object  # pyarrow.Table: repo, path, reason, _repo_lc, _kind
    stats: dict
    card: str
    shard_paths: list[Path]
    _by_key: dict[tuple[str, str], int]

    @classmethod
    def open(cls, root: str | Path) -> "DatasetCatalog":
        try:
            import pyarrow as pa
            import pyarrow.compute as pc
        except ImportError as e:
            raise ImportError("--dataset needs pyarrow: pip install 'codecommons[attribution]'") from e
        root = Path(root)
        paths = shards(root)
        if not paths:
            raise ValueError(f"--dataset {root}: no DIR/data/*.parquet (a `commons curate` output)")
        parts = []
        for i, shard in enumerate(paths):
            try:
                for rg, t in read_shard(shard, INDEX_COLUMNS):
                    n = t.num_rows
                    t = t.append_column("_shard", pa.array([i] * n, pa.int32()))
                    t = t.append_column("_rg", pa.array([rg] * n, pa.int32()))
                    parts.append(t.append_column("_row", pa.array(range(n), pa.int32())))
            except (OSError, pa.ArrowException, KeyError) as e:
                raise ValueError(f"--dataset {root}: cannot read {shard.name} ({e}); is it a "
                                 f"`commons curate` output?") from e
        # sorted once by repo, path: filtered views keep that order, so no request sorts
        table = pa.concat_tables(parts).sort_by([("repo", "ascending"), ("path", "ascending")])
        table = table.append_column("_repo_lc", pc.utf8_lower(table["repo"]))
        table = table.append_column("_path_lc", pc.utf8_lower(table["path"]))
        excluded = _read_excluded(root)
        stats_file, card_file = root / "stats.json", root / "README.md"
        stats = json.loads(stats_file.read_text()) if stats_file.exists() else _stats(table, excluded)
        keys = zip(table["repo"].to_pylist(), table["path"].to_pylist())
        return cls(root, table, excluded, stats, card_file.read_text() if card_file.exists() else "",
                   paths, {k: i for i, k in enumerate(keys)})

    @property
    def n_files(self) -> int:
        return self.table.num_rows

    @property
    def n_repos(self) -> int:
        import pyarrow.compute as pc

        return pc.count_distinct(self.table["repo"]).as_py()

    def has(self, repo: str, path: str) -> bool:
        return (repo, path) in self._by_key

    def _rows(self, table, offset: int, limit: int) -> list[dict]:
        rows = table.slice(offset, min(limit, MAX_LIMIT)).select(INDEX_COLUMNS).to_pylist()
        for r in rows:
            r["redactions"] = {k: v for k, v in (r["redactions"] or {}).items() if v is not None}
        return rows

    def files(self, repo: str = "", path: str = "", exact_repo: bool = False,
              offset: int = 0, limit: int = 100) -> tuple[int, list[dict]]:
        """Files whose repository contains (or, exact, is) `repo` and whose path
        contains `path` (or matches it as a glob when it has * or ?), by repo, path."""
        import pyarrow.compute as pc

        t = self.table
        if repo:
            t = t.filter(pc.equal(t["repo"], repo) if exact_repo
                         else pc.match_substring(t["_repo_lc"], query_form(repo)))
        if path:
            p = path.strip().lower()
            t = t.filter(pc.match_substring_regex(t["_path_lc"], glob_regex(p)) if any(c in p for c in "*?")
                         else pc.match_substring(t["_path_lc"], p))
        return t.num_rows, self._rows(t, offset, limit)

    def repos(self, q: str, limit: int = 50) -> tuple[int, list[dict]]:
        """Repositories whose name contains `q`: files, bytes and licences kept,
        and files excluded by reason."""
        import pyarrow.compute as pc

        t = self.table.filter(pc.match_substring(self.table["_repo_lc"], query_form(q)))
        g = t.group_by("repo").aggregate([("path", "count"), ("size", "sum"), ("license", "distinct")])
        g = g.sort_by([("path_count", "descending"), ("repo", "ascending")])
        total = g.num_rows
        ex = self.excluded.filter(pc.match_substring(self.excluded["_repo_lc"], query_form(q)))
        by_reason: dict[str, dict[str, int]] = {}
        for r in ex.group_by(["repo", "_kind"]).aggregate([("path", "count")]).to_pylist():
            by_reason.setdefault(r["repo"], {})[r["_kind"]] = r["path_count"]
        out = [{"repo": r["repo"], "files": r["path_count"], "bytes": r["size_sum"],
                "licenses": sorted(x or "none" for x in r["license_distinct"]),
                "excluded": by_reason.get(r["repo"], {})}
               for r in g.slice(0, min(limit, MAX_LIMIT)).to_pylist()]
        return total, out

    def excluded_files(self, repo: str, limit: int = 50) -> tuple[int, list[dict]]:
        import pyarrow.compute as pc

        t = self.excluded.filter(pc.match_substring(self.excluded["_repo_lc"], query_form(repo)))
        t = t.sort_by([("repo", "ascending"), ("path", "ascending")])
        return t.num_rows, t.slice(0, min(limit, MAX_LIMIT)).select(["repo", "path", "reason"]).to_pylist()

    def file(self, repo: str, path: str) -> dict | None:
        i = self._by_key.get((repo, path))
        if i is None:
            return None
        row = self.table.slice(i, 1).to_pylist()[0]
        shard = self.shard_paths[row["_shard"]]
        out = self._rows(self.table.slice(i, 1), 0, 1)[0]
        out["content"] = read_cell(shard, row["_rg"], row["_row"], "content")
        out["shard"] = str(shard.relative_to(self.root))
        return out

    def mentions(self, text: str, limit: int = 50) -> tuple[int, int, list[dict]]:
        """Files whose content contains `text` (case-insensitive): (matches, files
        scanned, first `limit` rows). Reads every shard's content column."""
        import pyarrow as pa
        import pyarrow.compute as pc

        hits = []
        with _SCAN_LOCK:  # one content scan at a time: each reads the whole dataset
            for shard in self.shard_paths:
                for _, t in read_shard(shard, ["repo", "path", "content"]):
                    mask = pc.match_substring(t["content"], text, ignore_case=True)
                    for r in t.filter(mask).select(["repo", "path"]).to_pylist():
                        hits.append(self._by_key[(r["repo"], r["path"])])
        rows = self.table.take(pa.array(sorted(hits), pa.int64())) if hits else self.table.slice(0, 0)
        return len(hits), self.n_files, self._rows(rows, 0, limit)


def _read_excluded(root: Path):
    """DIR/excluded/*.jsonl -> a table of (repo, path, reason); other fields dropped."""
    import pyarrow as pa
    import pyarrow.compute as pc

    repos, paths, reasons = [], [], []
    for part in sorted((root / "excluded").glob("*.jsonl")):
        with open(part, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    r = json.loads(line)
                    repos.append(str(r.get("repo", "")))
                    paths.append(str(r.get("path", "")))
                    reasons.append(str(r.get("reason", "")))
    t = pa.table({"repo": pa.array(repos, pa.string()), "path": pa.array(paths, pa.string()),
                  "reason": pa.array(reasons, pa.string())})
    # the stage part of a reason (`contaminated:humaneval` -> `contaminated`), as stats.json counts
    kind = pc.list_element(pc.split_pattern(t["reason"], ":", max_splits=1), 0)
    return t.append_column("_repo_lc", pc.utf8_lower(t["repo"])).append_column("_kind", kind)


def _stats(table, excluded) -> dict:
    """stats.json's figures, for a dataset folder that has none."""
    def ranked(col: str) -> dict:
        g = table.group_by(col).aggregate([("path", "count"), ("size", "sum")]).to_pylist()
        g.sort(key=lambda r: (-r["size_sum"], str(r[col])))
        return {str(r[col] or "none"): {"files": r["path_count"], "bytes": r["size_sum"]} for r in g}

    reasons: dict[str, int] = {}
    for r in excluded["_kind"].to_pylist():
        reasons[r] = reasons.get(r, 0) + 1
    kept = table.num_rows
    return {"kept_files": kept, "kept_bytes": sum(table["size"].to_pylist()),
            "total_files": kept + excluded.num_rows, "excluded": dict(sorted(reasons.items())),
            "redactions": {}, "languages": ranked("language"), "licenses": ranked("license")}
