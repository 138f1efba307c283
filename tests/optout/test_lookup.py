"""`commons optout check --dataset`: is a repository, an organisation or an email
in a curated dataset (codecommons.dataset's shards)?

    python -m pytest tests/optout/test_lookup.py -q
"""

from __future__ import annotations

from pathlib import Path

import pytest

from codecommons.dataset import DatasetRow, schema
from tests.optout.test_registry import cli


@pytest.fixture
def reg(tmp_path) -> Path:
    return tmp_path / "home" / "optout.jsonl"


@pytest.fixture
def filled(reg, capsys) -> Path:
    for value in ("github.com/org/repo", "github.com/bigco/*", "jane@example.org"):
        assert cli(capsys, "add", value, "--registry", reg)[0] == 0
    return reg


@pytest.fixture
def dataset(tmp_path) -> Path:
    """Two shards of dataset rows, written with the dataset schema."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    def shard(name: str, rows: list[tuple[str, str, str]]) -> None:
        table = pa.Table.from_pylist([
            DatasetRow.of(c, repo=r, path=p, language="Python", license="MIT",
                          license_type="permissive").to_dict() for r, p, c in rows], schema=schema())
        pq.write_table(table, data / name)

    data = tmp_path / "ds" / "data"
    data.mkdir(parents=True)
    shard("00000.parquet", [("github.com/Org/Repo", "src/a.py", "x = 1\n"),
                            ("pypi/Foo_Bar", "foo_bar/__init__.py", "# <EMAIL>\n")])
    shard("00001.parquet", [("github.com/other/thing", "b.py", "# (c) Bob <bob@example.org>\n"),
                            ("github.com/org/repo", "src/c.py", "y = 2\n")])
    return tmp_path / "ds"


def test_check_repo_in_dataset(dataset, reg, capsys):
    rc, out, _ = cli(capsys, "check", "https://github.com/org/repo.git", "--dataset", dataset,
                     "--registry", reg)
    assert rc == 1
    assert "not opted out" in out and "IN the dataset" in out and "2 file(s)" in out
    assert "github.com/Org/Repo/src/a.py" in out and "github.com/org/repo/src/c.py" in out
    rc, out, _ = cli(capsys, "check", "pypi/foo-bar", "--dataset", dataset, "--registry", reg)
    assert rc == 1 and "foo_bar/__init__.py" in out
    rc, out, _ = cli(capsys, "check", "github.com/org/*", "--dataset", dataset, "--limit", "1",
                     "--registry", reg)
    assert rc == 1 and "... and 1 more" in out


def test_check_absent_from_dataset(dataset, filled, capsys):
    rc, out, _ = cli(capsys, "check", "github.com/org/repo2", "--dataset", dataset,
                     "--registry", filled)
    assert rc == 0 and "not in the dataset" in out
    rc, out, _ = cli(capsys, "check", "github.com/bigco/tool", "--dataset", dataset,
                     "--registry", filled)
    assert rc == 0 and "opted out by github.com/bigco/*" in out
    rc, out, _ = cli(capsys, "check", "jane@example.org", "--dataset", dataset, "--registry", filled)
    assert rc == 0 and "jane@example.org: opted out" in out and "not in the dataset" in out


def test_check_email_in_dataset(dataset, reg, capsys):
    rc, out, _ = cli(capsys, "check", "BOB@example.org", "--dataset", dataset, "--registry", reg)
    assert rc == 1 and "github.com/other/thing/b.py" in out


def test_check_without_dataset_and_bad_dataset(filled, tmp_path, capsys):
    rc, out, _ = cli(capsys, "check", "github.com/org/repo", "--registry", filled)
    assert rc == 0 and "github.com/org/repo: opted out (added" in out
    rc, _, err = cli(capsys, "check", "github.com/org/repo", "--dataset", tmp_path / "none",
                     "--registry", filled)
    assert rc == 2 and "no Parquet shards" in err
