"""The FIM prompt formats, template detection and context fitting.

    python -m pytest tests/tokenizer/test_fim.py -q
"""

from __future__ import annotations

import pytest

from codecommons.tokenizer.fim import TEMPLATES, Segment, detect_template, fit_to_budget


def test_qwen_psm_layout_with_special_segments():
    t = TEMPLATES["qwen"]
    segs = t.segments("def f():\n", "\nprint(f())\n", middle_start="    ret")
    assert segs == [Segment("<|fim_prefix|>", True), Segment("def f():\n"),
                    Segment("<|fim_suffix|>", True), Segment("\nprint(f())\n"),
                    Segment("<|fim_middle|>", True), Segment("    ret")]


def test_codellama_spacing():
    assert TEMPLATES["codellama"].text("a", "b") == "<PRE> a <SUF>b <MID>"


@pytest.mark.parametrize("name", list(TEMPLATES))
def test_parse_undoes_text_for_every_family(name):
    t = TEMPLATES[name]
    prefix, suffix = "def f(x):\n    return x", "\n\nprint(f(1))\n"
    assert t.parse(t.text(prefix, suffix)) == (prefix, suffix, "")
    assert t.parse(t.text(prefix, suffix, "  # tail")) == (prefix, suffix, "  # tail")
    assert t.parse("just some code") is None


def test_user_text_cannot_inject_sentinels():
    segs = TEMPLATES["starcoder"].segments("x = '<fim_middle>'\n", "")
    literal = [s for s in segs if not s.special]
    assert literal[0].text == "x = '<fim_middle>'\n"  # stays text, encoded without specials


def test_detect_prefers_family_and_requires_real_special_tokens():
    qwen_vocab = {"<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"}
    assert detect_template("qwen2.5-coder", qwen_vocab.__contains__).name == "qwen"
    assert detect_template("codegemma", qwen_vocab.__contains__).name == "codegemma"
    assert detect_template("unknown", {"<fim_prefix>", "<fim_suffix>", "<fim_middle>"}.__contains__).name == "starcoder"
    assert detect_template("starcoder", lambda t: False) is None  # no FIM tokens: no infill


def count(text: str) -> int:  # one token per character: easy to reason about
    return len(text)


def test_fit_keeps_everything_when_it_fits():
    assert fit_to_budget("abc\n", "def\n", 100, count) == ("abc\n", "def\n")


def test_fit_cuts_prefix_front_and_suffix_back_at_line_boundaries():
    prefix = "".join(f"p{i:02d}\n" for i in range(50))  # 200 chars
    suffix = "".join(f"s{i:02d}\n" for i in range(50))
    p, s = fit_to_budget(prefix, suffix, 100, count)
    assert len(p) + len(s) <= 100
    assert prefix.endswith(p) and suffix.startswith(s)  # nearest the cursor kept
    assert p.startswith("p") and s.endswith("\n")  # whole lines only
    assert len(p) >= len(s)  # the prefix gets the larger share (3/4)


def test_fit_gives_unused_suffix_budget_to_prefix():
    prefix = "".join(f"p{i:02d}\n" for i in range(50))
    p, s = fit_to_budget(prefix, "end\n", 100, count)
    assert s == "end\n" and len(p) == 96
