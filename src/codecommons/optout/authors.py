"""Which emails a file attributes authorship to: how an author's opt-out finds
their files.

The pipeline has no per-file authorship (clones are shallow; `git log`/blame per
file would be too slow), so an author's files are found from what the files and
their repository say:
  - a file whose text has the email in an attribution context: on a line with
    `Copyright`, `(c)`, `©`, `SPDX-FileCopyrightText`, `author` (`__author__`,
    `@author`, `Author:`, `author_email=`, `Author-email:`), `maintainer`,
    `contributor`, `__email__`, `__credits__`, `written/created/developed by`;
    in `Name <email>` form anywhere (AUTHORS files, Signed-off-by, headers); or
    on a line of a comment block under such a header line (`# Authors:` then
    `#   Jane <jane@x.org>`). On keyword lines `jane (at) x (dot) org`-style
    obfuscations are decoded too. Copies of such a file vendored into other
    repositories are caught as well, as long as the header is kept;
  - every file of a repository whose `authors` metadata (package metadata's
    Author-email / Maintainer-email, see `metadata_authors`) lists the email.
What it misses: files the author wrote that carry no attribution with their email
(most files in most repositories: authorship lives in git history, which is not
read); attribution by name only (`Copyright 2020 Jane Doe`: names are ambiguous);
emails written in other ways (HTML entities, split across lines, obfuscated off a
keyword line, images); addresses the author did not register (register each one);
authors known only by a forge username (opt out `github.com/USER/*` instead);
sources without package metadata (git repositories and folders without a PKG-INFO,
archives).
"""

from __future__ import annotations

import re

from codecommons.pii.emails import emails_in, find_emails
from codecommons.pkginfo import parse as parse_metadata

_ATTRIBUTION = re.compile(
    r"copyright|\(c\)|©|author(?!i[tz])|maintainer|contributor|__email__|__credits__"
    r"|(?:written|created|developed|coded|maintained)\s+by", re.IGNORECASE)
_OBFUSCATED_AT = re.compile(r"\s*[\[({<]\s*at\s*[\])}>]\s*|\s+at\s+", re.IGNORECASE)
_OBFUSCATED_DOT = re.compile(r"\s*[\[({<]\s*dot\s*[\])}>]\s*|\s+dot\s+", re.IGNORECASE)
_WORD_AT = re.compile(r"\bat\b", re.IGNORECASE)
_COMMENT_LEAD = re.compile(r"^\s*(?:#+|//+|/?\*+|--|;+|%+|\"\"\"|'''|!)?\s*")
_NOT_A_LIST_LINE = re.compile(r"[=;{}]|\b(?:import|return|def|class|function|var|let|const)\b")
HEADER_LOOKBACK = 20  # lines of an author list under an "Authors:" header that still count


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


def metadata_authors(metadata_text: str | None) -> list[str]:
    """Author/maintainer emails of a METADATA / PKG-INFO text, sorted: the
    `authors` metadata of a repository (pkginfo.PackageMetadata.author_emails)."""
    return parse_metadata(metadata_text).author_emails


__all__ = ["attributed_emails", "emails_in", "metadata_authors"]
