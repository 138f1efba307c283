"""Authors' opt-out, as The Stack's "Am I in The Stack?" and opt-out process: a
registry of repositories and authors whose code never enters the dataset.

    commons optout add github.com/org/repo --note "request #12"   # one repository
    commons optout add https://github.com/org/*                   # a whole user / organisation
    commons optout add jane@example.org                           # an author, by email
    commons optout remove github.com/org/repo
    commons optout list
    commons optout check github.com/org/repo --dataset runs/stack  # is it in the dataset?

The registry is JSON Lines, one entry a line, at $COMMONS_HOME/optout.jsonl
(~/.cache/codecommons/optout.jsonl) unless `--registry FILE` says otherwise:

    {"kind": "repo", "value": "github.com/org/repo", "added": "2024-05-01", "note": "request #12"}
    {"kind": "author", "value": "jane@example.org", "added": "2024-05-01", "note": ""}

Values are stored normalised. Repositories match case-insensitively without
scheme, user, trailing `.git` or `/` (`https://github.com/Org/Repo.git`,
`git@github.com:org/repo` and `github.com/org/repo` are one repository);
`github.com/org/*` opts out every repository under `github.com/org/` (forks
elsewhere are other repositories and are not removed); `pypi/NAME` and
`https://pypi.org/project/NAME` name a python-env distribution (PEP 503 names,
so `pypi/Foo_Bar` == `pypi/foo-bar`). A local folder or archive is a repository
named by its folder / archive name. Authors match by email, case-insensitively.
Writes go to a temporary file renamed over the registry, under a lock.

What an author opt-out catches. The pipeline has no per-file authorship (clones
are shallow; `git log`/blame per file would be too slow), so an author's files
are found from what the files and their repository say:
  - a file whose text has the email in an attribution context: on a line with
    `Copyright`, `(c)`, `©`, `SPDX-FileCopyrightText`, `author` (`__author__`,
    `@author`, `Author:`, `author_email=`, `Author-email:`), `maintainer`,
    `contributor`, `__email__`, `__credits__`, `written/created/developed by`;
    in `Name <email>` form anywhere (AUTHORS files, Signed-off-by, headers); or
    on a line of a comment block under such a header line (`# Authors:` then
    `#   Jane <jane@x.org>`). On keyword lines `jane (at) x (dot) org`-style
    obfuscations are decoded too. Copies of such a file vendored into other
    repositories are caught as well, as long as the header is kept;
  - every file of a repository whose `authors` metadata (python-env: METADATA's
    Author-email / Maintainer-email, see `metadata_authors`) lists the email.
What it misses: files the author wrote that carry no attribution with their email
(most files in most repositories: authorship lives in git history, which is not
read); attribution by name only (`Copyright 2020 Jane Doe`: names are ambiguous);
emails written in other ways (HTML entities, split across lines, obfuscated off a
keyword line, images); addresses the author did not register (register each one);
authors known only by a forge username (opt out `github.com/USER/*` instead);
sources without `authors` metadata (git, folders, archives). Opt-out applies to
runs made after the entry is added: datasets already built are not rewritten,
`check --dataset` says whether they contain it.

`check VALUE [--dataset DIR]` prints whether VALUE is opted out (and by which
entry), and with --dataset whether any row of DIR/data/*.parquet is from that
repository (or organisation, for `org/*`) or contains that email in its content
(or an `authors` column, where the dataset has one), listing the matches.
Note that curated datasets have emails redacted to <EMAIL>, so an email check
finds only addresses redaction missed: ask about the author's repositories too.
Exit codes: 0 not in the dataset (always 0 without --dataset), 1 in the dataset,
`remove` of a value not in the registry; 2 usage error: a value that is neither
a repository nor an email, an unreadable registry or dataset.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import email.parser
import fcntl
import hashlib
import json
import os
import re
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Iterator

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter

REGISTRY_NAME = "optout.jsonl"
KINDS = ("repo", "author")

# --- values -------------------------------------------------------------------

_EMAIL_FULL = re.compile(
    r"[a-z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+")
_NAME_EMAIL = re.compile(r"^[^<>@]*<([^<>\s]+@[^<>\s]+)>\s*$")  # "Jane Doe <jane@x.org>"
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")
_SCP = re.compile(r"^[^@/:\s]+@([^:/\s]+):(?!//)(.*)$")  # git@github.com:org/repo
_SEGMENT = re.compile(r"[\w.~+-]+")
_PYPI_PROJECT = re.compile(r"^(?:www\.)?pypi\.(?:org|python\.org)/(?:project|simple)/([^/]+)$")


def default_registry() -> Path:
    """$COMMONS_HOME/optout.jsonl (the cache root of `commons models`)."""
    from codecommons.models.embedded import commons_home

    return commons_home() / REGISTRY_NAME


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


def normalize_email(text: str) -> str:
    """`Jane <Jane@X.org>`, `mailto:jane@x.org` -> `jane@x.org`; ValueError if not an email."""
    s = text.strip()
    named = _NAME_EMAIL.match(s)
    if named:
        s = named.group(1)
    s = s.lower().removeprefix("mailto:")
    if not _EMAIL_FULL.fullmatch(s):
        raise ValueError(f"{text!r} is not an email address")
    return s


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
        self.path = Path(path) if path is not None else default_registry()
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

    def save(self) -> None:
        """Atomically: a temporary file in the same folder, fsynced, renamed over."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                for e in self.entries:
                    f.write(json.dumps(asdict(e), ensure_ascii=False) + "\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


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


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on the registry's folder, so concurrent add/remove don't lose writes."""
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
    path = Path(registry) if registry is not None else default_registry()
    with _locked(path):
        reg = Registry.load(path)
        existing = reg.find(kind, norm)
        if existing:
            return existing, False
        entry = Entry(kind, norm, today or dt.datetime.now(dt.timezone.utc).date().isoformat(), note)
        reg.entries.append(entry)
        reg.save()
    return entry, True


def remove(value: str, registry: str | os.PathLike | None = None) -> Entry | None:
    """Take VALUE out of the registry; the removed entry, or None if it was not there."""
    kind, norm = parse_value(value)
    path = Path(registry) if registry is not None else default_registry()
    with _locked(path):
        reg = Registry.load(path)
        entry = reg.find(kind, norm)
        if entry:
            reg.entries.remove(entry)
            reg.save()
    return entry


# --- author attribution in text ----------------------------------------------

_LOCAL_TAIL = re.compile(r"[A-Za-z0-9._%+-]{1,64}$")
_DOMAIN_HEAD = re.compile(r"[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+")
_ATTRIBUTION = re.compile(
    r"copyright|\(c\)|©|author(?!i[tz])|maintainer|contributor|__email__|__credits__"
    r"|(?:written|created|developed|coded|maintained)\s+by", re.IGNORECASE)
_OBFUSCATED_AT = re.compile(r"\s*[\[({<]\s*at\s*[\])}>]\s*|\s+at\s+", re.IGNORECASE)
_OBFUSCATED_DOT = re.compile(r"\s*[\[({<]\s*dot\s*[\])}>]\s*|\s+dot\s+", re.IGNORECASE)
_WORD_AT = re.compile(r"\bat\b", re.IGNORECASE)
_COMMENT_LEAD = re.compile(r"^\s*(?:#+|//+|/?\*+|--|;+|%+|\"\"\"|'''|!)?\s*")
_NOT_A_LIST_LINE = re.compile(r"[=;{}]|\b(?:import|return|def|class|function|var|let|const)\b")
HEADER_LOOKBACK = 20  # lines of an author list under an "Authors:" header that still count


def find_emails(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each email-like span, found from its `@` outward, so that
    long unbroken tokens (base64, minified code) cost linear time."""
    i = text.find("@")
    while i >= 0:
        local = _LOCAL_TAIL.search(text, max(0, i - 64), i)
        domain = _DOMAIN_HEAD.match(text, i + 1, i + 256) if local else None
        if local and domain:
            start = local.start()
            while start < i and text[start] == ".":
                start += 1
            end = domain.end()
            if start < i:
                yield start, end
            i = text.find("@", max(end, i + 1))
        else:
            i = text.find("@", i + 1)


def _line_at(text: str, pos: int) -> tuple[int, int]:
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    return start, len(text) if end < 0 else end


def _list_like(line: str) -> bool:
    body = _COMMENT_LEAD.sub("", line).strip()
    return bool(body) and len(body) <= 160 and not _NOT_A_LIST_LINE.search(body)


def _under_header(text: str, line_start: int) -> bool:
    """Is the line at `line_start` an entry of an author list: list-like lines
    (names, emails; no code, no blank line) under an attribution header line
    at most HEADER_LOOKBACK lines above?"""
    ls, le = _line_at(text, line_start)
    if not _list_like(text[ls:le]):
        return False
    end = line_start - 1
    for _ in range(HEADER_LOOKBACK):
        if end < 0:
            return False
        start = text.rfind("\n", 0, end) + 1
        line = text[start:end]
        if _ATTRIBUTION.search(line):
            return True
        if not _list_like(line):
            return False
        end = start - 1
    return False


def _attributed(text: str, start: int, end: int) -> bool:
    ls, le = _line_at(text, start)
    if _ATTRIBUTION.search(text, ls, le):
        return True
    if text[start - 1:start] == "<" and text[end:end + 1] == ">":  # Name <email>
        return True
    return _under_header(text, ls)


def attributed_emails(text: str, only: set[str] | frozenset[str] | None = None) -> set[str]:
    """Lower-cased emails that `text` attributes authorship to (see the module
    notes); with `only`, just those of `only` (cheaper: others are not looked at)."""
    found: set[str] = set()
    if not text:
        return found
    for start, end in find_emails(text):
        e = text[start:end].lower()
        if e in found or (only is not None and e not in only):
            continue
        if _attributed(text, start, end):
            found.add(e)
    if only is not None and found >= only:
        return found
    for m in _ATTRIBUTION.finditer(text):  # obfuscated emails, on attribution lines only
        ls, le = _line_at(text, m.start())
        line = text[ls:le]
        if not _WORD_AT.search(line):
            continue
        plain = _OBFUSCATED_DOT.sub(".", _OBFUSCATED_AT.sub("@", line))
        for s, t in find_emails(plain):
            e = plain[s:t].lower()
            if only is None or e in only:
                found.add(e)
    return found


def emails_in(values) -> set[str]:
    """Emails in a metadata `authors` value: a string or a list of strings such
    as `Jane <jane@x.org>, bob@y.org`."""
    if not values:
        return set()
    if isinstance(values, str):
        values = [values]
    return {v[s:e].lower() for v in values if isinstance(v, str) for s, e in find_emails(v)}


def metadata_authors(metadata_text: str | None) -> list[str]:
    """Author/maintainer emails of a dist-info METADATA / PKG-INFO text (its
    Author-email, Maintainer-email, and Author/Maintainer when they hold an
    email), sorted: the `authors` metadata for python-env repositories."""
    if not metadata_text:
        return []
    msg = email.parser.Parser().parsestr(metadata_text, headersonly=True)
    fields = ("Author-email", "Maintainer-email", "Author", "Maintainer")
    return sorted(emails_in([str(v) for f in fields for v in (msg.get_all(f) or [])]))


# --- the pipeline filter ------------------------------------------------------


class OptOut(BaseFilter):
    """Drops opted-out code: `opt_out:repo` for a document of an opted-out
    repository (or organisation), `opt_out:author` for one attributed to an
    opted-out email (by its text, or its `authors` metadata).

    `registry`: a registry file (it must exist), or None for the default one
    (missing: nothing is opted out). Loaded once, on first use or `digest()`;
    the loaded entries travel with the pickled step, so workers apply exactly
    what the parent loaded. Put it before RedactPII (which erases emails)."""

    name = "opt-out"

    def __init__(self, registry: str | os.PathLike | None = None, exclusion_writer=None) -> None:
        super().__init__(exclusion_writer)
        if registry is not None and not Path(registry).is_file():
            raise FileNotFoundError(f"opt-out registry {registry} does not exist")
        self.registry_path = str(registry) if registry is not None else None
        self._registry: Registry | None = None
        self._repo_cache: dict[str, bool] = {}

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = Registry.load(self.registry_path)
        return self._registry

    def digest(self) -> str:
        """The registry's digest (loads it): record it in the run's manifest."""
        return self.registry.digest()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_repo_cache"] = {}
        return state

    def _repo_opted_out(self, repo: str) -> bool:
        hit = self._repo_cache.get(repo)
        if hit is None:
            if len(self._repo_cache) > 100_000:
                self._repo_cache.clear()
            hit = self._repo_cache[repo] = self.registry.match_repo(repo) is not None
        return hit

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        reg = self.registry
        if not reg.entries:
            return True
        if (reg.repos or reg.orgs) and self._repo_opted_out(doc.metadata.get("repo", "")):
            return False, "opt_out:repo"
        if reg.emails:
            if emails_in(doc.metadata.get("authors")) & reg.emails:
                return False, "opt_out:author"
            if attributed_emails(doc.text, reg.emails):
                return False, "opt_out:author"
        return True


# --- is it in a dataset? ------------------------------------------------------


def dataset_shards(dataset: str | os.PathLike) -> list[Path]:
    root = Path(dataset)
    if root.is_file() and root.suffix == ".parquet":
        return [root]
    for folder in (root / "data", root):
        shards = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
        if shards:
            return shards
    raise FileNotFoundError(f"{dataset}: no Parquet shards in {root / 'data'} or {root}")


def find_in_dataset(dataset: str | os.PathLike, kind: str, value: str,
                    batch_size: int = 4096) -> Iterator[tuple[str, str]]:
    """(repo, path) of every row of the dataset from repository `value` (or
    under `org/*`), or, for an author, whose content (or `authors` column)
    contains the email, case-insensitively. Reads only the columns it needs."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    wanted = Registry(entries=[Entry(kind, value, "")])
    for shard in dataset_shards(dataset):
        pf = pq.ParquetFile(shard)
        names = set(pf.schema_arrow.names)
        cols = ["repo", "path"]
        if kind == "author":
            cols += [c for c in ("content", "authors") if c in names]
        if not set(cols) <= names:
            raise ValueError(f"{shard}: no {sorted(set(cols) - names)} column")
        repo_hits: dict[str, bool] = {}
        for batch in pf.iter_batches(batch_size=batch_size, columns=cols):
            if kind == "repo":
                repos = batch.column("repo")
                for r in pc.unique(repos).to_pylist():
                    if r not in repo_hits:
                        repo_hits[r] = wanted.match_repo(r or "") is not None
                hits = [r for r, yes in repo_hits.items() if yes]
                if not hits:
                    continue
                mask = pc.is_in(repos, value_set=pa.array(hits, type=repos.type))
            else:
                mask = None
                for col in cols[2:]:
                    column = batch.column(col)
                    if col == "authors" and pa.types.is_list(column.type):
                        column = pc.binary_join(column, "\n")
                    if not pa.types.is_string(column.type) and not pa.types.is_large_string(column.type):
                        column = pc.cast(column, pa.string())
                    m = pc.fill_null(pc.match_substring(column, value, ignore_case=True), False)
                    mask = m if mask is None else pc.or_(mask, m)
                if mask is None:
                    continue
            rows = batch.select(["repo", "path"]).filter(mask)
            yield from zip(rows.column("repo").to_pylist(), rows.column("path").to_pylist())


# --- the command line ---------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="commons optout", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    reg = argparse.ArgumentParser(add_help=False)
    reg.add_argument("--registry", metavar="FILE", default=None,
                     help="registry file (default: $COMMONS_HOME/optout.jsonl)")
    a = sub.add_parser("add", parents=[reg], help="opt a repository, organisation or author out")
    a.add_argument("value", metavar="REPO|EMAIL")
    a.add_argument("--note", default="", help="why / the request it answers")
    r = sub.add_parser("remove", parents=[reg], help="take an entry out of the registry")
    r.add_argument("value", metavar="REPO|EMAIL")
    sub.add_parser("list", parents=[reg], help="print the registry")
    c = sub.add_parser("check", parents=[reg],
                       help="is it opted out, and (--dataset) is it in a dataset? exit 1 if it is")
    c.add_argument("value", metavar="REPO|EMAIL")
    c.add_argument("--dataset", metavar="DIR", help="a curated dataset (DIR/data/*.parquet)")
    c.add_argument("--limit", type=int, default=20, help="matching files to list (default 20)")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    path = Path(args.registry).expanduser() if args.registry else default_registry()
    try:
        if args.command == "add":
            entry, new = add(args.value, args.note, path)
            print(f"{'opted out' if new else 'already opted out'}: {entry.kind} {entry.value} "
                  f"(added {entry.added}) in {path}")
            return 0
        if args.command == "remove":
            entry = remove(args.value, path)
            if entry is None:
                print(f"{parse_value(args.value)[1]} is not in {path}", file=sys.stderr)
                return 1
            print(f"removed: {entry.kind} {entry.value} from {path}")
            return 0
        if args.command == "list":
            return _list(Registry.load(path))
        return _check(args, Registry.load(path))
    except (ValueError, FileNotFoundError, OSError) as e:
        print(f"commons optout: {e}", file=sys.stderr)
        return 2


def _list(reg: Registry) -> int:
    if not reg.entries:
        print(f"{reg.path}: no entries")
        return 0
    width = max(len(e.value) for e in reg.entries)
    for e in reg.entries:
        print(f"{e.kind:<6}  {e.value:<{width}}  {e.added:<10}  {e.note}".rstrip())
    print(f"{len(reg.entries)} entries in {reg.path}")
    return 0


def _check(args, reg: Registry) -> int:
    kind, value = parse_value(args.value)
    by = reg.match_email(value) if kind == "author" else reg.match_repo(value)
    if by is None:
        print(f"{value}: not opted out ({reg.path})")
    else:
        entry = reg.find("author" if kind == "author" else "repo", by)
        via = "" if by == value else f" by {by}"
        print(f"{value}: opted out{via} (added {entry.added}{', ' + entry.note if entry.note else ''})")
    if not args.dataset:
        return 0
    hits, n = [], 0
    for repo, file_path in find_in_dataset(args.dataset, kind, value):
        n += 1
        if len(hits) < max(args.limit, 0):
            hits.append(f"{repo}/{file_path}")
    if not n:
        print(f"not in the dataset {args.dataset}")
        return 0
    print(f"IN the dataset {args.dataset}: {n} file(s)")
    for h in hits:
        print(f"  {h}")
    if n > len(hits):
        print(f"  ... and {n - len(hits)} more")
    return 1
