"""Stop strings and the infill rules, fed token by token as an engine streams.

    python -m pytest tests/serve/test_stopping.py -q
"""

from __future__ import annotations

from codecommons.engines.stopping import InfillContext, StopChecker


def run(checker: StopChecker, pieces: list[str]) -> tuple[str, list[str]]:
    sent = []
    for p in pieces:
        out = checker.feed(p)
        if out:
            sent.append(out)
        if checker.stopped:
            break
    rest = checker.finish()
    if rest:
        sent.append(rest)
    return "".join(sent), sent


def chars(s: str) -> list[str]:
    return list(s)


def test_stop_string_split_across_pieces_is_never_sent():
    text, sent = run(StopChecker(["\ndef "]), ["x = 1", "\nd", "ef", " g():"])
    assert text == "x = 1" and checker_stopped_before("\ndef ", sent)


def checker_stopped_before(stop: str, sent: list[str]) -> bool:
    return all(stop not in s for s in sent)


def test_stream_releases_text_that_cannot_start_a_stop():
    c = StopChecker(["STOP"])
    assert c.feed("abc S") == "abc "  # "S" may start STOP: held
    assert c.feed("x") == "Sx"


def test_single_line_when_cursor_is_inside_a_line():
    ctx = InfillContext.from_text("x = compute(", ")\nprint(x)\n")
    text, _ = run(StopChecker([], ctx), chars("a, b\nprint(1)\n"))
    assert text == "a, b"


def test_repeated_suffix_close_is_trimmed():
    ctx = InfillContext.from_text("x = compute(", ")\nprint(x)\n")
    text, _ = run(StopChecker([], ctx), chars("a, b)"))
    assert text == "a, b"


def test_block_end_by_indentation():
    prefix = "def f(x):\n    y = x + 1\n    "
    ctx = InfillContext.from_text(prefix, "\n")
    text, _ = run(StopChecker([], ctx), chars("z = y * 2\n    return z\n\ndef g():\n    pass\n"))
    assert text == "z = y * 2\n    return z"


def test_block_after_opener_includes_body_only():
    ctx = InfillContext.from_text("def f(x):", "\n")
    text, _ = run(StopChecker([], ctx), chars("\n    return x\nprint(f(2))\n"))
    assert text == "\n    return x"


def test_closing_bracket_at_block_level_is_kept():
    ctx = InfillContext.from_text("int f() {", "\n")
    text, _ = run(StopChecker([], ctx), chars("\n  return 1;\n}\nint g() {\n"))
    assert text == "\n  return 1;\n}"


def test_line_repeating_the_suffix_ends_completion():
    prefix = "def f(x):\n    y = x\n"
    ctx = InfillContext.from_text(prefix, "    return y\n")
    text, _ = run(StopChecker([], ctx), chars("    y += 1\n    return y\n"))
    assert text == "    y += 1\n"  # cursor at a line start: the newline stays


def test_blanks_before_cursor_are_healed():
    ctx = InfillContext.from_text("def f(x):\n    ", "\n", heal="    ")
    text, _ = run(StopChecker([], ctx), ["    ret", "urn x"])
    assert text == "return x"


def test_trailing_blank_lines_dropped_when_suffix_brings_its_own():
    ctx = InfillContext.from_text("def f(x):\n    ", "\n\nprint(f(1))\n")
    text, sent = run(StopChecker([], ctx), chars("return x\n\n"))
    assert text == "return x"


def test_infill_streams_completed_lines_early():
    ctx = InfillContext.from_text("def f(x):\n    ", "\n")
    c = StopChecker([], ctx)
    assert c.feed("a = 1\n    b") == "a = 1"  # the first line is final once complete


def test_line_repeating_the_suffix_with_a_comment_ends_completion():
    ctx = InfillContext.from_text("import math\n\narea = math.pi * ", "\nprint(area)\n")
    c = StopChecker([], ctx)
    out = c.feed("radius ** 2\nprint(area)  # Output: 314.15\n") + c.finish()
    assert out == "radius ** 2"
    # a short next line must match exactly: "} else {" does not repeat "}"
    ctx = InfillContext.from_text("if (a) {\n  x();\n", "}\n")
    c = StopChecker([], ctx)
    assert c.feed("  y();\n} else {\n  z();\n") .startswith("  y();\n} else {")


def test_unfinished_last_line_repeating_the_suffix_is_dropped():
    ctx = InfillContext.from_text("import math\n\narea = math.pi * ", "\nprint(area)\n")
    c = StopChecker([], ctx)
    assert c.feed("radius ** 2\nprint(area)  # Output: 3") + c.finish() == "radius ** 2"
    c = StopChecker([], ctx)
    assert c.feed("radius ** 2\nprint(ar") + c.finish() == "radius ** 2"
