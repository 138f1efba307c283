"""The FIM window: line boundaries, the token budget, a prompt head that stays put.

    python -m pytest tests/lsp/test_window.py -q
"""

from __future__ import annotations

from codecommons.lsp.window import CHARS_PER_TOKEN, fim_window

LINES = [f"line_{i:04d} = {i}\n" for i in range(1000)]  # 16 characters each
TEXT = "".join(LINES)


def cursor_at(line: int, col: int) -> int:
    return sum(map(len, LINES[:line])) + col


def test_small_document_is_sent_whole():
    w = fim_window(TEXT[:160], cursor_at(4, 5), budget_tokens=1000)
    assert w.prefix + w.suffix == TEXT[:160] and w.first_line == 0


def test_window_is_cut_at_line_boundaries_within_budget():
    budget = 200  # tokens: 600 characters, 37 lines
    w = fim_window(TEXT, cursor_at(500, 9), budget)
    assert w.prefix.endswith("line_0500") and w.suffix.startswith(" = 500\n")
    assert w.prefix.startswith("line_") and w.suffix.endswith("\n")  # whole lines
    assert len(w.prefix) + len(w.suffix) <= budget * CHARS_PER_TOKEN
    assert len(w.prefix) > len(w.suffix)  # the prefix gets most of the budget


def test_prefix_takes_what_a_short_suffix_leaves():
    w = fim_window(TEXT, cursor_at(998, 0), 200)
    assert w.suffix == LINES[998] + LINES[999]
    assert len(w.prefix) + len(w.suffix) > 500


def test_prompt_head_stays_while_typing():
    heads = []
    text = TEXT
    for k in range(20):  # type 20 new lines at line 500
        cursor = cursor_at(500, 0) + k * 16
        heads.append(fim_window(text, cursor, 200).first_line)
        text = text[:cursor] + "typed_line = 1\n" + text[cursor:]
    # A ~30-line prefix moves in strides of a quarter of it (7 lines), not 1 line: 4 heads, not 20.
    assert len(set(heads)) <= 4 and heads == sorted(heads)


def test_one_enormous_line_is_cut_around_the_cursor():
    text = "x = [" + "1, " * 10000 + "]\n"
    w = fim_window(text, 15000, 100)
    assert len(w.prefix) + len(w.suffix) <= 100 * CHARS_PER_TOKEN
    assert text[15000 - len(w.prefix):15000 + len(w.suffix)] == w.prefix + w.suffix
