"""The opt-out filter of `commons curate` (data/optout.py): repositories,
organisations and authors dropped with their reason; it pickles with the entries
its parent loaded, as the executors ship it to workers.

    python -m pytest tests/data/test_optout.py -q
"""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from datatrove.data import Document

from codecommons.data.optout import OptOut
from codecommons.optout.registry import add


@pytest.fixture
def reg(tmp_path) -> Path:
    return tmp_path / "home" / "optout.jsonl"


def doc(text: str, repo: str = "github.com/x/y", path: str = "a.py", **meta) -> Document:
    return Document(text=text, id=f"{repo}/{path}", metadata={"repo": repo, "path": path, **meta})


@pytest.fixture
def filled(reg) -> Path:
    for value in ("github.com/org/repo", "github.com/bigco/*", "jane@example.org"):
        assert add(value, registry=reg)[1]
    return reg


def test_filter_repo_and_org(filled):
    f = OptOut(filled)
    assert f.filter(doc("x = 1", repo="https://github.com/Org/Repo.git")) == (False, "opt_out:repo")
    assert f.filter(doc("x = 1", repo="github.com/org/repo")) == (False, "opt_out:repo")
    assert f.filter(doc("x = 1", repo="github.com/BigCo/tool")) == (False, "opt_out:repo")
    assert f.filter(doc("x = 1", repo="github.com/org/repo2")) is True
    assert f.filter(doc("x = 1", repo="pypi/requests")) is True


def test_filter_author_in_attribution(filled):
    """The text matcher (tests/optout/test_authors.py has the cases) drives the filter."""
    f = OptOut(filled)
    assert f.filter(doc("# Copyright (c) 2021 Jane Doe <Jane@Example.org>\n")) == (False, "opt_out:author")
    assert f.filter(doc("# Copyright (c) 2021 Bob Roe <bob@example.org>\n")) is True
    assert f.filter(doc('DEFAULT_USER = "jane@example.org"\n')) is True  # a value, not authorship


def test_filter_metadata_authors(filled):
    f = OptOut(filled)
    assert f.filter(doc("x = 1", repo="pypi/foo", authors=["Jane Doe <JANE@example.org>"])) == (
        False, "opt_out:author")
    assert f.filter(doc("x = 1", repo="pypi/foo", authors="Bob <bob@x.org>, jane@example.org")) == (
        False, "opt_out:author")
    assert f.filter(doc("x = 1", repo="pypi/foo", authors=["bob@x.org"])) is True


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
