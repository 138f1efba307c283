"""Draft tokens for speculative decoding (Leviathan et al. 2023, arXiv:2211.17192; Chen
et al. 2023, arXiv:2302.01318), greedy requests only: the target model checks k drafted
tokens in one batch and keeps the longest prefix it agrees with, plus one token of its
own, so the output is exactly its greedy output while a step can yield several tokens.
On a CPU a batch of k+1 tokens costs little more than one (decoding is bound by
reading the weights), which is where the speed-up comes from.

Two proposers:
  * `PromptLookup` (Saxena 2023, "prompt lookup decoding"; vLLM's n-gram speculator):
    the longest recent n-gram of the context that occurred earlier in it is continued
    with what followed it there. Code completion repeats its context often (a name,
    a call pattern, the suffix the infill is heading to), and drafting costs nothing.
  * `DraftModel`: a smaller model of the same tokenizer family (Qwen2.5-Coder-0.5B for
    the 1.5B) drafts greedily. Its cache follows the target's context; a context it
    has not seen (a cold prompt) is not drafted for, since bringing the draft up to
    date would cost a prefill of its own.
`Both` tries prompt lookup first and the draft model when lookup finds nothing.
"""

from __future__ import annotations

import numpy as np

MODES = ("off", "lookup", "draft", "both")  # --speculative: none, prompt lookup, a draft model, both

LOOKUP_MAX_NGRAM = 4
LOOKUP_MIN_NGRAM = 3  # 2-grams of code (", ", "):\n") match everywhere and mostly mislead
LOOKUP_WINDOW = 4096  # context tokens searched
DRAFT_K = 6
DRAFT_SYNC_MAX = 64  # context tokens a draft model may evaluate to catch up, per step


class PromptLookup:
    def __init__(self, k: int = 10) -> None:
        self.k = k

    def propose(self, context: list[int], room: int, key: str = "") -> list[int]:
        ctx = np.asarray(context[-LOOKUP_WINDOW:], dtype=np.int64)
        k = min(self.k, room)
        for n in range(LOOKUP_MAX_NGRAM, LOOKUP_MIN_NGRAM - 1, -1):
            m = len(ctx) - n  # candidate starts 0..m-1 (an occurrence before the tail itself)
            if m <= 0 or k <= 0:
                continue
            hit = np.ones(m, dtype=bool)
            for j in range(n):
                hit &= ctx[j:j + m] == ctx[m + j]
            starts = np.nonzero(hit)[0]
            if len(starts):
                start = int(starts[-1])  # the most recent earlier occurrence
                follow = ctx[start + n:start + n + k]
                if len(follow):
                    return follow.tolist()
        return []


class DraftModel:
    """A small model drafting greedily on a llama.cpp context of its own (one sequence)."""

    def __init__(self, lib, model, ctx, n_vocab: int, n_batch: int, k: int = DRAFT_K) -> None:
        self.lib, self.model, self.ctx, self.n_vocab, self.k = lib, model, ctx, n_vocab, k
        self.mem = lib.llama_get_memory(ctx)
        self.n_ctx = lib.llama_n_ctx(ctx)
        self.batch = lib.llama_batch_init(max(n_batch, DRAFT_SYNC_MAX + 1), 0, 1)
        self.tokens: list[int] = []

    def _eval(self, ids: list[int], start: int) -> np.ndarray:
        b = self.batch
        for i, t in enumerate(ids):
            b.token[i], b.pos[i], b.n_seq_id[i] = t, start + i, 1
            b.seq_id[i][0] = 0
            b.logits[i] = i == len(ids) - 1
        b.n_tokens = len(ids)
        if self.lib.llama_decode(self.ctx, b) != 0:
            raise RuntimeError("draft model: llama_decode failed")
        self.tokens += ids
        ptr = self.lib.llama_get_logits_ith(self.ctx, len(ids) - 1)
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,))

    def propose(self, context: list[int], room: int, key: str = "") -> list[int]:
        k = min(self.k, room)
        if k <= 0 or len(context) + k >= self.n_ctx:
            return []
        keep = 0
        for a, b in zip(self.tokens, context):
            if a != b:
                break
            keep += 1
        keep = min(keep, len(context) - 1)
        if len(context) - keep > DRAFT_SYNC_MAX:  # cold for the draft: not worth a prefill
            return []
        self.lib.llama_memory_seq_rm(self.mem, 0, keep, -1)
        del self.tokens[keep:]
        logits = self._eval(context[keep:], keep)
        out: list[int] = []
        for _ in range(k):
            tok = int(np.argmax(logits))
            out.append(tok)
            if len(out) == k:
                break
            logits = self._eval([tok], len(self.tokens))
        return out

    def close(self) -> None:
        self.lib.llama_batch_free(self.batch)


class Both:
    def __init__(self, lookup: PromptLookup, draft: DraftModel) -> None:
        self.lookup, self.draft = lookup, draft

    def propose(self, context: list[int], room: int, key: str = "") -> list[int]:
        return self.lookup.propose(context, room, key) or self.draft.propose(context, room, key)

    def close(self) -> None:
        self.draft.close()
