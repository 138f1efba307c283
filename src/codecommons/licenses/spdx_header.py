"""A file's own licence, declared in its header: `SPDX-License-Identifier: EXPR`.

The REUSE specification (reuse.software, spec 3.x) has every file state its
licence with this tag in a comment at its top, the licence texts living in
`LICENSES/`; the Linux kernel and most of the Apache, Eclipse and KDE code bases
tag files the same way. A declaration in the file is the most specific statement
there is about it, so curation gives it precedence over the licence files of the
folders above (licenses.scope_licenses) and over package metadata.

Only the file's header is read (the first HEADER_CHARS characters), only tags at
the start of a comment line (`#`, `//`, `/*`, `*`, `--`, `;`, `%`, `<!--`, `..`,
a docstring's triple quotes), and only expressions `license-expression` parses; several tags are joined
with AND (REUSE: each applies). A tag in a string literal further down (a licence
tool's own source) is not the file's licence.
"""

from __future__ import annotations

import re

from codecommons.licenses.allowlist import spdx_licensing

HEADER_CHARS = 4000
_TAG = re.compile(
    r"""^[ \t]*(?:\#+|//+|/\*+|\*+|--|;+|%+|<!--|\.\.|"{3}|'{3}|REM\b|@REM\b)?[ \t]*"""
    r"""SPDX-License-Identifier:[ \t]*(?P<expr>[^\n]*?)[ \t]*(?:\*/|-->|"{3}|'{3})?[ \t]*$""",
    re.MULTILINE)


def file_license(text: str | None) -> str | None:
    """The SPDX expression a file's header declares, normalised, or None."""
    if not text or "SPDX-License-Identifier" not in text[:HEADER_CHARS]:
        return None
    lic = spdx_licensing()
    found = []
    for m in _TAG.finditer(text[:HEADER_CHARS]):
        try:
            parsed = lic.parse(m.group("expr"), validate=False)
        except Exception:  # license_expression raises several types on bad input
            continue
        if parsed is not None:
            found.append(str(parsed))
    found = list(dict.fromkeys(found))
    if not found:
        return None
    return found[0] if len(found) == 1 else " AND ".join(f"({e})" if " " in e else e for e in found)
