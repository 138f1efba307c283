"""Secrets never leave a model: generated text is redacted before it is sent (by
`commons serve`, and by `commons lsp` running a model in-process).

Models reproduce keys and passwords from their training data. Every response's
generated text (never the user's prompt) goes through the same detector the
curation pipeline uses (codecommons.pii): keys and tokens, private-key blocks and
passwords in assignments by default, each kind configurable.

Streaming: text is released line by line, since a secret is judged with its
line's context (`password = "..."`); a private-key block is held until its END line
or the end of the generation, so no part of it is ever streamed.
"""

from __future__ import annotations

from collections import Counter

DEFAULT_KINDS = ("key", "password", "private_key")
BEGIN_KEY = "-----BEGIN"
END_KEY = "-----END"


class Scrubber:
    def __init__(self, kinds: tuple[str, ...] = DEFAULT_KINDS) -> None:
        self.kinds = kinds
        self.buffer = ""
        self.counts: Counter = Counter()

    def feed(self, text: str) -> str:
        """Add generated text; return what may be sent now (scrubbed)."""
        if not self.kinds:
            return text
        self.buffer += text
        cut = self._releasable()
        out, self.buffer = self.buffer[:cut], self.buffer[cut:]
        return self._redact(out) if out else ""

    def finish(self) -> str:
        out, self.buffer = self.buffer, ""
        return self._redact(out) if out and self.kinds else out

    def _releasable(self) -> int:
        """Up to the last newline, unless a private-key block is still open."""
        cut = self.buffer.rfind("\n") + 1
        begin = self.buffer.rfind(BEGIN_KEY, 0, cut)
        if begin >= 0 and self.buffer.find(END_KEY, begin) < 0:
            cut = self.buffer.rfind("\n", 0, begin) + 1  # hold the whole open block
        return cut

    def _redact(self, text: str) -> str:
        from codecommons.pii import redact

        red = redact(text, self.kinds)
        self.counts.update({k: n for k, n in red.counts.items() if n})
        return red.text
