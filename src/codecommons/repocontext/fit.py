"""Fitting the chosen chunks into one prompt: the token budget, duplicates, and an order
that keeps the server's KV cache valid while the user types.

    chunks = fit(defs, client, found, budget, count_tokens, held=previous_prompts_chunks)

Why the order matters. The engine keeps the longest common token prefix of a document's
consecutive prompts, and after it moves cached spans over deleted text
(engines/kvcache.py: llama.cpp's --cache-reuse); but one token inserted anywhere makes
everything after it new, the whole FIM prompt included. On this project's CPU (prefill
~120 tokens/s on the 0.5B) a context change costs ~1,000 tokens, 8 s. So:

  * from scratch (a document's first request, evaluation): definitions sorted by path
    and line (not by rank, which moves with the cursor), then client chunks in the
    order sent (llama.vscode's ring changes rarely and appends), then retrieved chunks,
    which change with the lines around the cursor, the best last, nearest the code
    being completed;
  * with the chunks of the document's previous prompt (`held`), hysteresis, so that
    the context changes at the moments it must rather than on every line: a held
    chunk stays while it is still a candidate (a definition the cursor's
    surroundings still resolve, a client chunk still sent, one of the RETRIEVE_K
    hits); a chunk enters only if it is *needed now* (a definition of a name on the
    cursor's line, a client chunk, one of the ENTER_RETRIEVED best hits). If nothing
    needed is missing, the prompt keeps the held chunks that remain (deletions only:
    the cache shifts over them). Otherwise (or if none remains) the prompt changes
    after the kept chunks anyway, so the from-scratch choice is taken whole: the
    chunks it shares with the held ones first, in their old order, then its new ones
    in the order above, then held ones that still fit.

The budget (`budget` tokens as `count_tokens` counts each chunk with its path, as the
repository format shows it) is filled in order: definitions up to DEFINITION_SHARE of
it (a definition whose summary does not fit is shown by its signature alone), client
chunks (newest first), retrieved chunks (best first), then definitions again. A
retrieved chunk already shown whole by a chosen definition is dropped, and one nearly
equal (> DUPLICATE_SIM, llama.vim's duplicate rule) to a client chunk; a retrieved
chunk that holds a chosen definition whole takes its place.
"""

from __future__ import annotations

from typing import Callable, Sequence

from codecommons.repocontext.lexical import similarity
from codecommons.repocontext.syntax import Chunk

DUPLICATE_SIM = 0.9  # llama.vim: a chunk this similar to another is a duplicate
DEFINITION_SHARE = 0.6  # of the budget, before retrieved chunks get theirs
SEPARATOR_TOKENS = 2  # the file separator token and the newline that ends a chunk
# A new retrieved chunk enters a held context only among this many best hits: the
# best hits sit last in the prompt, nearest the cursor, where they help most (a prior,
# not a fitted value; bench/repo_latency.py measures what the churn costs).
ENTER_RETRIEVED = 1


def fit(defs: Sequence[tuple[Chunk, Chunk | None, bool]], client: Sequence[Chunk],
        found: Sequence[Chunk], budget: int, count_tokens: Callable[[str], int],
        held: Sequence[Chunk] = ()) -> list[Chunk]:
    """The chunks for the prompt, in prompt order. `defs`: (summary, signature alone or
    None, needed now) best first; `client`: in the order sent; `found`: best first."""
    sizes: dict[Chunk, int] = {}  # both passes below count a chunk once

    def size(c: Chunk) -> int:
        if c not in sizes:
            sizes[c] = count_tokens(f"{c.path}\n{c.text}\n") + SEPARATOR_TOKENS
        return sizes[c]

    fresh = _Budget(budget, size)
    fresh.fill(defs, client, found)
    ideal = fresh.ordered(defs, client, found)
    if not held:
        return ideal
    candidates = {c: c for full, brief, _ in defs for c in (full, brief) if c is not None}
    candidates.update({c: c for c in (*client, *found)})
    kept = [candidates[h] for h in dict.fromkeys(held) if h in candidates]
    needed = {full for full, _, now in defs if now} | set(client) | set(found[:ENTER_RETRIEVED])
    # a needed definition shown by its signature alone (the budget) is needed in that form
    needed |= {brief for full, brief, now in defs if now and brief is not None}
    held_set = set(kept)
    missing = [c for c in ideal if c in needed and c not in held_set]
    out = _Budget(budget, size)
    if kept and not missing:  # what the cursor needs is there: only deletions
        return [c for c in kept if out.take(c, budget)]
    chosen = set(ideal)
    new = [c for c in ideal if c not in held_set]
    for c in [*(c for c in kept if c in chosen), *new, *(c for c in kept if c not in chosen)]:
        out.take(c, budget)
    picked = set(out.chosen)
    return [c for c in (*kept, *new) if c in picked]


class _Budget:
    """Chunks taken in order while they fit, without duplicates."""

    def __init__(self, budget: int, size: Callable[[Chunk], int]) -> None:
        self.budget, self.size = budget, size  # size: a chunk's tokens in the prompt
        self.chosen: list[Chunk] = []
        self.spent = 0

    def take(self, c: Chunk, limit: int) -> bool:
        # a retrieved chunk that holds a chosen definition whole, and more, replaces it
        covered = [o for o in self.chosen if c.kind == "retrieved" and o.kind == "definition"
                   and o.path == c.path and _holds(c, o) and len(c.text) > len(o.text)]
        if _redundant(c, [o for o in self.chosen if o not in covered]):
            return True
        n = self.size(c)
        if self.spent + n - sum(map(self.size, covered)) > limit:
            return False
        for o in covered:
            self.chosen.remove(o)
            self.spent -= self.size(o)
        self.chosen.append(c)
        self.spent += n
        return True

    def fill(self, defs, client, found) -> None:
        share = int(self.budget * DEFINITION_SHARE) if found or client else self.budget
        for full, brief, _ in defs:  # whole summaries while they fit; a signature otherwise
            if not self.take(full, share) and brief is not None:
                self.take(brief, share)
        for c in reversed(client):
            self.take(c, self.budget)
        for c in found:
            self.take(c, self.budget)
        for full, brief, _ in defs:
            if not any(o is full or o is brief for o in self.chosen):
                self.take(full, self.budget) or (brief is not None and self.take(brief, self.budget))

    def ordered(self, defs, client, found) -> list[Chunk]:
        """The from-scratch prompt order (module docstring)."""
        picked = set(map(id, self.chosen))
        kept_defs = [c for full, brief, _ in defs for c in (full, brief) if c is not None and id(c) in picked]
        return (sorted(kept_defs, key=lambda c: (c.path, c.start_line))
                + [c for c in client if id(c) in picked]
                + [c for c in reversed(found) if id(c) in picked])


def _holds(outer: Chunk, inner: Chunk) -> bool:
    """`outer` shows all of `inner` (same lines, same text)."""
    return outer.start_line <= inner.start_line and inner.end_line <= outer.end_line \
        and inner.text in outer.text


def _redundant(c: Chunk, chosen: list[Chunk]) -> bool:
    """Already there, a retrieved chunk that a chosen definition shows whole (or a
    definition a chosen retrieved chunk holds), or one that nearly equals a client
    chunk (or the reverse)."""
    for o in chosen:
        if o == c or (o.kind == c.kind == "definition" and (o.path, o.start_line) == (c.path, c.start_line)):
            return True
        if {c.kind, o.kind} == {"retrieved", "definition"} and o.path == c.path \
                and (_holds(o, c) or _holds(c, o)):
            return True
        if {c.kind, o.kind} == {"retrieved", "client"} and similarity(o.text, c.text) > DUPLICATE_SIM:
            return True
    return False
