"""An open text document as the editor sees it: incremental edits at LSP positions.

LSP positions are (line, character) where lines end at "\\n", "\\r\\n" or "\\r" only
(LSP 3.17 "Text Documents": other Unicode line breaks are not line ends) and
`character` counts code units of the negotiated position encoding: UTF-16 unless
client and server agreed on "utf-8" or "utf-32" in `initialize`. Python strings
index code points, so every position is converted here and nowhere else.

pygls keeps its own copy of each document, but splits lines with str.splitlines(),
which also breaks at form feeds, \\x1c-\\x1e, \\x85 and U+2028/2029 (a form feed is
common in Python and C sources), so an edit after such a character lands on the
wrong line; this class is the one copy the language server reads.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

from lsprotocol import types as lsp

_LINE_END = re.compile(r"\r\n|\r|\n")


def units(text: str, encoding: str) -> int:
    """Length of `text` in code units of the position encoding."""
    if encoding == lsp.PositionEncodingKind.Utf32:
        return len(text)
    if encoding == lsp.PositionEncodingKind.Utf8:
        return len(text.encode("utf-8", "surrogatepass"))
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)  # astral: a surrogate pair


def column_offset(line: str, column: int, encoding: str) -> int:
    """Code points of `line` before `column` code units; a column past the line's end
    (or inside a surrogate pair / a UTF-8 sequence) clamps, as the spec asks."""
    if encoding == lsp.PositionEncodingKind.Utf32:
        return min(column, len(line))
    n = 0
    for i, ch in enumerate(line):
        n += units(ch, encoding)
        if n > column:
            return i
    return len(line)


@dataclass
class Document:
    uri: str
    text: str
    version: int = 0
    language_id: str = ""
    encoding: str = lsp.PositionEncodingKind.Utf16
    _starts: list[int] = field(default_factory=list, repr=False)  # code-point offset of each line

    def __post_init__(self) -> None:
        self._index()

    def _index(self) -> None:
        self._starts = [0] + [m.end() for m in _LINE_END.finditer(self.text)]

    @property
    def line_count(self) -> int:
        return len(self._starts)

    def line(self, i: int) -> str:
        """Line i without its line end."""
        if i >= len(self._starts):
            return ""
        end = self._starts[i + 1] if i + 1 < len(self._starts) else len(self.text)
        return self.text[self._starts[i]:end].rstrip("\r\n")

    def offset_at(self, pos: lsp.Position) -> int:
        """Code-point offset of an LSP position (clamped to the document)."""
        if pos.line >= len(self._starts):
            return len(self.text)
        return self._starts[pos.line] + column_offset(self.line(pos.line), pos.character,
                                                      self.encoding)

    def position_at(self, offset: int) -> lsp.Position:
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self._starts, offset) - 1
        start = self._starts[line]
        # An offset between "\r" and "\n" belongs to the line's end.
        col_text = self.text[start:offset].rstrip("\r\n")
        return lsp.Position(line=line, character=units(col_text, self.encoding))

    def line_of(self, offset: int) -> int:
        return bisect.bisect_right(self._starts, max(0, offset)) - 1

    def apply(self, change: lsp.TextDocumentContentChangeEvent) -> None:
        """One content change: a range replacement, or the whole text when it has no range."""
        rng = getattr(change, "range", None)
        if rng is None:
            self.text = change.text
        else:
            start, end = self.offset_at(rng.start), self.offset_at(rng.end)
            self.text = self.text[:start] + change.text + self.text[max(start, end):]
        self._index()


def end_position(start: lsp.Position, inserted: str, encoding: str) -> lsp.Position:
    """Where text inserted at `start` ends (for a diagnostic on accepted text)."""
    lines = _LINE_END.split(inserted)
    if len(lines) == 1:
        return lsp.Position(start.line, start.character + units(inserted, encoding))
    return lsp.Position(start.line + len(lines) - 1, units(lines[-1], encoding))
