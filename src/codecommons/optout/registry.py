"""The opt-out registry: repositories and authors whose code never enters a
dataset, one JSON Lines file at $COMMONS_HOME/optout.jsonl
(~/.cache/codecommons/optout.jsonl) unless a path is given:

    {"kind": "repo", "value": "github.com/org/repo", "added": "2024-05-01", "note": "request #12"}
    {"kind": "author", "value": "jane@example.org", "added": "2024-05-01", "note": ""}

Values are stored normalised. Repositories match case-insensitively without
scheme, user, trailing `.git` or `/` (`https://github.com/Org/Repo.git`,
`git@github.com:org/repo` and `github.com/org/repo` are one repository);
`github.com/org/*` opts out every repository under `github.com/org/` (forks
elsewhere are other repositories and are not removed); `pypi/NAME` and
`https://pypi.org/project/NAME` name a python-env distribution (PEP 503 names,
so `pypi/Foo_Bar` == `pypi/foo-bar`). A local folder or archive is a repository
named by its folder / archive name. Authors match by email (pii/emails.py's
grammar), case-insensitively.

Every change happens under one lock (an exclusive `flock` on the registry's
folder, shared with the request queue in requests.py) and is written to a
temporary file renamed over the old one, so concurrent writers never lose an
entry and readers never see half a file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from codecommons.pii.emails import normalize_email

REGISTRY_NAME = "optout.jsonl"
KINDS = ("repo", "author")

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")
_SCP = re.compile(r"^[^@/:\s]+@([^:/\s]+):(?!//)(.*)$")  # git@github.com:org/repo
_SEGMENT = re.compile(r"[\w.~+-]+")
_PYPI_PROJECT = re.compile(r"^(?:www\.)?pypi\.(?:org|python\.org)/(?:project|simple)/([^/]+)$")


def default_registry() -> Path:
    """$COMMONS_HOME/optout.jsonl (the cache root of `commons models`)."""
    from codecommons.models.embedded import commons_home

    return commons_home() / REGISTRY_NAME


def registry_path(registry: "str | os.PathLike | Registry | None") -> Path:
    """The registry file meant by a path, a Registry, or None (the default)."""
    if isinstance(registry, Registry):
        return registry.path
    return Path(registry).expanduser() if registry is not None else default_registry()


# --- values -------------------------------------------------------------------


def canonical_repo(name: str) -> str:
    """The comparison form of a repository name or URL, without validation:
    lower case, no scheme, user, query, trailing `/` or `.git`."""
    s = name.strip().lower()
    s = _SCHEME.sub("", s)
    scp = _SCP.match(s)
    if scp:
        s = f"{scp.group(1)}/{scp.group(2)}"
    elif "@" in s.split("/", 1)[0]:  # ssh://git@host/path -> host/path
        s = s.split("@", 1)[1]
    s = s.split("?", 1)[0].split("#", 1)[0]
    s = re.sub(r"/{2,}", "/", s).strip("/")
    while s.endswith(".git") or s.endswith("/"):
        s = s.removesuffix(".git").rstrip("/")
    pypi = _PYPI_PROJECT.match(s)
    if pypi:
        s = f"pypi/{pypi.group(1)}"
    if s.startswith("pypi/") and s.count("/") == 1:
        s = "pypi/" + re.sub(r"[-_.]+", "-", s[5:])
    return s


def normalize_repo(name: str) -> str:
    """`canonical_repo`, checked: `/`-separated names of letters, digits and
    `._~+-`, optionally ending in `/*` (every repository below)."""
    s = canonical_repo(name)
    parts = s.split("/")
    wildcard = parts[-1] == "*"
    if wildcard:
        parts = parts[:-1]
    if not parts or not all(p and _SEGMENT.fullmatch(p) and p not in (".", "..") for p in parts):
        raise ValueError(f"{name!r} is neither a repository (host/org/name, a URL, a folder "
                         f"name, pypi/NAME, host/org/*) nor an email")
    return "/".join(parts) + ("/*" if wildcard else "")


def parse_value(text: str) -> tuple[str, str]:
    """A command-line value -> (kind, normalised value): an email is an author,
    anything else must be a repository. ValueError when it is neither."""
    s = text.strip()
    if "@" in s and not _SCP.match(_SCHEME.sub("", s.lower())) and not _SCHEME.match(s.lower()):
        try:
            return "author", normalize_email(s)
        except ValueError:
            raise ValueError(f"{text!r} is neither an email address nor a repository") from None
    return "repo", normalize_repo(s)


# --- the registry -------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    kind: str  # "repo" | "author"
    value: str  # normalised: github.com/org/repo, github.com/org/*, pypi/name, jane@x.org
    added: str  # ISO date
    note: str = ""


class Registry:
    """The entries of one registry file, with matching. A missing file is an
    empty registry (it is created by the first `add`)."""

    def __init__(self, path: str | os.PathLike | None = None, entries: Iterable[Entry] = ()) -> None:
        self.path = registry_path(path)
        self.entries: list[Entry] = list(entries)
        self._index()

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> "Registry":
        reg = cls(path)
        if reg.path.exists():
            reg.entries = _read_entries(reg.path)
            reg._index()
        return reg

    def _index(self) -> None:
        self.repos = {e.value for e in self.entries if e.kind == "repo" and not e.value.endswith("/*")}
        self.orgs = {e.value[:-2] for e in self.entries if e.kind == "repo" and e.value.endswith("/*")}
        self.emails = {e.value for e in self.entries if e.kind == "author"}

    def find(self, kind: str, value: str) -> Entry | None:
        return next((e for e in self.entries if (e.kind, e.value) == (kind, value)), None)

    def match_repo(self, repo: str) -> str | None:
        """The registry value that opts `repo` out (itself or an `org/*` above
        it), or None. A wildcard `org/*` is matched by wildcards at or above it."""
        s = canonical_repo(repo)
        wildcard = s.endswith("/*")
        if wildcard:
            s = s[:-2]
        elif s in self.repos:
            return s
        parts = s.split("/")
        for i in range(1, len(parts) + wildcard):
            if "/".join(parts[:i]) in self.orgs:
                return "/".join(parts[:i]) + "/*"
        return None

    def match_email(self, email_: str) -> str | None:
        e = email_.strip().lower()
        return e if e in self.emails else None

    def digest(self) -> str:
        """SHA-256 of the sorted (kind, value) pairs: what a run excluded, for its manifest."""
        pairs = sorted({(e.kind, e.value) for e in self.entries})
        return hashlib.sha256(json.dumps(pairs).encode()).hexdigest()

    def add(self, kind: str, value: str, note: str = "", today: str | None = None) -> tuple[Entry, bool]:
        """In memory: (entry, True) if added, (existing entry, False) if there."""
        existing = self.find(kind, value)
        if existing:
            return existing, False
        entry = Entry(kind, value, today or dt.datetime.now(dt.timezone.utc).date().isoformat(), note)
        self.entries.append(entry)
        self._index()
        return entry, True

    def save(self) -> None:
        """Atomically (call it holding `locked(self.path)`)."""
        write_lines(self.path, (json.dumps(asdict(e), ensure_ascii=False) for e in self.entries))


def _read_entries(path: Path) -> list[Entry]:
    entries, seen = [], set()
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            kind, value = row["kind"], row["value"]
            if kind not in KINDS:
                raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
            value = normalize_email(value) if kind == "author" else normalize_repo(value)
            entry = Entry(kind, value, str(row.get("added", "")), str(row.get("note", "") or ""))
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise ValueError(f"{path}:{n}: not a registry entry ({e})") from None
        if (kind, value) not in seen:
            seen.add((kind, value))
            entries.append(entry)
    return entries


def write_lines(path: Path, lines: Iterable[str]) -> None:
    """Replace `path` atomically: a temporary file in the same folder (mode 0600:
    requests hold contact addresses), fsynced, renamed over."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for line in lines:
                f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock on the registry's folder, held across a read-modify-write
    of the registry or its request queue. Not re-entrant: take it once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def add(value: str, note: str = "", registry: str | os.PathLike | None = None,
        today: str | None = None) -> tuple[Entry, bool]:
    """Opt VALUE out; (entry, True) if added, (existing entry, False) if it was there."""
    kind, norm = parse_value(value)
    path = registry_path(registry)
    with locked(path):
        reg = Registry.load(path)
        entry, new = reg.add(kind, norm, note, today)
        if new:
            reg.save()
    return entry, new


def remove(value: str, registry: str | os.PathLike | None = None) -> Entry | None:
    """Take VALUE out of the registry; the removed entry, or None if it was not there."""
    kind, norm = parse_value(value)
    path = registry_path(registry)
    with locked(path):
        reg = Registry.load(path)
        entry = reg.find(kind, norm)
        if entry:
            reg.entries.remove(entry)
            reg.save()
    return entry
