"""The opt-out request queue the web UI's form writes: submit validates every
field, pending lists, approve adds to the registry under its lock, reject adds
nothing; concurrent submitters in real processes lose nothing.

    python -m pytest tests/optout/test_requests.py -q
"""

from __future__ import annotations

import json
import multiprocessing
import os
import stat
from pathlib import Path

import pytest

from codecommons.optout import requests
from codecommons.optout.registry import Registry


@pytest.fixture
def reg(tmp_path) -> Path:
    return tmp_path / "home" / "optout.jsonl"


def test_submit_normalises_and_queues(reg):
    req = requests.submit("Jane Doe", " Jane <JANE@Example.org> ",
                          repos=["https://github.com/Jane/Tool.git", "github.com/jane/tool",
                                 "git@github.com:jane/*"],
                          authors=["mailto:Jane@example.org"], note="all of it\nplease",
                          registry=reg)
    assert req.contact == "jane@example.org"
    assert req.repos == ["github.com/jane/tool", "github.com/jane/*"]  # duplicates folded
    assert req.authors == ["jane@example.org"]
    assert req.status == "pending" and req.decided is None and req.created.endswith("+00:00")
    path = reg.parent / "optout-requests.jsonl"
    assert requests.requests_path(reg) == path
    [row] = [json.loads(line) for line in path.read_text().splitlines()]
    assert row["id"] == req.id and row["note"] == "all of it\nplease"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # contact addresses are personal data
    assert [r.id for r in requests.pending(reg)] == [req.id]
    assert not reg.exists()  # a request adds nothing by itself


@pytest.mark.parametrize("kwargs, fields", [
    (dict(repos=[], authors=[]), {"repos", "authors"}),
    (dict(contact="not an email"), {"contact"}),
    (dict(contact=""), {"contact"}),
    (dict(repos=["github.com/ok/one", "github.com/bad repo"]), {"repos[1]"}),
    (dict(repos=["jane@example.org"]), {"repos[0]"}),  # an email under repos
    (dict(authors=["jane@", "bob@example.org"]), {"authors[0]"}),
    (dict(repos="github.com/a/b"), {"repos"}),  # one string, not a list
    (dict(repos=[f"github.com/o/r{i}" for i in range(101)]), {"repos"}),
    (dict(repos=["github.com/o/" + "r" * 400]), {"repos[0]"}),
    (dict(name="x" * 201), {"name"}),
    (dict(name="Jane\r\nX-Injected: yes"), {"name"}),
    (dict(note="n" * 4001), {"note"}),
    (dict(contact="bad", authors=["@nope"], name="y" * 300), {"contact", "authors[0]", "name"}),
])
def test_submit_names_every_bad_field(reg, kwargs, fields):
    args = dict(name="Jane", contact="jane@example.org", repos=["github.com/jane/tool"],
                authors=[], note="")
    args.update(kwargs)
    with pytest.raises(ValueError) as err:
        requests.submit(registry=reg, **args)
    assert set(err.value.problems) == fields
    for f in fields:
        assert f"{f}: " in str(err.value)  # one line per bad field
    assert not requests.requests_path(reg).exists()


def test_approve_adds_entries_and_reject_adds_nothing(reg):
    a = requests.submit("Jane", "jane@example.org", ["github.com/jane/tool", "pypi/Jane_Lib"],
                        ["jane@example.org"], registry=reg)
    b = requests.submit("Mallory", "m@evil.example.net", ["github.com/victim/repo"], [], registry=reg)
    entries = requests.approve(a.id, registry=reg)
    assert [(e.kind, e.value) for e in entries] == [
        ("repo", "github.com/jane/tool"), ("repo", "pypi/jane-lib"), ("author", "jane@example.org")]
    assert all(e.note == f"opt-out request {a.id}" for e in entries)
    loaded = Registry.load(reg)
    assert loaded.match_repo("https://github.com/Jane/Tool") == "github.com/jane/tool"
    assert loaded.match_email("JANE@example.org")
    rejected = requests.reject(b.id, registry=reg)
    assert rejected.status == "rejected" and rejected.decided
    assert loaded.match_repo("github.com/victim/repo") is None
    assert Registry.load(reg).match_repo("github.com/victim/repo") is None
    assert requests.pending(reg) == []
    statuses = {r.id: r.status for r in requests.all_requests(reg)}
    assert statuses == {a.id: "approved", b.id: "rejected"}  # decided requests are kept
    with pytest.raises(ValueError, match="already approved"):
        requests.approve(a.id, registry=reg)
    with pytest.raises(ValueError, match="commons optout pending"):
        requests.reject("nosuchid", registry=reg)


def test_approve_keeps_existing_entries(reg):
    from codecommons.optout.registry import add

    first, _ = add("github.com/jane/tool", note="earlier", registry=reg, today="2024-01-02")
    req = requests.submit("Jane", "jane@example.org", ["github.com/Jane/Tool"], [], registry=reg)
    [entry] = requests.approve(req.id, registry=reg)
    assert entry == first  # not duplicated, not re-dated
    assert len(Registry.load(reg).entries) == 1


def _submit_many(reg: str, who: int, n: int) -> None:
    for i in range(n):
        requests.submit(f"user {who}", f"u{who}@example.org", [f"github.com/u{who}/r{i}"], [],
                        registry=reg)


def test_concurrent_submits_lose_nothing(reg):
    ctx = multiprocessing.get_context("spawn")  # real processes, each taking the lock
    procs = [ctx.Process(target=_submit_many, args=(str(reg), w, 15)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    waiting = requests.pending(reg)
    assert len(waiting) == 60 and len({r.id for r in waiting}) == 60
    assert [f for f in os.listdir(reg.parent) if f.endswith(".tmp")] == []


def test_unreadable_queue_is_a_clear_error(reg):
    reg.parent.mkdir(parents=True)
    requests.requests_path(reg).write_text('{"id": "x"}\n')
    with pytest.raises(ValueError, match="optout-requests.jsonl:1"):
        requests.pending(reg)
