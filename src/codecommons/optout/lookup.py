"""Is a repository or an author in a curated dataset? (`commons optout check --dataset`)

Opt-out applies to runs made after an entry is added: datasets already built are
not rewritten, and this says whether one contains it. Reads only the columns it
needs (codecommons.dataset), batch by batch.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from codecommons import dataset
from codecommons.optout.registry import Entry, Registry


def find_in_dataset(data: str | os.PathLike, kind: str, value: str,
                    batch_size: int = 4096) -> Iterator[tuple[str, str]]:
    """(repo, path) of every row of the dataset from repository `value` (or
    under `org/*`), or, for an author, whose content (or `authors` column, where
    a dataset has one) contains the email, case-insensitively. Curated content
    has emails redacted to <EMAIL>, so an email check finds only addresses
    redaction missed: ask about the author's repositories too."""
    import pyarrow as pa
    import pyarrow.compute as pc

    wanted = Registry(entries=[Entry(kind, value, "")])
    for shard in dataset.shards(data):
        cols = ["repo", "path"]
        if kind == "author":
            cols += [c for c in ("content", "authors") if c in dataset.column_names(shard)]
        repo_hits: dict[str, bool] = {}
        for batch in dataset.batches(shard, cols, batch_size):
            if kind == "repo":
                repos = batch.column("repo")
                for r in pc.unique(repos).to_pylist():
                    if r not in repo_hits:
                        repo_hits[r] = wanted.match_repo(r or "") is not None
                hits = [r for r, yes in repo_hits.items() if yes]
                if not hits:
                    continue
                mask = pc.is_in(repos, value_set=pa.array(hits, type=repos.type))
            else:
                mask = None
                for col in cols[2:]:
                    column = batch.column(col)
                    if col == "authors" and pa.types.is_list(column.type):
                        column = pc.binary_join(column, "\n")
                    if not pa.types.is_string(column.type) and not pa.types.is_large_string(column.type):
                        column = pc.cast(column, pa.string())
                    m = pc.fill_null(pc.match_substring(column, value, ignore_case=True), False)
                    mask = m if mask is None else pc.or_(mask, m)
                if mask is None:
                    continue
            rows = batch.select(["repo", "path"]).filter(mask)
            yield from zip(rows.column("repo").to_pylist(), rows.column("path").to_pylist())
