"""When to stop generating, decided on text as it streams.

Two kinds of rule:
  * stop strings (OpenAI `stop`, TGI `stop`): cut at the first occurrence; text that
    could be the start of a stop string is held back until it is known not to be;
  * infill rules for FIM requests, which an editor needs because a code model
    happily writes past the hole it was asked to fill:
      - single-line mode when the cursor is inside a line (the rest of the line is in
        the suffix): stop at the first newline;
      - end of block by indentation: a line indented less than the block the cursor
        is in ends the completion (a closing-bracket line at the block's own level is
        kept, then we stop);
      - no repeating the suffix: a generated line equal to the suffix's next
        non-blank line ends the completion before it, and at the end text that
        repeats the start of the suffix's first line is trimmed.

`StopChecker.feed` returns the text that is safe to emit now; `finish` returns what
was held back once the engine is done. Completion text is `emitted + finish()`.
"""

from __future__ import annotations

from dataclasses import dataclass

OPENERS = (":", "{", "(", "[", "=>", "->", "then", "do")
CLOSERS = set(")]}; ")
MIN_REPEAT_PREFIX = 6  # characters of the suffix's next line that a repeat must start with
COMMENT_MARKERS = ("#", "//", "/*", "--", ";")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


@dataclass
class InfillContext:
    """Where the cursor is: derived once from the request's prefix and suffix."""

    current_line: str  # text of the cursor's line before the cursor
    rest_of_line: str  # text of the cursor's line after the cursor
    next_line: str  # first non-blank line of the suffix after the cursor's line
    suffix_starts_line_end: bool
    heal: str = ""  # trailing blanks cut from the prompt; dropped from the output start
    min_indent: int = 0  # a later line indented less ends the completion (llama.cpp's n_indent)

    @classmethod
    def from_text(cls, prefix: str, suffix: str, heal: str = "") -> "InfillContext":
        current = prefix.rsplit("\n", 1)[-1]
        rest, _, after = suffix.partition("\n")
        if rest.strip() and not current.strip():
            nxt = current + rest  # cursor in a line's indentation: that line comes next
        else:
            nxt = next((ln for ln in after.split("\n") if ln.strip()), "")
        return cls(current, rest, nxt, suffix.startswith("\n") or suffix == "", heal)

    @property
    def single_line(self) -> bool:
        """Code on both sides of the cursor: complete this line only."""
        return bool(self.rest_of_line.strip()) and bool(self.current_line.strip())

    @property
    def block_indent(self) -> int:
        """Lines indented less than this end the block the cursor is in."""
        ind = _indent(self.current_line)
        stripped = self.current_line.rstrip()
        if stripped.strip() and stripped.endswith(OPENERS):
            return max(ind + 1, self.min_indent)  # cursor after a block opener: the body is deeper
        return max(ind, self.min_indent)


class _Kmp:
    """Knuth-Morris-Pratt matching of one stop string over text as it grows: each
    character is looked at a constant number of times (amortised), and `state` is the
    length of the longest prefix of the stop string that the text ends with."""

    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.fail = [0] * len(pattern)
        k = 0
        for i in range(1, len(pattern)):
            while k and pattern[i] != pattern[k]:
                k = self.fail[k - 1]
            if pattern[i] == pattern[k]:
                k += 1
            self.fail[i] = k
        self.state = 0

    def scan(self, text: str, start: int) -> int:
        """Advance over text[start:]; the start index of the first full match, or -1."""
        p, fail, k = self.p, self.fail, self.state
        for i in range(start, len(text)):
            c = text[i]
            while k and p[k] != c:
                k = fail[k - 1]
            if p[k] == c:
                k += 1
                if k == len(p):
                    self.state = k
                    return i + 1 - k
        self.state = k
        return -1


class StopChecker:
    def __init__(self, stops: list[str] | None = None, infill: InfillContext | None = None):
        self.stops = [s for s in (stops or []) if s]
        self._kmp = [_Kmp(s) for s in self.stops]
        self._scanned = 0  # self.text[:_scanned] has been matched against the stops
        self._held_from = self._held_for = 0  # infill: text from _held_from on is held (_safe_end)
        self.infill = infill
        self.text = ""  # everything generated, before cuts
        self.emitted = ""  # what feed() has released
        self.stopped = False
        self._line_start = 0  # index in self.text of the line being generated
        self._first_line = True
        self._heal = infill.heal if infill else ""

    def feed(self, piece: str) -> str:
        """Add generated text; return the part that may be sent to the client now."""
        if self.stopped:
            return ""
        if self._heal and piece:
            piece = self._drop_heal(piece)
        self.text += piece
        self._apply_stop_strings()
        if self.infill is not None and not self.stopped:
            self._apply_infill_lines()
        safe = self._safe_end()
        out = self.text[len(self.emitted):safe]
        self.emitted += out
        return out

    def finish(self) -> str:
        """Release held-back text once generation ended (EOS, length or a stop)."""
        end = len(self.text)
        if self.infill is not None and not self.stopped and not self._first_line:
            # the unfinished last line (max_tokens cut it) repeating the suffix's next line
            partial = self.text[self._line_start:]
            nxt = self.infill.next_line.strip()
            if partial.strip() and (self._repeats_next_line(partial) or (
                    len(partial.strip()) >= MIN_REPEAT_PREFIX and nxt.startswith(partial.strip()))):
                end = max(self._end_before(self._line_start), len(self.emitted))
        if self.infill is not None:
            end = self._trim_suffix_overlap(end)
            if self.infill.suffix_starts_line_end:  # the suffix brings its own newlines
                end = max(len(self.text[:end].rstrip()), len(self.emitted))
        out = self.text[len(self.emitted):end] if end > len(self.emitted) else ""
        self.emitted += out
        return out

    # -- rules --------------------------------------------------------------
    def _drop_heal(self, piece: str) -> str:
        """Token healing for blanks: the prompt ended before the cursor's trailing
        spaces (a lone whitespace token at the end of a prompt derails code models:
        "    " then " if"), so the model writes them again; drop what the user has."""
        k = 0
        while k < min(len(piece), len(self._heal)) and piece[k] == self._heal[k]:
            k += 1
        self._heal = self._heal[k:] if k == len(piece) else ""
        return piece[k:]

    def _cut(self, at: int) -> None:
        self.text = self.text[:at]
        self.stopped = True

    def _apply_stop_strings(self) -> None:
        """Linear in the output: each stop string's matcher scans only the new text."""
        hits = [i for i in (m.scan(self.text, self._scanned) for m in self._kmp) if i >= 0]
        self._scanned = len(self.text)
        if hits:
            self._cut(min(hits))

    def _apply_infill_lines(self) -> None:
        ctx = self.infill
        while not self.stopped:
            nl = self.text.find("\n", self._line_start)
            if nl < 0:
                return
            if self._first_line:
                self._first_line = False
                if ctx.single_line:
                    self._cut(nl)
                    return
            else:
                self._check_line(self.text[self._line_start:nl], self._line_start)
                if self.stopped:
                    return
            self._line_start = nl + 1

    def _check_line(self, line: str, start: int) -> None:
        """Judge one complete generated line (not the cursor's own line)."""
        ctx = self.infill
        if not line.strip():
            return
        if self._repeats_next_line(line):
            self._cut(self._end_before(start))
            return
        ind = _indent(line)
        if ind < ctx.block_indent:
            is_closer = set(line.strip()) <= CLOSERS and ind == _indent(ctx.current_line)
            self._cut(start + len(line) if is_closer else self._end_before(start))

    def _repeats_next_line(self, line: str) -> bool:
        """The suffix's next line again: equal, or that line's code followed by only a
        comment ("print(area)  # prints 3.14"). Short lines ("}", "end") must be equal:
        as a prefix they start too many other lines."""
        nxt = self.infill.next_line.strip()
        got = line.strip()
        if not nxt:
            return False
        if got == nxt:
            return True
        if len(nxt) < MIN_REPEAT_PREFIX or not got.startswith(nxt):
            return False
        return got[len(nxt):].lstrip().startswith(COMMENT_MARKERS)

    def _end_before(self, start: int) -> int:
        """Cut point before the line at `start`: drop the newline (and blank lines)
        that the suffix already provides when the cursor is at a line end."""
        if self.infill.suffix_starts_line_end:
            return len(self.text[:start].rstrip())
        return start

    def _trim_suffix_overlap(self, end: int) -> int:
        rest = self.infill.rest_of_line
        tail = self.text[:end]
        for k in range(min(len(rest), len(tail)), 0, -1):
            if rest[:k].strip() and tail.endswith(rest[:k]):
                return max(end - k, len(self.emitted))
        return end

    def _safe_end(self) -> int:
        """Everything may go out except a possible stop-string start and, for
        infill, the line still being judged (from `_line_start` on)."""
        end = len(self.text)
        if self.infill is not None:
            if self._held_for != self._line_start:  # trailing blank lines too: finish() may drop them
                self._held_for = self._line_start
                self._held_from = len(self.text[: self._line_start].rstrip())
            end = min(end, self._held_from)
        if not self.stopped and self._kmp:
            # the longest possible start of a stop string at the end of the text
            end = min(end, len(self.text) - max(m.state for m in self._kmp))
        return max(end, len(self.emitted))
