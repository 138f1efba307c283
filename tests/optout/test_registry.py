"""The opt-out registry: values and their normalisation, add/list/remove (through
`commons optout`), wildcards, a bad registry file.

    python -m pytest tests/optout/test_registry.py -q
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codecommons.optout.cli import main
from codecommons.optout.registry import Entry, Registry, parse_value


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
