"""Authors' opt-out: the registry (add/list/remove, normalisation, wildcards), the
OptOut pipeline filter, and `commons optout check` against a Parquet dataset.

    python -m pytest tests/data/test_optout.py -q
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
from datatrove.data import Document

from codecommons.data.optout import (Entry, OptOut, Registry, attributed_emails, main,
                                     metadata_authors, parse_value)


@pytest.fixture
def reg(tmp_path) -> Path:
    return tmp_path / "home" / "optout.jsonl"


def cli(capsys, *argv) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


# --- values -------------------------------------------------------------------


@pytest.mark.parametrize("raw, kind, value", [
    ("https://github.com/Org/Repo.git", "repo", "github.com/org/repo"),
    ("github.com/org/repo", "repo", "github.com/org/repo"),
    ("github.com/org/repo/", "repo", "github.com/org/repo"),
    ("http://GitHub.com/org/repo.git/", "repo", "github.com/org/repo"),
    ("git@github.com:Org/Repo.git", "repo", "github.com/org/repo"),
    ("ssh://git@github.com/org/repo", "repo", "github.com/org/repo"),
    ("https://github.com/Org/*", "repo", "github.com/org/*"),
    ("gitlab.com/group/sub/project", "repo", "gitlab.com/group/sub/project"),
    ("pypi/Foo_Bar", "repo", "pypi/foo-bar"),
    ("https://pypi.org/project/Foo.Bar/", "repo", "pypi/foo-bar"),
    ("python/cpython-stdlib", "repo", "python/cpython-stdlib"),
    ("my-folder", "repo", "my-folder"),
    ("Jane.Doe@Example.ORG", "author", "jane.doe@example.org"),
    ("Jane Doe <jane@example.org>", "author", "jane@example.org"),
    ("mailto:jane@example.org", "author", "jane@example.org"),
])
def test_values_are_normalised(raw, kind, value):
    assert parse_value(raw) == (kind, value)


@pytest.mark.parametrize("raw", ["", "   ", "hello world", "a@b", "jane@", "@example.org", "*",
                                 "github.com/*/repo", "../etc", "github.com/org/re po"])
def test_invalid_values(raw, reg, capsys):
    with pytest.raises(ValueError):
        parse_value(raw)
    for command in ("add", "check", "remove"):
        rc, _, err = cli(capsys, command, raw, "--registry", reg)
        assert rc == 2 and "commons optout:" in err
    assert not reg.exists()


# --- the registry -------------------------------------------------------------


def test_add_list_remove_idempotent(reg, capsys):
    rc, out, _ = cli(capsys, "add", "https://github.com/Org/Repo.git", "--note", "request #1",
                     "--registry", reg)
    assert rc == 0 and "opted out: repo github.com/org/repo" in out
    assert cli(capsys, "add", "Jane <JANE@example.org>", "--registry", reg)[0] == 0
    rc, out, _ = cli(capsys, "add", "github.com/org/repo", "--registry", reg)  # same repo
    assert rc == 0 and "already opted out" in out

    rows = [json.loads(line) for line in reg.read_text().splitlines()]
    assert [(r["kind"], r["value"], r["note"]) for r in rows] == [
        ("repo", "github.com/org/repo", "request #1"), ("author", "jane@example.org", "")]
    assert all(len(r["added"]) == 10 and r["added"][4] == "-" for r in rows)  # ISO date
    assert sorted(p.name for p in reg.parent.iterdir()) == ["optout.jsonl"]  # no temp files

    rc, out, _ = cli(capsys, "list", "--registry", reg)
    assert rc == 0 and "github.com/org/repo" in out and "request #1" in out
    assert "jane@example.org" in out and "2 entries" in out

    rc, out, _ = cli(capsys, "remove", "git@github.com:org/repo", "--registry", reg)
    assert rc == 0 and "removed" in out
    assert cli(capsys, "remove", "github.com/org/repo", "--registry", reg)[0] == 1  # gone
    assert [e.value for e in Registry.load(reg).entries] == ["jane@example.org"]


def test_default_registry_is_in_commons_home(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COMMONS_HOME", str(tmp_path / "cc"))
    assert cli(capsys, "add", "github.com/a/b")[0] == 0
    assert (tmp_path / "cc" / "optout.jsonl").exists()
    rc, out, _ = cli(capsys, "list")
    assert rc == 0 and "github.com/a/b" in out


def test_bad_registry_file_is_a_clear_error(reg, capsys):
    reg.parent.mkdir(parents=True)
    reg.write_text('{"kind": "repo", "value": "github.com/a/b", "added": "2024-01-01"}\n'
                   '{"kind": "person", "value": "x"}\n')
    rc, _, err = cli(capsys, "list", "--registry", reg)
    assert rc == 2 and "optout.jsonl:2" in err


def test_org_wildcard():
    assert Registry.load("/nonexistent/optout.jsonl").entries == []  # missing: empty
    r = Registry(entries=[Entry("repo", "github.com/org/*", "2024-01-01"),
                          Entry("repo", "github.com/other/one", "2024-01-01")])
    assert r.match_repo("https://github.com/ORG/anything.git") == "github.com/org/*"
    assert r.match_repo("github.com/org/group/deep") == "github.com/org/*"
    assert r.match_repo("github.com/org/*") == "github.com/org/*"
    assert r.match_repo("github.com/org") is None  # the wildcard is for what is below
    assert r.match_repo("github.com/organisation/x") is None
    assert r.match_repo("github.com/other/one") == "github.com/other/one"
    assert r.match_repo("github.com/other/one-fork") is None  # forks are other repos
    assert r.match_repo("github.com/other/*") is None


# --- the filter ---------------------------------------------------------------


def doc(text: str, repo: str = "github.com/x/y", path: str = "a.py", **meta) -> Document:
    return Document(text=text, id=f"{repo}/{path}", metadata={"repo": repo, "path": path, **meta})


@pytest.fixture
def filled(reg, capsys) -> Path:
    for value in ("github.com/org/repo", "github.com/bigco/*", "jane@example.org"):
        assert cli(capsys, "add", value, "--registry", reg)[0] == 0
    return reg


def test_filter_repo_and_org(filled):
    f = OptOut(filled)
    assert f.filter(doc("x = 1", repo="https://github.com/Org/Repo.git")) == (False, "opt_out:repo")
    assert f.filter(doc("x = 1", repo="github.com/org/repo")) == (False, "opt_out:repo")
    assert f.filter(doc("x = 1", repo="github.com/BigCo/tool")) == (False, "opt_out:repo")
    assert f.filter(doc("x = 1", repo="github.com/org/repo2")) is True
    assert f.filter(doc("x = 1", repo="pypi/requests")) is True


@pytest.mark.parametrize("text", [
    "# Copyright (c) 2021 Jane Doe <Jane@Example.org>\nimport os\n",
    "/*\n * Copyright 2019 Jane Doe (jane@example.org)\n */\nint main() {}\n",
    '__author__ = "Jane Doe"\n__email__ = "jane@example.org"\n',
    "/**\n * @author jane@example.org\n */\nclass A {}\n",
    "# Author: Jane Doe, jane@example.org\n",
    "# Authors:\n#   Bob Roe <bob@example.org>\n#   Jane Doe   jane@example.org\n\nx = 1\n",
    'setup(name="x", author_email="jane@example.org")\n',
    "# Written by Jane Doe, jane at example dot org\n",
    "Jane Doe <jane@example.org>\nBob <bob@example.org>\n",  # an AUTHORS file
])
def test_filter_author_in_attribution(filled, text):
    assert OptOut(filled).filter(doc(text)) == (False, "opt_out:author")


@pytest.mark.parametrize("text", [
    "# Copyright (c) 2021 Bob Roe <bob@example.org>\nx = 1\n",  # someone else
    'DEFAULT_USER = "jane@example.org"  # a value, not an attribution\n',
    "# Copyright 2020 Jane Doe\n\nimport os\nSUPPORT = 'jane@example.org'\n",  # code, not a list
    "# Copyright 2021 Jane Doe\n",  # a name alone is not matched
    "",
])
def test_filter_keeps_what_is_not_attributed(filled, text):
    assert OptOut(filled).filter(doc(text)) is True


def test_filter_metadata_authors(filled):
    f = OptOut(filled)
    assert f.filter(doc("x = 1", repo="pypi/foo", authors=["Jane Doe <JANE@example.org>"])) == (
        False, "opt_out:author")
    assert f.filter(doc("x = 1", repo="pypi/foo", authors="Bob <bob@x.org>, jane@example.org")) == (
        False, "opt_out:author")
    assert f.filter(doc("x = 1", repo="pypi/foo", authors=["bob@x.org"])) is True
    meta = ("Metadata-Version: 2.1\nName: foo\nAuthor: Bob\n"
            "Author-email: Jane Doe <jane@example.org>, Bob <bob@x.org>\n"
            "Maintainer-email: carol@y.org\n\nLong description with eve@z.org\n")
    assert metadata_authors(meta) == ["bob@x.org", "carol@y.org", "jane@example.org"]
    assert metadata_authors(None) == []


def test_filter_run_counts_reasons_and_pickles(filled):
    f = pickle.loads(pickle.dumps(OptOut(filled)))  # as the executors ship it to workers
    docs = [doc("x", repo="github.com/org/repo"), doc("# (c) jane@example.org\n"), doc("y")]
    kept = list(f.run(iter(docs)))
    assert [d.text for d in kept] == ["y"]
    stats = f.stats.to_dict()["stats"]
    assert stats["dropped_opt_out:repo"] == 1 and stats["dropped_opt_out:author"] == 1
    loaded = OptOut(filled)
    digest = loaded.digest()  # loads in the parent: the pickle carries the entries
    filled.unlink()
    clone = pickle.loads(pickle.dumps(loaded))
    assert clone.digest() == digest and clone.filter(doc("x", repo="github.com/org/repo"))[0] is False


def test_filter_registry_missing(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError):
        OptOut(tmp_path / "nope.jsonl")
    monkeypatch.setenv("COMMONS_HOME", str(tmp_path / "empty-home"))
    assert OptOut().filter(doc("# Copyright jane@example.org", repo="github.com/org/repo")) is True


def test_long_unbroken_text_is_fast():
    import time

    text = "A" * 2_000_000 + "@" + "b" * 300 + ".com " + "x@y" * 100_000
    t0 = time.perf_counter()
    assert attributed_emails(text, {"jane@example.org"}) == set()
    assert time.perf_counter() - t0 < 2


# --- check against a dataset ----------------------------------------------------


@pytest.fixture
def dataset(tmp_path) -> Path:
    """Two shards with the columns of steps.output_row."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    def shard(name: str, rows: list[tuple[str, str, str]]) -> None:
        red = {"email": 0, "ip_address": 0, "key": 0, "password": 0, "private_key": 0}
        table = pa.Table.from_pylist([
            {"content": c, "repo": r, "path": p, "language": "Python", "license": "MIT",
             "license_type": "permissive", "size": len(c), "sha256": "0" * 64, "redactions": red}
            for r, p, c in rows])
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
