"""A curated dataset's row: the one record `commons curate` writes and every reader
(the attribution index builder, `commons optout check --dataset`, the web UI's
dataset explorer) reads.

A dataset is a folder of Parquet shards, DIR/data/*.parquet (Hugging Face's
`datasets.load_dataset("parquet", data_dir="DIR/data")` layout), one `DatasetRow`
a row:

    from codecommons.dataset import rows, shards
    for row in rows("runs/stack", columns=["repo", "path", "license"]):
        ...                                    # {"repo": ..., "path": ..., "license": ...}

`schema()` is the Parquet schema the writer uses (explicit: an inferred one
breaks when a first batch lacks a value a later one has), `shards()` lists a
dataset's files, `batches()` / `rows()` read them with only the columns asked for,
and `row_groups()` / `read_cell()` give random access by (shard, row group, row),
as the dataset explorer (serve/dataset_catalog.py) keeps its index.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path


@dataclass(frozen=True)
class DatasetRow:
    content: str  # the file's text after PII redaction
    repo: str  # repository name as curation saw it (github.com/org/repo, pypi/NAME, folder name)
    path: str  # "/"-separated, relative to the repository root
    language: str  # Pygments' name ("Python", "JavaScript")
    license: str  # SPDX expression covering the file; "" when none
    license_type: str  # licenses.classify(): permissive | no_license | non_permissive
    size: int  # bytes of `content` in UTF-8
    sha256: str  # hex digest of `content` in UTF-8
    redactions: dict[str, int] = field(default_factory=dict)  # PII kind -> replacements

    @classmethod
    def of(cls, content: str, *, repo: str, path: str, language: str, license: str | None,
           license_type: str, redactions: dict[str, int] | None = None) -> "DatasetRow":
        """A row with `size` and `sha256` computed from `content`, and a count for
        every PII kind (0 where none was replaced)."""
        from codecommons.pii import ALL_KINDS

        data = content.encode("utf-8")
        counts = {k: int((redactions or {}).get(k, 0)) for k in ALL_KINDS}
        return cls(content, repo, path, language, license or "", license_type, len(data),
                   hashlib.sha256(data).hexdigest(), counts)

    def to_dict(self) -> dict:
        return asdict(self)


#: Column names, in schema order.
COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(DatasetRow))


def schema():
    """The Parquet (Arrow) schema of DIR/data/*.parquet."""
    import pyarrow as pa

    from codecommons.pii import ALL_KINDS

    return pa.schema([
        ("content", pa.string()), ("repo", pa.string()), ("path", pa.string()),
        ("language", pa.string()), ("license", pa.string()), ("license_type", pa.string()),
        ("size", pa.int64()), ("sha256", pa.string()),
        ("redactions", pa.struct([(k, pa.int64()) for k in ALL_KINDS])),
    ])


def shards(dataset: str | os.PathLike) -> list[Path]:
    """The Parquet shards of a dataset, sorted: DATASET/data/*.parquet (what
    `commons curate --out DATASET` wrote), DATASET/*.parquet, or one .parquet file."""
    root = Path(dataset)
    if root.is_file() and root.suffix == ".parquet":
        return [root]
    for folder in (root / "data", root):
        found = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
        if found:
            return found
    raise FileNotFoundError(f"{dataset}: no Parquet shards in {root / 'data'} or {root}; give "
                            f"the folder `commons curate --out` wrote")


def column_names(shard: str | os.PathLike) -> list[str]:
    """The columns a shard has (from its footer; nothing else is read)."""
    import pyarrow.parquet as pq

    return list(pq.ParquetFile(shard).schema_arrow.names)


def batches(shard: str | os.PathLike, columns: Sequence[str] | None = None,
            batch_size: int = 1024):
    """Arrow record batches of one shard with the `columns` asked for (all by
    default); ValueError naming the shard when one is missing."""
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(shard)
    have = set(pf.schema_arrow.names)
    wanted = list(columns) if columns is not None else list(pf.schema_arrow.names)
    missing = [c for c in wanted if c not in have]
    if missing:
        raise ValueError(f"{shard}: no {', '.join(missing)} column (columns: {', '.join(sorted(have))})")
    yield from pf.iter_batches(batch_size=batch_size, columns=wanted)


def rows(dataset: str | os.PathLike, columns: Sequence[str] | None = None,
         batch_size: int = 1024) -> Iterator[dict]:
    """Every row of a dataset as a dict of the `columns` asked for (all by
    default), shard by shard, in file order."""
    for shard in shards(dataset):
        for batch in batches(shard, columns, batch_size):
            yield from batch.to_pylist()


def row_groups(shard: str | os.PathLike, columns: Sequence[str]):
    """(row group index, Arrow table of `columns`) for each row group of a shard, in order."""
    import pyarrow.parquet as pq

    f = pq.ParquetFile(shard)
    for rg in range(f.num_row_groups):
        yield rg, f.read_row_group(rg, columns=list(columns))


def read_cell(shard: str | os.PathLike, row_group: int, row: int, column: str):
    """One value: `column` of row `row` of row group `row_group` (one column chunk read)."""
    import pyarrow.parquet as pq

    return pq.ParquetFile(shard).read_row_group(row_group, columns=[column]).column(0)[row].as_py()
