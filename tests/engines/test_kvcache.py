"""Cache slots and reuse (engines/kvcache.py) and the llama.cpp engine's decode loop:
routing to the slot with the longest reusable match, LRU eviction, slots that survive
other documents' requests, chunk reuse at shifted positions (and that the KV shift
itself is exact: rotary embeddings make attention depend on relative positions only),
and speculative decoding whose greedy output equals plain decoding.

    python -m pytest tests/engines/test_kvcache.py -q
"""

from __future__ import annotations

import ctypes
import threading

import numpy as np
import pytest

from codecommons.engines.base import PromptStats, SamplingParams
from codecommons.engines.kvcache import Slot, SlotTable, plan_reuse
from codecommons.tokenizer.fim import Segment

pytest.importorskip("llama_cpp")


# -- planning (pure) ----------------------------------------------------------------


def test_plan_keeps_the_common_prefix_and_always_evaluates_the_last_token():
    slot = Slot(0, [1, 2, 3, 4, 5])
    assert plan_reuse(slot, [1, 2, 3, 9, 9], 4).n_reused == 3
    assert plan_reuse(slot, [1, 2, 3, 4, 5], 4).n_reused == 4  # last token: fresh logits


def test_plan_moves_chunks_after_dropped_tokens_like_llama_cpp():
    head = list(range(100, 110))  # the first line of a sliding window, dropped
    body = list(range(1000, 1300))
    slot = Slot(0, [7] + head + body + [55, 56])
    prompt = [7] + body + [60, 61, 62]
    plan = plan_reuse(slot, prompt, min_chunk=256)
    assert plan.n_keep == 1 and plan.moves == [(11, 1, 300)] and plan.n_shifted == 300
    assert plan_reuse(slot, prompt, min_chunk=0).n_reused == 1  # off: prefix only
    assert plan_reuse(slot, prompt, min_chunk=400).moves == []  # chunk too short


def test_routing_prefers_longest_reuse_then_the_same_document_then_lru():
    table = SlotTable(3)
    a, b, c = table.slots
    long = list(range(100))
    a.tokens, b.tokens, c.tokens = long, long[:40] + [9, 9], []
    plan = table.choose(long + [5], key="x", min_chunk=0)
    assert plan.slot is a and plan.n_reused == 100
    assert table.choose(long + [5], key="x", min_chunk=0).slot is b  # a is busy: b reuses 40
    for s in table.slots:
        s.busy = False
    a.last_used, b.last_used = 2.0, 1.0
    # one shared token (a FIM sentinel) does not take another document's slot: the empty one
    assert table.choose([0, 77, 78], key="", min_chunk=0).slot is c
    table.release(a)
    for s in table.slots:
        s.busy = False
    a.last_used, b.last_used, c.last_used = 3.0, 2.0, 1.0
    c.tokens = [5, 5]
    assert table.choose([8, 8, 8], key="", min_chunk=0).slot is c  # nothing reusable: the LRU slot
    for s in table.slots:
        s.busy = False
    b.key = "doc"
    assert table.choose([8, 8, 8], key="doc", min_chunk=0).slot is b  # its own document's slot


# -- the engine -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_slots(gguf_spec):
    from codecommons.engines.llamacpp import LlamaCppEngine

    engine = LlamaCppEngine(gguf_spec, n_threads=1, slots=2, cache_reuse=16)
    yield engine
    engine.close()


def run(engine, text: str, key: str = "", n: int = 6, **kw) -> tuple[list[int], PromptStats]:
    stats = PromptStats()
    toks = [t.id for t in engine.generate([Segment(text)], SamplingParams(max_tokens=n, temperature=0, **kw),
                                          threading.Event(), key=key, stats=stats)]
    return toks, stats


def test_each_document_keeps_its_slot_across_other_documents_requests(two_slots):
    a = "def alpha(x):\n    return x + 1\n" * 6
    b = "class Beta:\n    value = 2\n" * 6
    first_a, _ = run(two_slots, a, "A")
    first_b, _ = run(two_slots, b, "B")
    again_a, sa = run(two_slots, a + "x", "A")
    again_b, sb = run(two_slots, b + "y", "B")
    assert sa.n_cached >= sa.n_prompt - 4 and sb.n_cached >= sb.n_prompt - 4  # both still warm
    assert sa.slot != sb.slot
    c = "import os\nprint(os.sep)\n" * 6
    _, sc = run(two_slots, c, "C")  # a third document evicts the least recently used slot (A)
    assert sc.slot == sa.slot and sc.n_cached <= 1
    _, sb2 = run(two_slots, b + "y", "B")
    assert sb2.n_cached >= sb2.n_prompt - 1


def test_prefix_reuse_gives_the_output_of_a_cold_prompt(two_slots, gguf_spec):
    from codecommons.engines.llamacpp import LlamaCppEngine

    text = "def beta(y):\n    total = 0\n    for i in range(y):\n"
    run(two_slots, text[:20], "W")
    warm, st = run(two_slots, text, "W", n=12)
    assert st.n_cached > 5
    cold_engine = LlamaCppEngine(gguf_spec, n_threads=1, slots=1)
    try:
        cold, _ = run(cold_engine, text, n=12)
    finally:
        cold_engine.close()
    assert warm == cold


def test_dropped_first_lines_are_reused_by_kv_shift(two_slots):
    lines = [f"value_{i} = compute({i}, {i * 3})\n" for i in range(30)]
    run(two_slots, "".join(lines), "S")
    _, st = run(two_slots, "".join(lines[1:]) + "result = ", "S")  # the window slid by one line
    assert st.n_shifted >= 100 and st.n_evaluated < 20


def test_the_kv_shift_itself_is_exact(gguf_spec):
    """Shifting every cached position by d and continuing at position n + d gives the
    logits of continuing at n: rotary embeddings see relative positions only."""
    from codecommons.engines.llamacpp import LlamaCppEngine

    engine = LlamaCppEngine(gguf_spec, n_threads=1, slots=1)
    lib, loop = engine._lib, engine.loop
    ids = engine.tokenize("def gamma(z):\n    return z * ")
    nxt = engine.tokenize("3")[0]

    def decode(tokens, start):
        b = loop.batch
        for i, t in enumerate(tokens):
            b.token[i], b.pos[i], b.n_seq_id[i], b.logits[i] = t, start + i, 1, i == len(tokens) - 1
            b.seq_id[i][0] = 0
        b.n_tokens = len(tokens)
        assert lib.llama_decode(loop.ctx, b) == 0
        return np.ctypeslib.as_array(lib.llama_get_logits_ith(loop.ctx, len(tokens) - 1),
                                     shape=(engine.vocab_size(),)).copy()

    try:
        decode(ids, 0)
        plain = decode([nxt], len(ids))
        lib.llama_memory_seq_rm(loop.mem, 0, 0, -1)
        decode(ids, 0)
        lib.llama_memory_seq_add(loop.mem, 0, 0, -1, 37)
        shifted = decode([nxt], len(ids) + 37)
        assert int(np.argmax(plain)) == int(np.argmax(shifted))
        assert np.max(np.abs(plain - shifted)) < 1e-2 * max(1.0, np.max(np.abs(plain)))
    finally:
        engine.close()


class Oracle:
    """Drafts the true greedy continuation with every third token wrong: the loop must
    keep the agreed prefix, take the model's own token at the first disagreement and
    drop the rest from the KV cache."""

    def __init__(self, prompt_len: int, truth: list[int]) -> None:
        self.n, self.truth = prompt_len, truth

    def propose(self, context: list[int], room: int, key: str = "") -> list[int]:
        done = len(context) - self.n
        out = list(self.truth[done:done + min(room, 5)])
        if len(out) >= 3:
            out[2] = (out[2] + 1) % 500
        return out


def test_speculative_verification_keeps_the_greedy_output(gguf_spec):
    from codecommons.engines.llamacpp import LlamaCppEngine

    prompt = "def add(a, b):\n    return a + b\n\ndef add("
    plain_engine = LlamaCppEngine(gguf_spec, n_threads=1, slots=1)
    spec_engine = LlamaCppEngine(gguf_spec, n_threads=1, slots=1, speculative="lookup")
    try:
        plain, _ = run(plain_engine, prompt, n=30, ignore_eos=True)
        spec_engine.loop.proposer = Oracle(len(spec_engine.encode([Segment(prompt)])), plain)
        fast, _ = run(spec_engine, prompt, n=30, ignore_eos=True)
        assert fast == plain
        loop = spec_engine.loop
        assert loop.drafted > loop.accepted > 0  # some drafts kept, some rejected
        again, _ = run(spec_engine, prompt + "x", n=10, ignore_eos=True)  # the cache is consistent
        spec_engine.loop.proposer = None
        assert again == run(spec_engine, prompt + "x", n=10, ignore_eos=True)[0]
    finally:
        plain_engine.close()
        spec_engine.close()


def test_draft_model_and_prompt_lookup_keep_the_greedy_output(gguf_spec, tiny_gguf):
    from codecommons.engines.llamacpp import LlamaCppEngine
    from codecommons.engines.speculative import PromptLookup

    assert PromptLookup(4).propose([5, 6, 7, 8, 9, 5, 6, 7], 4) == [8, 9, 5, 6]
    assert PromptLookup(4).propose([1, 2, 3], 4) == []
    plain_engine = LlamaCppEngine(gguf_spec, n_threads=1, slots=1)
    spec_engine = LlamaCppEngine(gguf_spec, n_threads=1, slots=1, speculative="both",
                                 draft_model=str(tiny_gguf))
    try:
        for prompt in ("x = [1, 2, 3, 1, 2, 3]\ny = [1, 2, ", "def add(a, b):\n    return a + b\n"):
            plain, _ = run(plain_engine, prompt, n=24, ignore_eos=True)
            assert run(spec_engine, prompt, n=24, ignore_eos=True)[0] == plain
        # the draft is the same model, so its drafts are all accepted
        assert spec_engine.loop.accepted == spec_engine.loop.drafted > 0
    finally:
        plain_engine.close()
        spec_engine.close()
