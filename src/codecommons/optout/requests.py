"""Opt-out requests: what people ask for (the web UI's opt-out form, or anyone
calling `submit`), queued until an operator approves or rejects them.

    from codecommons.optout import requests
    req = requests.submit("Jane Doe", "jane@x.org", repos=["github.com/jane/tool"],
                          authors=["jane@x.org"], note="all my code, please")
    requests.pending()                 # [OptOutRequest(id=..., status="pending", ...)]
    requests.approve(req.id)           # -> the registry entries, now in optout.jsonl
    requests.reject(other.id)

The queue is JSON Lines beside the registry (`optout-requests.jsonl` in the
registry's folder), one request a line, rewritten atomically (mode 0600: it holds
contact addresses) under the registry's lock, so a request and the entries it
adds are never half written and concurrent submits never lose one. A request
removes nothing by itself: approval adds its repositories and authors to the
registry, the next `commons curate` run excludes them (its filter reads the
registry), and an attribution index is updated with
`commons index remove-repo REPO --index INDEX`. Decided requests stay in the file
(status, time of decision): the record of what was asked and done.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from codecommons.optout.registry import (Entry, Registry, locked, normalize_repo, registry_path,
                                         write_lines)
from codecommons.pii.emails import normalize_email

REQUESTS_NAME = "optout-requests.jsonl"
Status = Literal["pending", "approved", "rejected"]
STATUSES: tuple[str, ...] = ("pending", "approved", "rejected")

# Bounds on what one request may carry: a form is not a bulk import (an operator
# with thousands of repositories uses `commons optout add` or an `org/*` entry).
MAX_NAME = 200
MAX_CONTACT = 254  # RFC 5321: the longest forward path
MAX_NOTE = 4000
MAX_ITEMS = 100  # repositories, and authors, per request
MAX_VALUE = 300  # characters of one repository or email as given
MAX_PENDING = 10_000  # requests waiting at once


@dataclass
class OptOutRequest:
    id: str
    name: str  # who asks
    contact: str  # their email (normalised), for the answer
    repos: list[str]  # normalised registry values (github.com/org/repo, github.com/org/*, pypi/x)
    authors: list[str]  # normalised emails
    note: str
    created: str  # ISO 8601, UTC, seconds
    status: Status = "pending"
    decided: str | None = None  # ISO 8601 time of approval / rejection

    @classmethod
    def from_dict(cls, row: dict) -> "OptOutRequest":
        return cls(id=str(row["id"]), name=str(row.get("name", "")), contact=str(row["contact"]),
                   repos=[str(r) for r in row.get("repos", [])],
                   authors=[str(a) for a in row.get("authors", [])], note=str(row.get("note", "")),
                   created=str(row["created"]), status=row.get("status", "pending"),
                   decided=row.get("decided"))


class InvalidRequest(ValueError):
    """A request that cannot be queued; `problems` maps each bad field (`repos[2]`,
    `contact`) to what is wrong with it, and the message lists them one a line."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = problems
        super().__init__("\n".join(f"{k}: {v}" for k, v in problems.items()))


def requests_path(registry=None) -> Path:
    """The queue file that belongs to a registry (a path, a Registry, or None)."""
    return registry_path(registry).parent / REQUESTS_NAME


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _plain(value: str, limit: int, label: str, problems: dict[str, str], *, lines: bool) -> str:
    value = value.strip() if isinstance(value, str) else value
    if not isinstance(value, str):
        problems[label] = "must be text"
        return ""
    if len(value) > limit:
        problems[label] = f"at most {limit} characters (got {len(value)})"
    allowed = "\n\t" if lines else ""
    if any(ord(c) < 32 and c not in allowed for c in value):
        problems[label] = "control characters are not allowed"
    return value


def _values(items, kind: str, normalise, problems: dict[str, str]) -> list[str]:
    if isinstance(items, str) or not isinstance(items, (list, tuple)):
        problems[kind] = "must be a list"
        return []
    if len(items) > MAX_ITEMS:
        problems[kind] = f"at most {MAX_ITEMS} per request (got {len(items)})"
        return []
    out: list[str] = []
    for i, raw in enumerate(items):
        label = f"{kind}[{i}]"
        if not isinstance(raw, str) or not raw.strip():
            problems[label] = "empty"
        elif len(raw) > MAX_VALUE:
            problems[label] = f"at most {MAX_VALUE} characters (got {len(raw)})"
        else:
            try:
                value = normalise(raw)
            except ValueError as e:
                problems[label] = str(e)
            else:
                if value not in out:
                    out.append(value)
    return out


def _check_repo(raw: str) -> str:
    if "@" in raw and "://" not in raw and not raw.lstrip().startswith("git@"):
        raise ValueError(f"{raw!r} looks like an email: list it under authors")
    return normalize_repo(raw)


def _load(path: Path) -> list[OptOutRequest]:
    if not path.exists():
        return []
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                out.append(OptOutRequest.from_dict(json.loads(line)))
            except (ValueError, KeyError, TypeError) as e:
                raise ValueError(f"{path}:{n}: not an opt-out request ({e})") from None
    return out


def _save(path: Path, reqs: list[OptOutRequest]) -> None:
    write_lines(path, (json.dumps(asdict(r), ensure_ascii=False) for r in reqs))


def submit(name: str, contact: str, repos: list[str], authors: list[str], note: str = "",
           registry=None) -> OptOutRequest:
    """Queue a request; InvalidRequest (a ValueError) naming every bad field:
    none of repos/authors given, a repository or email that does not parse
    (the registry's own normalisers), a contact that is not an email, a field
    over its bound."""
    problems: dict[str, str] = {}
    name = _plain(name, MAX_NAME, "name", problems, lines=False)
    note = _plain(note, MAX_NOTE, "note", problems, lines=True)
    contact_raw = _plain(contact, MAX_CONTACT, "contact", problems, lines=False)
    contact_norm = ""
    if "contact" not in problems:
        try:
            contact_norm = normalize_email(contact_raw)
        except ValueError:
            problems["contact"] = f"{contact_raw!r} is not an email address" if contact_raw else \
                "an email address to answer to is required"
    repo_values = _values(repos, "repos", _check_repo, problems)
    author_values = _values(authors, "authors", normalize_email, problems)
    if not repos and not authors and "repos" not in problems and "authors" not in problems:
        problems["repos"] = problems["authors"] = "give at least one repository or author email"
    if problems:
        raise InvalidRequest(problems)
    req = OptOutRequest(id=uuid.uuid4().hex[:12], name=name, contact=contact_norm,
                        repos=repo_values, authors=author_values, note=note, created=_now())
    path = requests_path(registry)
    with locked(registry_path(registry)):
        reqs = _load(path)
        if sum(r.status == "pending" for r in reqs) >= MAX_PENDING:
            raise ValueError(f"{MAX_PENDING} requests are already waiting; try again later")
        reqs.append(req)
        _save(path, reqs)
    return req


def all_requests(registry=None) -> list[OptOutRequest]:
    """Every request in the queue, decided ones included, oldest first."""
    return _load(requests_path(registry))


def pending(registry=None) -> list[OptOutRequest]:
    """Requests waiting for a decision, oldest first."""
    return [r for r in all_requests(registry) if r.status == "pending"]


def _decide(request_id: str, status: Status, registry) -> tuple[OptOutRequest, list[Entry]]:
    reg_path = registry_path(registry)
    path = requests_path(registry)
    with locked(reg_path):
        reqs = _load(path)
        req = next((r for r in reqs if r.id == request_id.strip()), None)
        if req is None:
            raise ValueError(f"no opt-out request {request_id!r} in {path}; "
                             f"`commons optout pending` lists the waiting ones")
        if req.status != "pending":
            raise ValueError(f"request {req.id} was already {req.status} ({req.decided})")
        entries: list[Entry] = []
        if status == "approved":
            # the registry first: a crash before the queue is saved leaves the request
            # pending, and approving it again finds its entries already there
            reg = Registry.load(reg_path)
            note = f"opt-out request {req.id}"
            entries = [reg.add("repo", v, note)[0] for v in req.repos]
            entries += [reg.add("author", v, note)[0] for v in req.authors]
            reg.save()
        req.status, req.decided = status, _now()
        _save(path, reqs)
    return req, entries


def approve(request_id: str, registry=None) -> list[Entry]:
    """Add every repository and author of a pending request to the registry
    (entries already there are kept as they are); the request's entries."""
    return _decide(request_id, "approved", registry)[1]


def reject(request_id: str, registry=None) -> OptOutRequest:
    """Mark a pending request rejected; nothing is added."""
    return _decide(request_id, "rejected", registry)[0]


__all__ = ["InvalidRequest", "OptOutRequest", "all_requests", "approve", "pending", "reject",
           "requests_path", "submit"]
