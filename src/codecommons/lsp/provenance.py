"""Where accepted suggestions came from: labels for matches in the code index, and
Information diagnostics on accepted text that copies indexed code.

A match (the server's `attribution` item, README "Attribution") is
{repo, path, license, license_type, query_start, query_end, source_start,
source_end, length, similarity}; query_* are character offsets in the suggestion.
The diagnostics stay on their lines while the user edits above them and are
dropped once the copied text itself is edited (it is no longer the copy).
"""

from __future__ import annotations

import attrs
from lsprotocol import types as lsp

from codecommons.lsp.document import end_position

SOURCE = "commons"
CODE = "public-code"


def label(matches: list[dict]) -> str:
    """One line for an inline item: the best match, and how many more."""
    if not matches:
        return ""
    m = matches[0]
    more = f" (+{len(matches) - 1} more)" if len(matches) > 1 else ""
    return f"Matches public code: {m['repo']}/{m['path']} ({m['license']}){more}"


def message(m: dict) -> str:
    return (f"This code matches {m['repo']}/{m['path']} (characters {m['source_start']}-"
            f"{m['source_end']}), licensed {m['license']} ({m['license_type']}); "
            f"similarity {m['similarity']:.2f}")


def diagnostics(start: lsp.Position, inserted: str, lead: int, matches: list[dict],
                encoding: str) -> list[lsp.Diagnostic]:
    """One diagnostic per match on the part of `inserted` (inserted at `start`) that
    the match covers; `lead` characters of `inserted` precede the suggestion (the
    selected completion item it extends)."""
    out = []
    for m in matches:
        qs, qe = lead + int(m.get("query_start", 0)), lead + int(m.get("query_end", len(inserted)))
        rng = lsp.Range(end_position(start, inserted[:qs], encoding),
                        end_position(start, inserted[:qe], encoding))
        out.append(lsp.Diagnostic(range=rng, message=message(m), source=SOURCE, code=CODE,
                                  severity=lsp.DiagnosticSeverity.Information, data=m))
    return out


def _before(a: lsp.Position, b: lsp.Position) -> bool:
    return (a.line, a.character) < (b.line, b.character)


class DiagnosticStore:
    """Attribution diagnostics per document, moved along with edits."""

    def __init__(self) -> None:
        self.by_uri: dict[str, list[lsp.Diagnostic]] = {}

    def add(self, uri: str, diags: list[lsp.Diagnostic]) -> None:
        self.by_uri.setdefault(uri, []).extend(diags)

    def edit(self, uri: str, rng: lsp.Range | None, text: str) -> bool:
        """Follow one content change; True when the document's diagnostics changed.
        A whole-text change (no range) drops them all."""
        diags = self.by_uri.get(uri)
        if not diags:
            return False
        if rng is None:
            self.by_uri[uri] = []
            return True
        delta = text.count("\n") - (rng.end.line - rng.start.line)
        kept, changed = [], False
        for d in diags:
            if not _before(rng.start, d.range.end):
                kept.append(d)  # wholly before the edit
            elif _before(rng.end, d.range.start) and rng.end.line < d.range.start.line:
                if delta:  # on later lines: move by the lines the edit added or removed
                    d = attrs.evolve(d, range=lsp.Range(
                        lsp.Position(d.range.start.line + delta, d.range.start.character),
                        lsp.Position(d.range.end.line + delta, d.range.end.character)))
                    changed = True
                kept.append(d)
            else:
                changed = True  # the copied text itself was edited
        self.by_uri[uri] = kept
        return changed

    def close(self, uri: str) -> None:
        self.by_uri.pop(uri, None)
