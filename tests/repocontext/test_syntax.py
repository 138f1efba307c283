"""Chunks at syntax boundaries (tree-sitter), paragraphs without a grammar.

    python -m pytest tests/repocontext/test_syntax.py -q
"""

from __future__ import annotations

from codecommons.repocontext.syntax import chunk_file, grammar

LONG_FUNCTION = "def long_one(x):\n" + "".join(f"    x = x + {i}\n" for i in range(50)) + "    return x\n"
SMALL = '''\
# a helper, with its comment
def small(a, b):
    return a + b


class Tiny:
    value = 1
'''


def _covered(chunks) -> list[int]:
    return [n for c in chunks for n in range(c.start_line, c.end_line + 1)]


def test_small_units_stay_whole_and_long_ones_split_at_statements():
    text = SMALL + "\n\n" + LONG_FUNCTION
    chunks = chunk_file("m.py", text, "python", max_lines=20, max_chars=2000)
    lines = text.split("\n")
    assert chunks[0].text.startswith("# a helper") and "class Tiny" in chunks[0].text
    body = [c for c in chunks if "x = x +" in c.text]
    assert len(body) >= 3 and all(c.end_line - c.start_line + 1 <= 20 for c in chunks)
    assert body[0].text.startswith("def long_one(x):")  # the header stays with the body's start
    # every non-blank line is in exactly one chunk, in order
    covered = _covered(chunks)
    assert covered == sorted(covered) and len(covered) == len(set(covered))
    assert {i + 1 for i, ln in enumerate(lines) if ln.strip()} <= set(covered)
    for c in chunks:
        assert c.text == "\n".join(lines[c.start_line - 1:c.end_line])


def test_a_comment_stays_with_the_definition_below_it():
    text = "x = 1\n" * 5 + "# explains f\n" + "def f():\n" + "    pass\n" * 6
    chunks = chunk_file("m.py", text, "python", max_lines=8, max_chars=1000)
    assert any(c.text.startswith("# explains f\ndef f():") for c in chunks)


def test_javascript_uses_its_grammar():
    assert grammar("javascript") is not None
    fns = "".join(f"function f{i}(a) {{\n  const b = a * {i};\n  return b + 1;\n}}\n\n" for i in range(12))
    chunks = chunk_file("m.js", fns, "javascript", max_lines=10, max_chars=1000)
    assert all(c.text.startswith("function f") and c.text.endswith("}") for c in chunks)


def test_without_a_grammar_paragraphs_are_the_units():
    assert grammar("cobol") is None
    text = "para one\nline two\n\npara two\n" + "x\n" * 30
    chunks = chunk_file("notes.cbl", text, "cobol", max_lines=10, max_chars=1000)
    assert chunks[0].text == "para one\nline two"
    assert chunks[1].text.startswith("para two") and all(c.end_line - c.start_line < 10 for c in chunks)


def test_an_overlong_line_run_is_cut_at_the_limit():
    text = "s = '''\n" + "word " * 2000 + "\n'''\n"
    chunks = chunk_file("m.py", text, "python", max_lines=30, max_chars=500)
    assert len(chunks) >= 2 or len(chunks[0].text) > 500  # a single 10k-character line cannot be cut
    assert _covered(chunks) == sorted(set(_covered(chunks)))
