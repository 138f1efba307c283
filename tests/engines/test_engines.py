"""The engines behind one interface: llama.cpp (tiny GGUF) and transformers (tiny
folder with the same weights), plus KV-cache reuse and cancellation.

    python -m pytest tests/serve/test_engines.py -q
"""

from __future__ import annotations

import threading

import pytest

from codecommons.engines.base import ENGINES, SamplingParams, load_engine
from codecommons.serve.generation import Generation
from codecommons.tokenizer.fim import Segment

GREEDY = SamplingParams(max_tokens=8, temperature=0)


def text_of(engine, prompt, params=GREEDY, cancel=None) -> str:
    return "".join(t.text for t in engine.generate(prompt, params, cancel or threading.Event()))


@pytest.fixture(params=["gguf_engine", "hf_engine"])
def engine(request):
    return request.getfixturevalue(request.param)


def test_special_tokens_and_fim_template(engine):
    assert engine.special_token_id("<|fim_prefix|>") == 603
    assert engine.special_token_id("def") is None
    assert engine.fim_template().name == "qwen"
    assert 600 in engine.eos_token_ids()


def test_encode_never_parses_specials_in_plain_text(engine):
    plain = engine.encode([Segment("<|fim_prefix|>")])
    assert 603 not in plain and len(plain) > 1
    assert engine.encode([Segment("<|fim_prefix|>", special=True)]) == [603]


def test_long_texts_are_tokenized_once_and_the_cache_is_bounded(engine, monkeypatch):
    from codecommons.engines import base

    calls: list[str] = []
    real = engine.tokenize

    def counted(text, special=False):
        calls.append(text)
        return real(text, special=special)

    monkeypatch.setattr(engine, "tokenize", counted)
    chunk = "def helper(x):\n    return x + 1\n" * 12  # a repository chunk, sent every keystroke
    assert len(chunk) >= base.TOKEN_CACHE_MIN_CHARS
    first = engine.encode([Segment("<|file_sep|>", special=True), Segment(chunk)])
    assert engine.encode([Segment("<|file_sep|>", special=True), Segment(chunk)]) == first
    assert engine.count_tokens(chunk) == len(real(chunk)) == len(first) - 1
    assert calls.count(chunk) == 1  # encoded twice and counted: tokenized once
    assert calls.count("<|file_sep|>") == 2  # short texts are not kept
    monkeypatch.setattr(base, "TOKEN_CACHE_ENTRIES", 3)
    for i in range(5):
        engine.count_tokens(chunk + f"# {i}\n")
    assert len(engine._token_cache) == 3 and (chunk, False) not in engine._token_cache
    engine.count_tokens(chunk)
    assert calls.count(chunk) == 2  # evicted, least recently used first


def test_greedy_is_deterministic_and_seeded_sampling_reproduces(engine):
    p = [Segment("def f(x):\n")]
    assert text_of(engine, p) == text_of(engine, p)
    sampled = SamplingParams(max_tokens=8, temperature=1.0, seed=3)
    assert text_of(engine, p, sampled) == text_of(engine, p, sampled)


def test_both_engines_agree_on_greedy_output(gguf_engine, hf_engine):
    p = [Segment("import json\n\ndef load(path):\n")]
    assert text_of(gguf_engine, p) == text_of(hf_engine, p)


def test_kv_cache_reused_for_extended_prompt(engine):
    base = "def parse(text):\n    lines = text.split()\n"
    text_of(engine, [Segment(base)])
    n_base = len(engine.encode([Segment(base)]))
    text_of(engine, [Segment(base + "    return lines")])
    assert engine.last_prompt.n_cached >= n_base - 1
    assert engine.last_prompt.n_prompt > n_base


def test_cache_reuse_does_not_change_output(hf_engine):
    p = [Segment("class A:\n    def m(self):\n")]
    warm = text_of(hf_engine, [Segment("class A:\n")]) and text_of(hf_engine, p)
    hf_engine._cache, hf_engine._cached_ids = None, []  # cold
    assert text_of(hf_engine, p) == warm


def test_cancel_stops_before_next_token(engine):
    cancel = threading.Event()
    params = SamplingParams(max_tokens=50, temperature=0, ignore_eos=True)
    got = []
    for tok in engine.generate([Segment("x = ")], params, cancel):
        got.append(tok)
        if len(got) == 3:
            cancel.set()
    assert len(got) == 3


def test_typing_reuses_cache_in_fim_layout(gguf_engine):
    """The head/tail layout keeps the KV cache while the user types on a line."""
    gen = Generation(gguf_engine)
    suffix = "\n\ndef other():\n    return 2\n" * 3
    prefix = "import os\n\ndef main():\n    path = os.getcwd()\n    "
    evaluated = []
    for typed in ("pr", "print", "print(pa", "print(path)"):
        prep = gen.prepare_completion(prefix + typed, suffix, 4, [])
        list(gen.run(prep, SamplingParams(max_tokens=4, temperature=0), threading.Event()))
        evaluated.append(gguf_engine.last_prompt.n_prompt - gguf_engine.last_prompt.n_cached)
    assert max(evaluated[1:]) <= 6, evaluated  # only the newly typed tokens (+1 refresh)
    assert evaluated[0] > 20


def test_typing_in_a_file_larger_than_the_context_keeps_the_cache(gguf_engine):
    """An over-long prefix is cut once, with headroom, and the cut is kept while
    typing, so the prompt's start (and its KV cache) stays put."""
    gen = Generation(gguf_engine)
    prefix = "".join(f"value_{i} = compute({i})\n" for i in range(200))  # > 512 tokens
    suffix = "\nprint('done')\n"
    evaluated = []
    for typed in ("x", "x = ", "x = val", "x = value_1"):
        prep = gen.prepare_completion(prefix + typed, suffix, 4, [])
        assert prep.n_prompt + 4 <= gguf_engine.n_ctx
        list(gen.run(prep, SamplingParams(max_tokens=4, temperature=0), threading.Event()))
        evaluated.append(gguf_engine.last_prompt.n_prompt - gguf_engine.last_prompt.n_cached)
    assert max(evaluated[1:]) <= 6, evaluated


def test_unknown_engine_lists_valid_names(gguf_spec):
    with pytest.raises(ValueError) as e:
        load_engine(gguf_spec, "vllm-magic")
    for name in ENGINES:
        assert name in str(e.value)


def test_a_sliding_window_keeps_the_cache(gguf_spec):
    """llama.vscode sends the N lines before the cursor: each new line typed drops the
    window's first line. The head survives (what is left of it) and the engine reuses
    the rest of the cached prompt at shifted positions, so a newline costs the new
    tokens only, with and without a cut to the context budget."""
    from codecommons.engines.llamacpp import LlamaCppEngine

    engine = LlamaCppEngine(gguf_spec, n_threads=1, slots=1, cache_reuse=16)
    try:
        for window, budget in ((12, 0), (40, 200)):
            gen = Generation(engine, fim_context_tokens=budget)
            lines = [f"v{i} = f({i})\n" for i in range(200)]
            suffix = "\nprint('done')\n"
            evaluated = []
            for k in range(8):  # the user types one line per request
                doc = lines[: 100 + k]
                prep = gen.prepare_completion("".join(doc[-window:]) + "v", suffix, 4, [])
                list(gen.run(prep, SamplingParams(max_tokens=4, temperature=0), threading.Event()))
                evaluated.append(engine.last_prompt.n_evaluated)
            assert evaluated[0] > 40 and max(evaluated[2:]) <= 16, (window, budget, evaluated)
    finally:
        engine.close()


def test_edits_below_the_cursor_keep_the_cache_up_to_the_edit(gguf_spec):
    """The user types a line, then edits a line below the cursor, in a file cut to the
    context budget: the prefix keeps its cut and the suffix is fitted again, so the
    prompt's start stays put and even exact prefix reuse (`cache_reuse=0`) re-evaluates
    only from the edit on, not the whole prompt."""
    from codecommons.engines.llamacpp import LlamaCppEngine

    engine = LlamaCppEngine(gguf_spec, n_threads=1, slots=1, cache_reuse=0)
    try:
        gen = Generation(engine, fim_context_tokens=200)
        prefix = "".join(f"v{i} = f({i})\n" for i in range(100))
        below = [f"w{i} = g({i})\n" for i in range(12)]
        evaluated, n_prompt = [], []
        for k in range(5):  # (a sixth line would fill the budget: a new cut)
            prefix += f"x{k} = h({k})\n"  # a line typed at the cursor
            below[2] = f"w2 = g({k} * 7)\n"  # and an edit below it
            prep = gen.prepare_completion(prefix + "y", "\n" + "".join(below), 4, [])
            list(gen.run(prep, SamplingParams(max_tokens=4, temperature=0), threading.Event()))
            evaluated.append(engine.last_prompt.n_evaluated)
            n_prompt.append(engine.last_prompt.n_prompt)
        assert evaluated[0] == n_prompt[0] and min(n_prompt) > 120
        assert max(evaluated[1:]) <= 60, (evaluated, n_prompt)  # the suffix from the edit, the tail
    finally:
        engine.close()


def test_editors_that_do_not_name_their_document_keep_their_own_layout(gguf_spec):
    """Three editors sending /infill without a path (llama.vscode), interleaved, each in
    a file cut to the context budget: each finds its own layout again by its prefix, so
    each keeps its cut and its cache slot."""
    from codecommons.engines.llamacpp import LlamaCppEngine

    engine = LlamaCppEngine(gguf_spec, n_threads=1, slots=3, cache_reuse=0)
    try:
        gen = Generation(engine, fim_context_tokens=200)
        files = {name: "".join(f"{name}{i} = f({i})\n" for i in range(100)) for name in "abc"}
        evaluated = []
        for k in range(4):
            for name in "abc":
                files[name] += f"{name}x{k} = h({k})\n"
                prep = gen.prepare_completion(files[name] + "y", "\nend()\n", 4, [])
                list(gen.run(prep, SamplingParams(max_tokens=4, temperature=0), threading.Event()))
                evaluated.append(engine.last_prompt.n_evaluated)
        assert min(evaluated[:3]) > 100 and max(evaluated[3:]) <= 20, evaluated
    finally:
        engine.close()
