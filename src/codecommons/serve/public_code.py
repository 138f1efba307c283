"""Public-code check: does a suggestion copy indexed code, and under which licence?

`commons serve --index INDEX --public-code annotate|block [--block-licenses ...]`
checks every generated text against the code index (codeindex/, built by
`commons index build`) before it leaves the server:

* annotate: each choice carries an ``attribution`` list (repo, path, licence,
  licence type, spans in the choice's text, length, similarity);
* block: a choice whose text copies indexed code (at least ``min_chars``
  normalised characters, ~150 as GitHub Copilot's filter) under a blocked licence
  (``--block-licenses``: licence types or SPDX ids; default: any) is withheld
  with ``finish_reason: "content_filter"``.

Streaming in block mode: text is released line by line, and each release is
checked together with everything released before it; the first line that makes
the text a match is withheld and generation stops. What was already sent held no
match on its own, so at most ``min_chars`` of a copy can leave the server: below
the threshold that defines one. The check sees generated text only, never the
user's prompt (editing a file of an indexed repository is not copying it).

The membership filter answers first, so most checks never touch SQLite
(bench/attribution.py measures what a check adds to a completion).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MODES = ("off", "annotate", "block")


@dataclass
class PublicCodePolicy:
    index: object  # codeindex.search.CodeIndex (imported lazily: an optional extra)
    mode: str = "annotate"
    block_licenses: tuple[str, ...] = ()  # licence types or SPDX ids; empty: every match blocks

    @classmethod
    def open(cls, index_path: str, mode: str, block_licenses: tuple[str, ...] = (),
             min_chars: int = 150) -> "PublicCodePolicy":
        from codecommons.codeindex.search import CodeIndex

        return cls(CodeIndex(index_path, min_chars), mode, block_licenses)

    @property
    def min_chars(self) -> int:
        return self.index.min_chars

    def blocks(self, match: dict) -> bool:
        if self.mode != "block":
            return False
        if not self.block_licenses:
            return True
        ids = set(re.findall(r"[\w.+-]+", match["license"])) - {"AND", "OR", "WITH"}
        return match["license_type"] in self.block_licenses or bool(ids & set(self.block_licenses))

    def check(self, text: str) -> list[dict]:
        return [m.to_dict() for m in self.index.attribute(text)] if text.strip() else []


def shifted(matches: list[dict], offset: int) -> list[dict]:
    """Matches with their query spans moved by ``offset`` characters: spans are in
    the text a client receives, which may start with its own prompt (echo)."""
    return [{**m, "query_start": m["query_start"] + offset, "query_end": m["query_end"] + offset}
            for m in matches]


class PublicCodeGate:
    """One generation's check: feed generated text, get what may be sent."""

    def __init__(self, policy: PublicCodePolicy) -> None:
        self.policy = policy
        self.released = ""
        self.pending = ""
        self.blocked = False
        self.matches: list[dict] = []

    def feed(self, text: str) -> str:
        if self.blocked:
            return ""
        if self.policy.mode != "block":
            self.released += text
            return text
        self.pending += text
        cut = self.pending.rfind("\n") + 1
        return self._release(cut) if cut else ""

    def finish(self) -> str:
        """The rest of the text (or nothing, if it is withheld); sets ``matches``."""
        if self.blocked:
            return ""
        if self.policy.mode != "block":
            self.matches = self.policy.check(self.released)
            return ""
        return self._release(len(self.pending))

    def _release(self, cut: int) -> str:
        candidate = self.released + self.pending[:cut]
        self.matches = self.policy.check(candidate)
        if any(self.policy.blocks(m) for m in self.matches):
            self.blocked = True
            return ""
        out, self.pending = self.pending[:cut], self.pending[cut:]
        self.released = candidate
        return out
