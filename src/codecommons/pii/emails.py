"""The one email grammar: what an email address looks like, for every module that
finds, validates or normalises one (PII redaction, opt-out registry values and
their attribution matcher, package metadata authors).

Stricter than BigCode's pattern (which allowed almost any character before the
`@`): RFC 5322's common local-part characters after a letter or digit, at most
64 of them; dot-separated domain labels (RFC 1035: letters, digits, inner
hyphens, at most 63 characters) and a letters-only top-level label, so
`lodash@4.17.21`, `a@b.T` (matmul), `@decorator` and `git@host` without a dot
are not addresses. An address does not start inside a longer word (after a
letter, digit or `_%+-`, or after `word.`) and does not run on into one
(`x@y.com_z`); after punctuation it does (`...jane@x.org`, `(.jane@x.org`).

What is *personal* data (reserved example domains, `icon@2x.png`, URL userinfo,
SSH remotes) is a policy of the PII detector (`pii/detect.py`), not of the grammar:
an opt-out request from jane@example.org is still an email address.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

LOCAL = r"[A-Za-z0-9][\w.%+-]{0,63}"
LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
TLD = r"[A-Za-z]{2,24}"

#: An address inside text; group 1 is the top-level label.
EMAIL = re.compile(rf"(?<![\w%+-])(?<!\w\.){LOCAL}@(?:{LABEL}\.)+({TLD})(?![\w-]|\.[A-Za-z0-9])")
_WHOLE = re.compile(rf"{LOCAL}@(?:{LABEL}\.)+{TLD}")
# "Jane Doe <jane@x.org>": a display name, then the address in angle brackets.
_NAMED = re.compile(r"^[^<>@]*<([^<>\s]+@[^<>\s]+)>\s*$")


def find_emails(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of every address in `text`, in order. Linear in the text:
    a long unbroken token fails the look-behind at each position in O(1)."""
    if "@" not in text:
        return
    for m in EMAIL.finditer(text):
        yield m.start(), m.end()


def is_email(text: str) -> bool:
    """Whether `text` is exactly one address (no name, no surrounding space)."""
    return _WHOLE.fullmatch(text) is not None


def normalize_email(text: str) -> str:
    """`Jane <Jane@X.org>`, ` mailto:jane@x.org ` -> `jane@x.org`; ValueError
    naming the input when it is not one address."""
    s = text.strip()
    named = _NAMED.match(s)
    if named:
        s = named.group(1)
    s = s.removeprefix("mailto:").removeprefix("MAILTO:").lower()
    if not is_email(s):
        raise ValueError(f"{text!r} is not an email address")
    return s


def emails_in(values: str | Iterable[str] | None) -> set[str]:
    """Lower-cased addresses in a string or strings such as
    `Jane <jane@x.org>, bob@y.org` (metadata author fields, `authors` columns)."""
    if not values:
        return set()
    if isinstance(values, str):
        values = [values]
    return {v[s:e].lower() for v in values if isinstance(v, str) for s, e in find_emails(v)}
