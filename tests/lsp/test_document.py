"""Incremental edits at LSP positions: UTF-16 code units, LSP's three line ends.

    python -m pytest tests/lsp/test_document.py -q
"""

from __future__ import annotations

import pytest
from lsprotocol import types as lsp

from codecommons.lsp.document import Document, end_position


def edit(doc: Document, l0: int, c0: int, l1: int, c1: int, text: str) -> str:
    doc.apply(lsp.TextDocumentContentChangePartial(
        range=lsp.Range(lsp.Position(l0, c0), lsp.Position(l1, c1)), text=text))
    return doc.text


def test_utf16_columns_count_astral_characters_twice():
    doc = Document("file:///a.py", "s = '😀é'\nx = 1\n")
    # 😀 is 2 UTF-16 units, é is 1: the closing quote is at column 8.
    assert edit(doc, 0, 8, 0, 8, "!") == "s = '😀é!'\nx = 1\n"
    assert doc.position_at(doc.text.index("!")) == lsp.Position(0, 8)
    # Replacing the emoji (columns 5-7) with a BMP character.
    assert edit(doc, 0, 5, 0, 7, "a") == "s = 'aé!'\nx = 1\n"


def test_utf8_and_utf32_encodings():
    doc = Document("u", "é😀x\n", encoding=lsp.PositionEncodingKind.Utf8)
    assert doc.offset_at(lsp.Position(0, 6)) == 2  # é: 2 bytes, 😀: 4
    doc32 = Document("u", "é😀x\n", encoding=lsp.PositionEncodingKind.Utf32)
    assert doc32.offset_at(lsp.Position(0, 2)) == 2


def test_only_lsp_line_ends_split_lines():
    # A form feed and U+2028 are not line ends in LSP (pygls' splitlines() says they are).
    doc = Document("u", "a\x0cb\nc😀d\u2028e\r\nf\rg")
    assert doc.line_count == 4
    assert edit(doc, 1, 3, 1, 3, "Z") == "a\x0cb\nc😀Zd\u2028e\r\nf\rg"
    assert edit(doc, 2, 1, 3, 0, "") == "a\x0cb\nc😀Zd\u2028e\r\nfg"  # join across "\r"
    assert doc.line(0) == "a\x0cb"


def test_multiline_edits_and_full_sync():
    doc = Document("u", "def f():\n    pass\n")
    assert edit(doc, 1, 4, 1, 8, "return [\n        1,\n    ]") == \
        "def f():\n    return [\n        1,\n    ]\n"
    assert doc.line_count == 5 and doc.line(3) == "    ]"
    doc.apply(lsp.TextDocumentContentChangeWholeDocument(text="x"))
    assert doc.text == "x" and doc.line_count == 1


@pytest.mark.parametrize("pos,offset", [((0, 99), 3), ((9, 0), 8), ((1, 2), 6)])
def test_positions_past_the_end_clamp(pos, offset):
    assert Document("u", "abc\nde\nf").offset_at(lsp.Position(*pos)) == min(offset, 8)


def test_end_position_of_inserted_text():
    start = lsp.Position(3, 4)
    assert end_position(start, "x😀", lsp.PositionEncodingKind.Utf16) == lsp.Position(3, 7)
    assert end_position(start, "a\nbc😀", lsp.PositionEncodingKind.Utf16) == lsp.Position(4, 4)
