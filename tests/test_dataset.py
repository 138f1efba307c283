"""codecommons.dataset: the row record, its Parquet schema, shard listing and the
reader, as `commons curate` writes a dataset and its readers read it.

    python -m pytest tests/test_dataset.py -q
"""

from __future__ import annotations

import hashlib

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from codecommons import dataset
from codecommons.dataset import COLUMNS, DatasetRow
from codecommons.pii import ALL_KINDS


def test_row_computes_size_hash_and_every_redaction_kind():
    row = DatasetRow.of("x = 'é'\n", repo="pypi/foo", path="foo/a.py", language="Python",
                        license=None, license_type="no_license", redactions={"email": 2})
    assert row.size == len("x = 'é'\n".encode()) == 9
    assert row.sha256 == hashlib.sha256("x = 'é'\n".encode()).hexdigest()
    assert row.license == "" and row.redactions == {k: (2 if k == "email" else 0) for k in ALL_KINDS}
    assert tuple(row.to_dict()) == COLUMNS == tuple(dataset.schema().names)


def test_shards_and_rows(tmp_path):
    rows = [DatasetRow.of(f"v = {i}\n", repo=f"r{i % 2}", path=f"{i}.py", language="Python",
                          license="MIT", license_type="permissive") for i in range(5)]
    data = tmp_path / "ds" / "data"
    data.mkdir(parents=True)
    for name, part in (("00001.parquet", rows[3:]), ("00000.parquet", rows[:3])):
        pq.write_table(pa.Table.from_pylist([r.to_dict() for r in part], schema=dataset.schema()),
                       data / name)
    assert [p.name for p in dataset.shards(tmp_path / "ds")] == ["00000.parquet", "00001.parquet"]
    assert dataset.shards(data / "00001.parquet") == [data / "00001.parquet"]
    assert dataset.shards(data) == dataset.shards(tmp_path / "ds")
    got = list(dataset.rows(tmp_path / "ds", columns=["repo", "path"], batch_size=2))
    assert got == [{"repo": r.repo, "path": r.path} for r in rows]
    assert [DatasetRow(**r) for r in dataset.rows(tmp_path / "ds")] == rows  # a full round trip
    groups = list(dataset.row_groups(data / "00000.parquet", ["path"]))
    assert [(rg, t.column("path").to_pylist()) for rg, t in groups] == [(0, ["0.py", "1.py", "2.py"])]
    assert dataset.read_cell(data / "00001.parquet", 0, 1, "content") == "v = 4\n"
    with pytest.raises(ValueError, match="no authors column"):
        list(dataset.rows(tmp_path / "ds", columns=["authors"]))
    with pytest.raises(FileNotFoundError, match="commons curate --out"):
        dataset.shards(tmp_path / "empty")
