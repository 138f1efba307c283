"""A stand-in for `codecommons.optout.requests` (the opt-out request queue being
built on another branch), used by the tests only while that module is missing:
the API the web UI's form route calls, with the same names and behaviour as its
specification (submit validates and raises ValueError naming the bad field;
requests are JSON Lines beside the registry, $COMMONS_HOME/optout-requests.jsonl).

`install(monkeypatch)` puts it in sys.modules when the real module cannot be
imported, and returns whichever module the server will use.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import os
import re
import sys
import types
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
REPO = re.compile(r"^[\w.~+-]+(/[\w.~+-]+)*(/\*)?$")


@dataclass
class OptOutRequest:
    id: str
    name: str
    contact: str
    repos: list[str]
    authors: list[str]
    note: str
    created: str
    status: str = "pending"
    decided: str | None = None


@dataclass
class Entry:
    kind: str
    value: str
    added: str
    note: str = ""


def _file(registry) -> Path:
    base = Path(registry).parent if registry else Path(os.environ["COMMONS_HOME"])
    return base / "optout-requests.jsonl"


def _load(registry) -> list[OptOutRequest]:
    f = _file(registry)
    return [OptOutRequest(**json.loads(line)) for line in f.read_text().splitlines()] if f.exists() else []


def _save(reqs: list[OptOutRequest], registry) -> None:
    f = _file(registry)
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text("".join(json.dumps(asdict(r)) + "\n" for r in reqs))


def submit(name, contact, repos, authors, note="", registry=None) -> OptOutRequest:
    problems = []
    if not name.strip():
        problems.append("name: empty")
    if not EMAIL.match(contact.strip()):
        problems.append(f"contact: {contact!r} is not an email address")
    if not repos and not authors:
        problems.append("give at least one repository or author email")
    problems += [f"repos: {r!r} is not a repository" for r in repos if not REPO.match(r.strip().lower().split("://")[-1])]
    problems += [f"authors: {a!r} is not an email address" for a in authors if not EMAIL.match(a.strip())]
    if problems:
        raise ValueError("; ".join(problems))
    req = OptOutRequest(uuid.uuid4().hex[:8], name.strip(), contact.strip().lower(),
                        [r.strip().lower().split("://")[-1] for r in repos],
                        [a.strip().lower() for a in authors], note,
                        dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
    _save(_load(registry) + [req], registry)
    return req


def pending(registry=None) -> list[OptOutRequest]:
    return [r for r in _load(registry) if r.status == "pending"]


def _decide(id, status, registry) -> OptOutRequest:
    reqs = _load(registry)
    for r in reqs:
        if r.id == id and r.status == "pending":
            r.status, r.decided = status, dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
            _save(reqs, registry)
            return r
    raise KeyError(f"no pending opt-out request {id}")


def approve(id, registry=None) -> list[Entry]:
    r = _decide(id, "approved", registry)
    today = r.decided[:10]
    return [Entry("repo", v, today, f"request {id}") for v in r.repos] + \
        [Entry("author", v, today, f"request {id}") for v in r.authors]


def reject(id, registry=None) -> None:
    _decide(id, "rejected", registry)


def install(monkeypatch):
    try:
        return importlib.import_module("codecommons.optout.requests")
    except ImportError:
        pass
    pkg = types.ModuleType("codecommons.optout")
    pkg.__path__ = []
    pkg.requests = sys.modules[__name__]
    monkeypatch.setitem(sys.modules, "codecommons.optout", pkg)
    monkeypatch.setitem(sys.modules, "codecommons.optout.requests", sys.modules[__name__])
    return sys.modules[__name__]


def is_standin(module) -> bool:
    return module is sys.modules[__name__]


__all__ = ["OptOutRequest", "submit", "pending", "approve", "reject", "install"]
