"""Editor traffic for the serving benchmark: deterministic traces of FIM requests made
from real files of the Python standard library, in the shape llama.vscode sends them
(`/infill` with input_prefix, prompt and input_suffix).

An editor types the real text that follows its cursor (lines of the file), a few
characters per request (3-6, seeded). Each request sees the document as typed so far:
  * "full": the whole file before the cursor's line, the cursor line's text as `prompt`,
    and 3,000 characters after it (llm-ls sends whole files within its context window);
  * "window": llama.vscode's window: the 256 lines before the cursor's line and the
    rest of the line plus 64 lines after it, so each newline typed slides the window.
`edits_every` k also changes a line 5-12 lines below the cursor every k-th request (an
edit below the cursor), so the suffix changes between requests.

    python bench/editor_traces.py        # print each trace's shape
"""

from __future__ import annotations

import hashlib
import random
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

STDLIB = Path(sysconfig.get_paths()["stdlib"])
WINDOW_BEFORE, WINDOW_AFTER = 256, 64  # llama.vscode's n_prefix / n_suffix (lines)
FULL_SUFFIX_CHARS = 3000


@dataclass
class Editor:
    """One editor on one file, typing from `cursor_line` (1-based) on."""

    file: str
    cursor_line: int
    shape: str = "window"  # window | full
    edits_every: int = 0
    seed: int = 1234
    typed_lines: int = 40
    _lines: list[str] = field(default_factory=list, repr=False)
    _cuts: list[int] = field(default_factory=list, repr=False)
    _typed: str = ""
    _rest: list[str] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        text = (STDLIB / self.file).read_text()
        lines = text.splitlines(keepends=True)
        c = self.cursor_line - 1
        self._lines = lines[:c]
        self._typed = "".join(lines[c:c + self.typed_lines])
        self._rest = lines[c + self.typed_lines:]
        rng = random.Random(self.seed)
        n = 0
        while n < len(self._typed):
            n = min(n + rng.randint(3, 6), len(self._typed))
            self._cuts.append(n)
        self.sha256 = hashlib.sha256(text.encode()).hexdigest()[:12]

    def __len__(self) -> int:
        return len(self._cuts)

    def request(self, k: int) -> dict:
        """The k-th request's /infill fields."""
        typed = self._typed[: self._cuts[k]]
        rest = list(self._rest)
        if self.edits_every and k % self.edits_every == self.edits_every - 1:
            j = 5 + (k * 7) % 8  # a line 5-12 lines below, changed for good
            if j < len(rest):
                self._rest[j] = rest[j] = rest[j].rstrip("\n") + f"  # edited {k}\n"
        before_lines = self._lines + typed.splitlines(keepends=True)
        cur = before_lines.pop() if typed and not typed.endswith("\n") else ""
        # the cursor's line ends at the cursor (the user is writing it): "\n", then the rest
        if self.shape == "full":
            prefix = "".join(before_lines)
            suffix = ("\n" + "".join(rest))[:FULL_SUFFIX_CHARS]
        else:
            prefix = "".join(before_lines[-WINDOW_BEFORE:])
            suffix = "\n" + "".join(rest[:WINDOW_AFTER])
        return {"input_prefix": prefix, "prompt": cur, "input_suffix": suffix}

    def describe(self) -> str:
        return (f"{self.file} ({len(self._lines) + len(self._rest) + self.typed_lines} lines, sha256 "
                f"{self.sha256}), cursor at line {self.cursor_line}, {self.shape} shape"
                + (f", an edit below the cursor every {self.edits_every} requests" if self.edits_every else ""))


def traces() -> dict[str, list[Editor]]:
    """name -> the editors that take turns in it (one request each, round robin)."""
    return {
        "deep": [Editor("inspect.py", 2600, "full")],
        "window": [Editor("subprocess.py", 1200, "window")],
        "three": [Editor("tarfile.py", 900), Editor("difflib.py", 700, seed=7), Editor("ast.py", 600, seed=9)],
        "suffix": [Editor("pathlib.py", 700, "window", edits_every=3)],
    }


COLD = Editor("typing.py", 2000, "window", seed=5)  # a large file opened at a deep cursor


def interleave(editors: list[Editor], steps: int) -> list[tuple[int, dict]]:
    out = []
    for k in range(steps):
        e = k % len(editors)
        step = k // len(editors)
        if step < len(editors[e]):
            out.append((e, editors[e].request(step)))
    return out


if __name__ == "__main__":
    for name, eds in traces().items():
        print(name, "|", " / ".join(e.describe() for e in eds))
    print("cold |", COLD.describe())
