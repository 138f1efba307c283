"""Cache slots: which KV cache a request uses, and how much of it it can keep.

The llama.cpp engine serves several documents (editors, files) from one model: each
slot is a llama.cpp sequence with a KV cache of its own (`n_ctx` cells), holding the
tokens of the last prompt it evaluated. A request goes to the idle slot that lets it
reuse the most (ties: the slot that last served the same document, then the least
recently used), so one editor's typing never evicts another editor's cache, and a
file switched back to finds its prompt where it left it.

Reuse within a slot, as llama.cpp's server does with `--cache-reuse N`:
  1. the common token prefix of the cached and the new prompt is kept as is (exact:
     the same tokens at the same positions have the same keys and values);
  2. after it, chunks of at least `min_chunk` tokens that the new prompt shares with
     the cache further on (the first lines of a sliding window were dropped; a
     head of the file was cut) are kept and moved to their new positions. Rotary
     position embeddings (RoPE) make a move a rotation of the cached keys
     (llama.cpp's KV shift), so nothing is evaluated again. This is an
     approximation: those keys and values were computed with the dropped tokens in
     their context. llama.cpp accepts the same approximation; `min_chunk=0` turns
     it off for exact reuse only;
  3. everything after the first new token is evaluated: llama.cpp's batches must
     continue each sequence at its next position, so a chunk cannot be kept behind
     a new token. (This is why the infill layout puts the text that changes while
     typing last.)
At least the last prompt token is always evaluated, for fresh logits.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


MIN_REUSE = 32  # tokens of reuse that make a slot the one to take
# Min tokens of a chunk reused at a new position. llama.vscode advises 256 for its
# 8k-token prompts; with the interactive FIM budget on a small CPU (512 tokens), a
# re-cut after typing keeps a shared run of ~250 tokens, which 256 would throw away.
DEFAULT_CACHE_REUSE = 64


@dataclass
class Slot:
    id: int  # the llama.cpp sequence id
    tokens: list[int] = field(default_factory=list)  # tokens[i] is at position i of the KV cache
    key: str = ""  # the document it last served
    last_used: float = 0.0
    busy: bool = False


@dataclass
class Plan:
    """How a prompt uses a slot: keep `n_keep` tokens, then move each (cache start,
    prompt start, length) chunk; `n_reused` of the prompt's tokens need no evaluation."""

    slot: Slot
    n_keep: int
    moves: list[tuple[int, int, int]]

    @property
    def n_shifted(self) -> int:
        return sum(n for _, _, n in self.moves)

    @property
    def n_reused(self) -> int:
        return self.n_keep + self.n_shifted


def common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def plan_reuse(slot: Slot, prompt: list[int], min_chunk: int) -> Plan:
    """llama.cpp's chunk reuse (server-context.cpp, `n_cache_reuse`): after the common
    prefix, walk the cache; a run of >= min_chunk tokens equal to the prompt at its
    current position is kept (moved left to it), any other cache token is skipped.
    The walk ends at the first prompt token that no cached run continues."""
    cache = slot.tokens
    limit = len(prompt) - 1  # the last prompt token is always evaluated
    n_keep = min(common_prefix(cache, prompt), limit)
    moves: list[tuple[int, int, int]] = []
    if min_chunk > 0:
        head_c = head_p = n_keep
        while head_c < len(cache) and head_p < limit:
            n = 0
            while (head_c + n < len(cache) and head_p + n < limit
                   and cache[head_c + n] == prompt[head_p + n]):
                n += 1
            if n >= min_chunk:
                moves.append((head_c, head_p, n))
                head_c += n
                head_p += n
            else:
                head_c += 1
    return Plan(slot, n_keep, moves)


class SlotTable:
    def __init__(self, n_slots: int) -> None:
        assert n_slots >= 1, f"n_slots must be >= 1, got {n_slots}"
        self.slots = [Slot(i) for i in range(n_slots)]

    def choose(self, prompt: list[int], key: str, min_chunk: int) -> Plan | None:
        """The plan over the idle slot that reuses the most of `prompt`, or None when
        every slot is busy."""
        best: tuple | None = None
        for slot in self.slots:
            if slot.busy:
                continue
            plan = plan_reuse(slot, prompt, min_chunk)
            # A few shared tokens (the FIM sentinel, BOS, a license header) are not worth
            # another document's cache: below MIN_REUSE the least recently used slot goes.
            worth = plan.n_reused if plan.n_reused >= MIN_REUSE else 0
            rank = (worth, bool(key) and slot.key == key, -slot.last_used)
            if best is None or rank > best[0]:
                best = (rank, plan)
        if best is None:
            return None
        plan = best[1]
        plan.slot.busy = True
        plan.slot.key = key
        return plan

    def release(self, slot: Slot) -> None:
        slot.busy = False
        slot.last_used = time.monotonic()

    def busy(self) -> int:
        return sum(s.busy for s in self.slots)
