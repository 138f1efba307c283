"""The llama.cpp engine's request loop: one thread owns the llama.cpp context and
steps every active request, in the manner of llama.cpp's own server (slots, one
batch per step).

Each step builds one batch:
  * every request that is generating adds its last sampled token (one token each:
    requests on different cache slots are decoded together);
  * every short prompt left (a keystroke in a warm document: at most SHORT_PREFILL
    tokens to evaluate) goes in whole, so an editor that types is never stuck behind
    another editor's cold file;
  * one long prompt (a file just opened) adds a chunk: alone, a whole batch; beside
    other requests, SHARED_CHUNK tokens, and only while long prompts have had less
    than LONG_SHARE of the recent engine time, so the others slow down by at most
    that share and the cold file still opens.
Cancellation (client gone, request superseded, shutdown) is checked every step, so a
long prefill stops within one chunk. A request's slot keeps what was evaluated, so a
cancelled or finished request's prompt is still there for the next one.

Greedy requests may be decoded speculatively (speculative.py): the step then feeds
the last token plus the drafted ones and keeps the longest prefix the model agrees
with, plus its own next token, so the output is the plain greedy output.
"""

from __future__ import annotations

import codecs
import logging
import queue
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from codecommons.engines.base import PromptStats, SamplingParams, Token
from codecommons.engines.kvcache import Plan, SlotTable
from codecommons.engines.sampling import Sampler, log_softmax, top_logprobs

log = logging.getLogger("codecommons.engines")

SHORT_PREFILL = 32  # a prompt with at most this many tokens left goes in whole, every step
SHARED_CHUNK = 32  # tokens of a long prompt per step while other requests are active
LONG_SHARE = 0.3  # of recent engine time, at most this on long prompts while others wait
TIME_DECAY = 0.9  # per step, for the engine-time shares
PROMPT_LOGPROB_CHUNK = 64  # prompt chunk when every prompt token needs logits (memory)
SPEC_START_K, SPEC_MAX_K, SPEC_PAUSE = 2, 16, 8  # adaptive draft length (DecodeLoop._adapt)
_END = object()


class EngineError(RuntimeError):
    """The model could not evaluate a request (llama_decode failed)."""


@dataclass
class Request:
    ids: list[int]
    params: SamplingParams
    cancel: threading.Event
    key: str
    stats: PromptStats
    sampler: Sampler
    is_stop: object  # callable(token id) -> bool: end of generation
    out: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)
    arrived: float = field(default_factory=time.monotonic)
    plan: Plan | None = None
    n_done: int = 0  # prompt tokens in the KV cache
    last: int | None = None  # sampled and sent, to be fed next step
    generated: list[int] = field(default_factory=list)
    draft: list[int] = field(default_factory=list)
    spec_k: int = 2  # draft length now (adapted to acceptance, see DecodeLoop._adapt)
    spec_pause: int = 0  # steps without drafting
    prompt_lp: list[tuple[int, float | None]] = field(default_factory=list)
    decoder: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")(errors="replace"))

    @property
    def slot(self):
        return self.plan.slot

    @property
    def prefilling(self) -> bool:
        return self.plan is not None and self.n_done < len(self.ids)


class DecodeLoop:
    """Owns a llama.cpp context; `submit` hands it a request, `run` is its thread."""

    def __init__(self, lib, ctx, piece, n_batch: int, n_ctx_slot: int, slots: SlotTable,
                 n_vocab: int, cache_reuse: int, proposer=None) -> None:
        self.lib, self.ctx, self.piece = lib, ctx, piece  # piece(token) -> bytes
        self.mem = lib.llama_get_memory(ctx)
        self.n_batch, self.n_ctx_slot, self.slots, self.n_vocab = n_batch, n_ctx_slot, slots, n_vocab
        self.cache_reuse = cache_reuse if lib.llama_memory_can_shift(self.mem) else 0
        self.proposer = proposer
        self.batch = lib.llama_batch_init(n_batch, 0, 1)
        self.drafted = self.accepted = 0  # speculative tokens proposed / kept (metrics, tests)
        self._busy_time = self._long_time = 0.0  # see _account
        self.waiting: list[Request] = []
        self.active: list[Request] = []
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._wake = threading.Event()
        self._stop = False
        self.thread = threading.Thread(target=self.run, name="llama-decode", daemon=True)

    # -- outside the loop ------------------------------------------------------
    def submit(self, req: Request) -> None:
        self._inbox.put(req)
        self._wake.set()

    def cancel_all(self) -> None:
        for r in list(self.waiting) + list(self.active):
            r.cancel.set()
        self._wake.set()

    def stop(self) -> None:
        self._stop = True
        self.cancel_all()
        if self.thread.is_alive():
            self.thread.join(timeout=30)
        self.lib.llama_batch_free(self.batch)

    # -- the loop --------------------------------------------------------------
    def run(self) -> None:
        while not self._stop:
            self._take_inbox()
            self._drop_cancelled()
            self._admit()
            if not self.active:
                self._wake.wait(timeout=0.5)
                self._wake.clear()
                continue
            try:
                self._step()
            except Exception as e:  # noqa: BLE001 - handed to every affected request
                log.exception("decode step failed")
                for r in self.active:
                    self._finish(r, e)
                self.active = []

    def _take_inbox(self) -> None:
        while True:
            try:
                self.waiting.append(self._inbox.get_nowait())
            except queue.Empty:
                return

    def _drop_cancelled(self) -> None:
        for r in [r for r in self.waiting if r.cancel.is_set()]:
            self.waiting.remove(r)
            self._finish(r)
        for r in [r for r in self.active if r.cancel.is_set()]:
            self.active.remove(r)
            self._finish(r)

    def _admit(self) -> None:
        """Waiting requests get an idle slot, in arrival order."""
        while self.waiting:
            req = self.waiting[0]
            min_chunk = 0 if req.params.prompt_logprobs else self.cache_reuse
            plan = self.slots.choose(req.ids, req.key, min_chunk)
            if plan is None:
                return
            self.waiting.pop(0)
            if req.params.prompt_logprobs:  # every prompt position needs its logits
                plan.n_keep, plan.moves = 0, []
            self._apply(plan)
            req.plan, req.n_done = plan, plan.n_reused
            req.stats.n_prompt, req.stats.slot, req.stats.seed = len(req.ids), plan.slot.id, req.sampler.seed
            req.stats.n_cached, req.stats.n_shifted = plan.n_keep, plan.n_shifted
            req.stats.n_evaluated = len(req.ids) - plan.n_reused
            self.active.append(req)

    def _apply(self, plan: Plan) -> None:
        """Make the slot's KV cache hold the planned tokens at their prompt positions."""
        lib, mem, seq, slot = self.lib, self.mem, plan.slot.id, plan.slot
        new_tokens = slot.tokens[: plan.n_keep]
        end = plan.n_keep  # first cache position not yet kept
        for c, p, n in plan.moves:
            lib.llama_memory_seq_rm(mem, seq, p, c)  # the cells between the kept ones
            lib.llama_memory_seq_add(mem, seq, c, c + n, p - c)
            new_tokens += slot.tokens[c:c + n]
            end = p + n
        lib.llama_memory_seq_rm(mem, seq, end, -1)
        slot.tokens = new_tokens

    # -- one step ----------------------------------------------------------------
    def _step(self) -> None:
        decoders = [r for r in self.active if r.last is not None]
        prefills = self._pick_prefills(decoders)
        entries: list[tuple[Request, int, int, bool]] = []  # (req, token, pos, logits)
        for r in decoders:
            pos = len(r.slot.tokens)
            r.draft = self._draft(r) if self.proposer is not None else []
            for i, t in enumerate([r.last, *r.draft]):
                entries.append((r, t, pos + i, True))
        chunked = []
        for r, size in prefills:
            size = min(size, self.n_batch - len(entries), len(r.ids) - r.n_done)
            if size <= 0:
                continue  # the batch is full: next step
            chunked.append(r)
            for i in range(r.n_done, r.n_done + size):
                want = i == len(r.ids) - 1 or r.params.prompt_logprobs
                entries.append((r, r.ids[i], i, want))
        t0 = time.monotonic()
        self._decode(entries)
        long_step = any(len(r.ids) - r.n_done > SHORT_PREFILL for r in chunked)
        self._account(time.monotonic() - t0, long_step)
        self._collect(entries, decoders, chunked)

    def _pick_prefills(self, decoders: list[Request]) -> list[tuple[Request, int]]:
        """Which prompts advance this step, and by how many tokens. Short ones (a
        keystroke in a warm document) all do, whole: they are what an editor waits for.
        Of the long ones (a file just opened), one: alone, a whole batch; beside other
        requests, a small chunk, and only while long prompts have had less than
        LONG_SHARE of recent engine time, so they cannot hold other editors up for
        long, yet always progress."""
        pending = [r for r in self.active if r.prefilling]
        short = [r for r in pending if r.params.prompt_logprobs is False
                 and len(r.ids) - r.n_done <= SHORT_PREFILL]
        out = [(r, SHORT_PREFILL) for r in short]
        long = [r for r in pending if r not in short]
        if not long:
            return out
        r = min(long, key=lambda r: (len(r.ids) - r.n_done, r.arrived))
        size = PROMPT_LOGPROB_CHUNK if r.params.prompt_logprobs else self.n_batch
        if decoders or short:
            if self._long_time >= LONG_SHARE * max(self._busy_time, 1e-9):
                return out
            size = min(size, SHARED_CHUNK)
        return out + [(r, size)]

    def _account(self, dt: float, long_step: bool) -> None:
        """Recent engine time, and the part spent on steps with a long prompt's chunk
        (exponentially decayed: about the last few seconds count)."""
        self._busy_time = self._busy_time * TIME_DECAY + dt
        self._long_time = self._long_time * TIME_DECAY + (dt if long_step else 0.0)

    def _draft(self, r: Request) -> list[int]:
        if not r.sampler.greedy or r.sampler.uses_history or r.params.logit_bias or r.params.logprobs is not None:
            return []
        if r.spec_pause > 0:
            r.spec_pause -= 1
            return []
        room = min(self.n_ctx_slot - len(r.slot.tokens) - 2,
                   r.params.max_tokens - len(r.generated) - 1, self.n_batch // 4, r.spec_k)
        if room <= 0:
            return []
        return self.proposer.propose(r.ids + r.generated, room, r.key)[:room]

    @staticmethod
    def _adapt(r: Request, drafted: int, accepted: int) -> None:
        """Draft length follows acceptance: on a CPU a checked token costs a good share
        of a decoded one, so drafts the model keeps rejecting make decoding slower
        (measured: FIM on the 0.5B, 19% acceptance, 1.6x slower). All kept: longer
        drafts; none kept: shorter, and at zero a pause before trying again."""
        if not drafted:
            return
        if accepted == drafted:
            r.spec_k = min(r.spec_k * 2, SPEC_MAX_K)
        elif accepted == 0:
            r.spec_k //= 2
            if r.spec_k == 0:
                r.spec_k, r.spec_pause = SPEC_START_K, SPEC_PAUSE
        else:
            r.spec_k = max(accepted + 1, 1)

    def _decode(self, entries: list[tuple[Request, int, int, bool]]) -> None:
        b = self.batch
        for i, (r, tok, pos, want) in enumerate(entries):
            b.token[i] = tok
            b.pos[i] = pos
            b.n_seq_id[i] = 1
            b.seq_id[i][0] = r.slot.id
            b.logits[i] = want
        b.n_tokens = len(entries)
        rc = self.lib.llama_decode(self.ctx, b)
        if rc != 0:
            raise EngineError(f"llama_decode failed (code {rc}): the KV cache may be full")
        for r, tok, _, _ in entries:
            r.slot.tokens.append(tok)

    def _logits(self, i: int) -> np.ndarray:
        ptr = self.lib.llama_get_logits_ith(self.ctx, i)
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,)).copy()

    def _collect(self, entries, decoders: list[Request], prefills: list[Request]) -> None:
        index = {(id(r), pos): i for i, (r, _, pos, want) in enumerate(entries) if want}
        for r in prefills:
            start = r.n_done
            r.n_done = start + sum(1 for e in entries if e[0] is r)
            if r.params.prompt_logprobs:
                self._prompt_logprobs(r, index, start)
            if r.n_done == len(r.ids) and r.params.max_tokens > 0:
                self._next(r, self._logits(index[(id(r), len(r.ids) - 1)]))
        for r in decoders:
            base = len(r.slot.tokens) - 1 - len(r.draft)  # the position r.last was fed at
            draft, r.last = r.draft, None
            self.drafted += len(draft)
            kept = 0
            for k in range(len(draft) + 1):
                logits = self._logits(index[(id(r), base + k)])
                if k < len(draft) and int(np.argmax(logits)) == draft[k]:
                    kept += 1
                    if not self._sampled(r, draft[k], logits):
                        break
                    continue
                # the model's own next token: after a rejected draft, or the bonus one
                self._next(r, logits)
                self._rewind(r, base + k + 1)
                break
            self.accepted += kept
            self._adapt(r, len(draft), kept)
        for r in [r for r in self.active if r.plan is not None and not r.prefilling and r.last is None]:
            self.active.remove(r)
            self._finish(r)

    def _next(self, r: Request, logits: np.ndarray) -> None:
        prev = r.ids + r.generated if r.sampler.uses_history else None
        self._sampled(r, r.sampler.sample(logits, prev, r.generated), logits)

    def _sampled(self, r: Request, tok: int, logits: np.ndarray) -> bool:
        """Send a new token to the client; True when generation goes on (the token is
        then fed in the next step), False when it ended with or before it."""
        params = r.params
        r.last = None
        if r.cancel.is_set() or tok in params.stop_token_ids or (
                r.is_stop(tok) and not params.ignore_eos):
            return False
        lp = top = None
        if params.logprobs is not None:
            lps = log_softmax(logits)
            lp = float(lps[tok])
            top = [(i, self._piece(i), v) for i, v in top_logprobs(lps, params.logprobs)]
        r.out.put(Token(tok, r.decoder.decode(self.piece(tok)), lp, top))
        r.generated.append(tok)
        if len(r.generated) >= params.max_tokens or len(r.slot.tokens) + 1 >= self.n_ctx_slot:
            return False
        r.last = tok
        return True

    def _piece(self, tok: int) -> str:
        return self.piece(tok).decode("utf-8", "replace")

    def _rewind(self, r: Request, keep: int) -> None:
        """Drop drafted tokens the model did not agree with from the KV cache."""
        if len(r.slot.tokens) > keep:
            self.lib.llama_memory_seq_rm(self.mem, r.slot.id, keep, -1)
            del r.slot.tokens[keep:]

    def _prompt_logprobs(self, r: Request, index: dict, start: int) -> None:
        if start == 0:
            r.prompt_lp.append((r.ids[0], None))
        for pos in range(start, min(r.n_done, len(r.ids) - 1)):
            lp = log_softmax(self._logits(index[(id(r), pos)]))
            nxt = r.ids[pos + 1]
            r.prompt_lp.append((nxt, float(lp[nxt])))
        if r.n_done == len(r.ids):
            r.stats.prompt_logprobs = r.prompt_lp

    def _finish(self, r: Request, error: Exception | None = None) -> None:
        if r.plan is not None:
            self.slots.release(r.plan.slot)
            r.plan = None
        r.out.put(error if error is not None else _END)


def tokens(req: Request):
    """The consumer side: yield the request's tokens until it ends. A consumer that
    stops early (a stop rule matched) ends the request in the loop too."""
    ended = False
    try:
        while not req.cancel.is_set():
            item = req.out.get()
            if item is _END:
                ended = True
                return
            if isinstance(item, Exception):
                ended = True
                raise item
            yield item
    finally:
        if not ended:  # closed early: the loop drops the request at its next step
            req.cancel.set()
