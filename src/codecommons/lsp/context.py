"""Context from other places: a ring buffer of code chunks sent as `extra_context`.

After llama.vim (`autoload/llama.vim`: s:pick_chunk, s:ring_update, s:chunk_sim)
and llama.vscode (`src/extra-context.ts`), ggml-org:

* chunks are picked from documents the user opens, edits, saves and leaves, and
  from the current document outside the FIM window when the cursor has moved far
  (`ring_scope` lines around it); a chunk is at most half of `chunk_lines` lines,
  the window around the line of interest (llama picks a random window; here it is
  centred, so the same edits give the same chunks); chunks under 3 lines are dropped;
* a new chunk first goes to a queue (16 at most), evicting queued and ring chunks
  that are more than 0.9 similar to it (exact duplicates are not queued);
* one queued chunk moves into the ring every `update_ms` once no completion was
  asked for in `idle_ms` (llama.vscode RING_UPDATE_MIN_TIME_LAST_COMPL, 3 s), the
  oldest leaving past `n_chunks`. The ring changes
  rarely and in order, so the server's KV cache over the extra context (which it
  places before the FIM prompt) stays valid between keystrokes, which is why
  chunks are not re-ranked per request: a re-ordered context is a cold prompt;
* at request time, chunks more than 0.5 similar to the text around the cursor are
  evicted: "such chunks usually distort the completion to repeat what was already
  there" (llama.vim); then the newest chunks that fit `max_chars` are sent, in
  ring order.

Similarity is llama.vim's Dice coefficient over \\W+-separated tokens,
2 * |tokens1 found in set(tokens0)| / (|tokens0| + |tokens1|).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from codecommons.repocontext.lexical import similarity  # llama.vim's s:chunk_sim, shared

MAX_QUEUED = 16  # llama.vim, llama.vscode MAX_QUEUED_CHUNKS
DUPLICATE_SIM = 0.9  # a new chunk evicts chunks at least this similar
CURSOR_SIM = 0.5  # chunks this similar to the cursor's surroundings are evicted
MIN_LINES = 3


@dataclass
class Chunk:
    filename: str
    text: str
    time: float = field(default_factory=time.time)


@dataclass
class RingContext:
    n_chunks: int = 16  # llama.vim ring_n_chunks
    chunk_lines: int = 64  # llama.vim ring_chunk_size (a chunk is half of it)
    max_chars: int = 8192  # sent per request (about 2,700 tokens at 3 chars a token)
    update_ms: int = 1000  # llama.vim ring_update_ms
    idle_ms: int = 3000  # llama.vscode RING_UPDATE_MIN_TIME_LAST_COMPL
    ring: list[Chunk] = field(default_factory=list)
    queued: deque[Chunk] = field(default_factory=deque)
    evicted: int = 0
    last_request: float = 0.0  # monotonic time of the last completion request

    def pick(self, filename: str, lines: list[str], around: int | None = None,
             evict: bool = True) -> Chunk | None:
        """Queue a chunk of `lines` (at most chunk_lines/2 of them, centred on index
        `around` when given, else from the top). `evict`: drop ring and queued
        chunks that are nearly the same (llama's do_evict)."""
        if self.n_chunks <= 0 or len(lines) < MIN_LINES:
            return None
        half = max(MIN_LINES, self.chunk_lines // 2)
        if len(lines) + 1 >= self.chunk_lines:
            lo = 0 if around is None else max(0, min(around - half // 2, len(lines) - half))
            lines = lines[lo:lo + half]
        text = "\n".join(lines) + "\n"
        if any(c.text == text for c in (*self.ring, *self.queued)):
            return None
        if evict:
            kept = [c for c in self.ring if similarity(c.text, text) <= DUPLICATE_SIM]
            kept_q = [c for c in self.queued if similarity(c.text, text) <= DUPLICATE_SIM]
            self.evicted += len(self.ring) - len(kept) + len(self.queued) - len(kept_q)
            self.ring, self.queued = kept, deque(kept_q)
        if len(self.queued) >= MAX_QUEUED:
            self.queued.popleft()
        chunk = Chunk(filename, text)
        self.queued.append(chunk)
        return chunk

    def update(self, now: float | None = None) -> bool:
        """Move one queued chunk into the ring when the user has not asked for a
        completion for `idle_ms`; called every `update_ms`. True when the ring changed."""
        now = time.monotonic() if now is None else now
        if not self.queued or (now - self.last_request) * 1000 < self.idle_ms:
            return False
        self.ring.append(self.queued.popleft())
        del self.ring[:-self.n_chunks]
        return True

    def extra(self, around_cursor: str) -> list[dict]:
        """The chunks for one request, as `extra_context` items ({filename, text})."""
        self.last_request = time.monotonic()
        kept = [c for c in self.ring if similarity(c.text, around_cursor) <= CURSOR_SIM]
        self.evicted += len(self.ring) - len(kept)
        self.ring = kept
        out, size = [], 0
        for c in reversed(kept):  # the newest that fit, then back in ring order
            if size + len(c.text) > self.max_chars:
                break
            out.append({"filename": c.filename, "text": c.text})
            size += len(c.text)
        return out[::-1]
