"""The extra-context ring buffer (llama.vim's rules).

    python -m pytest tests/lsp/test_context.py -q
"""

from __future__ import annotations

from codecommons.lsp.context import RingContext, similarity


def lines(prefix: str, n: int = 10) -> list[str]:
    return [f"{prefix}_{i} = compute_{prefix}({i})" for i in range(n)]


def test_similarity_is_llama_vims_dice_over_word_tokens():
    assert similarity("a b c", "a b c") == 1.0
    assert similarity("a b", "c d") == 0.0
    # tokens0 = [x, y], tokens1 = [x, x, z]: 2 * 2 / 5
    assert similarity("x(y)", "x.x z") == 0.8
    assert similarity("", "") == 1.0


def test_chunks_queue_then_join_the_ring_when_idle():
    ring = RingContext(n_chunks=2, chunk_lines=8, idle_ms=3000)
    assert ring.pick("a.py", lines("alpha")) is not None
    assert ring.pick("a.py", lines("alpha")[:2]) is None  # under 3 lines
    assert len(ring.pick("b.py", lines("beta")).text.splitlines()) == 4  # half of chunk_lines
    assert ring.pick("b.py", lines("beta")) is None  # an exact duplicate
    ring.last_request = 100.0
    assert not ring.update(now=101.0)  # a completion 1 s ago: not idle
    assert ring.update(now=104.0) and ring.update(now=104.0)
    assert [c.filename for c in ring.ring] == ["a.py", "b.py"] and not ring.queued
    ring.pick("c.py", lines("gamma"))
    ring.update(now=110.0)
    assert [c.filename for c in ring.ring] == ["b.py", "c.py"]  # the oldest left


def test_a_new_chunk_evicts_near_duplicates():
    ring = RingContext(n_chunks=4, chunk_lines=64, idle_ms=0)
    ring.pick("a.py", lines("alpha"))
    ring.update(now=1e9)
    edited = lines("alpha")
    edited[3] = "alpha_3 = compute_alpha(33)"
    ring.pick("a.py", edited)  # > 0.9 similar: the old one goes
    assert ring.ring == [] and len(ring.queued) == 1 and ring.evicted == 1


def test_request_drops_chunks_like_the_cursor_text_and_keeps_the_budget():
    ring = RingContext(n_chunks=8, chunk_lines=64, max_chars=700, idle_ms=0)
    for name in ("alpha", "beta", "gamma", "delta"):
        ring.pick(f"{name}.py", lines(name))
        ring.update(now=1e9)
    around_cursor = "\n".join(lines("beta")[2:8])
    extra = ring.extra(around_cursor)
    assert "beta.py" not in [e["filename"] for e in extra]  # evicted, too similar
    assert all(set(e) == {"filename", "text"} for e in extra)
    assert sum(len(e["text"]) for e in extra) <= 700
    assert [e["filename"] for e in extra] == ["gamma.py", "delta.py"]  # newest, in ring order
