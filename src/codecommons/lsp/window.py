"""The prefix/suffix window around the cursor that goes into one FIM request.

The window is cut at line boundaries: the prefix starts at the beginning of a line
(taken from the cursor backwards), the suffix ends at the end of a line (taken from
the cursor forwards); the cursor's own line is always whole. Its size is a token
budget counted approximately on the client, CHARS_PER_TOKEN characters a token,
instead of asking the server to tokenize: a round trip per keystroke would cost
more than the whole budget check, and the server fits the prompt to the model's
context exactly anyway (tokenizer/fim.py, also cutting at line boundaries). The
budget only bounds what travels; erring long costs a few hundred bytes.

The split follows llama.vim's defaults (n_prefix 256 lines, n_suffix 64 lines:
the text before the cursor predicts more), as a share of the budget: the prefix
gets PREFIX_SHARE of it, the suffix the rest plus whatever the prefix left unused,
and the prefix then takes what the suffix left unused.

Keeping the prefix's start fixed while the user types matters for latency: the
server reuses its KV cache only for an unchanged prompt head, so the window's
first line moves in steps (STRIDE_LINES, or a quarter of the prefix's lines when
that is fewer, which bounds what the rounding takes from the budget), not one line
per new line typed.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

# Code BPE tokenizers (StarCoder's 49k, Qwen2.5's 151k vocabularies) average about
# 3-4 characters a token on source code; 3 over-counts tokens, so the budget is not
# exceeded on typical code.
CHARS_PER_TOKEN = 3
PREFIX_SHARE = 0.75
STRIDE_LINES = 32


@dataclass
class Window:
    prefix: str  # from a line start to the cursor
    suffix: str  # from the cursor to a line end
    first_line: int  # the document line the prefix starts at


def _line_starts(text: str) -> list[int]:
    starts = [0]
    i = text.find("\n")
    while i != -1:
        starts.append(i + 1)
        i = text.find("\n", i + 1)
    return starts


def fim_window(text: str, cursor: int, budget_tokens: int) -> Window:
    """The window of `text` around code-point offset `cursor` within `budget_tokens`."""
    budget = max(0, budget_tokens) * CHARS_PER_TOKEN
    starts = _line_starts(text)
    cur = bisect.bisect_right(starts, cursor) - 1

    def end_of(line: int) -> int:  # offset just past line's "\n" (or the text's end)
        return starts[line + 1] if line + 1 < len(starts) else len(text)

    line_start, line_end = starts[cur], end_of(cur)
    head_room = int(budget * PREFIX_SHARE)
    if cursor - line_start > head_room or line_end - line_start > budget:
        # One enormous line (minified code): the only cut that cannot be at a line end.
        start = max(line_start, cursor - head_room)
        return Window(text[start:cursor], text[cursor:min(line_end, start + budget)], cur)
    first = cur  # whole lines above, within the prefix's share
    while first > 0 and cursor - starts[first - 1] <= head_room:
        first -= 1
    last = cur  # whole lines below, within the rest
    while last + 1 < len(starts) and end_of(last + 1) - starts[first] <= budget:
        last += 1
    while first > 0 and end_of(last) - starts[first - 1] <= budget:
        first -= 1  # the prefix takes what the suffix left unused
    if first > 0:  # stable head: the first line moves in strides (rounded up: in budget)
        stride = max(1, min(STRIDE_LINES, (cur - first) // 4))
        first = min(cur, -(-first // stride) * stride)
    return Window(text[starts[first]:cursor], text[cursor:end_of(last)], first)
