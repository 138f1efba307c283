"""Parsing with tree-sitter, and source files cut into chunks at syntax boundaries.

Chunks are what retrieval returns and what a prompt holds, so a chunk should be a
whole unit of code: a function, a class small enough, a run of imports or constants.
The cut follows llama-index's CodeSplitter (which Tabby's repository index uses):
walk the syntax tree from the root; a node that fits the size limit is one unit, a
node that does not is opened and its children are the units; consecutive units are
packed greedily into chunks of at most `max_lines` lines and `max_chars` characters,
never across the start or end of an opened node (so the tail of one long function is
not glued to the head of the next). Work is on whole lines (a chunk is a line range, so a response can name it), and a
comment right above a unit stays with it. A node with no children that is still too
big (a long string) is cut at the limit.

Without a grammar for a language (its `tree-sitter-<language>` wheel not installed),
units are paragraphs: a blank line starts a new unit.

Grammars are looked up in GRAMMARS and imported on first use; tree-sitter itself is
needed (`pip install 'codecommons[repo]'`).
"""

from __future__ import annotations

import bisect
import functools
import importlib
from dataclasses import dataclass
from typing import Any

INSTALL_HINT = "pip install 'codecommons[repo]'  (tree-sitter and its Python grammar)"

# language -> (grammar module, function returning the language pointer)
GRAMMARS: dict[str, tuple[str, str]] = {
    "python": ("tree_sitter_python", "language"),
    "javascript": ("tree_sitter_javascript", "language"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "tsx": ("tree_sitter_typescript", "language_tsx"),
    "java": ("tree_sitter_java", "language"),
    "go": ("tree_sitter_go", "language"),
    "rust": ("tree_sitter_rust", "language"),
    "c": ("tree_sitter_c", "language"),
    "cpp": ("tree_sitter_cpp", "language"),
    "c_sharp": ("tree_sitter_c_sharp", "language"),
    "ruby": ("tree_sitter_ruby", "language"),
    "php": ("tree_sitter_php", "language_php"),
    "bash": ("tree_sitter_bash", "language"),
}

MAX_LINES = 30  # a chunk; RepoCoder retrieves 20-line windows, Tabby ~512-character chunks
MAX_CHARS = 900  # ~250 tokens: a 1,024-token context budget holds several


@dataclass(frozen=True)
class Chunk:
    """A piece of code for a prompt: lines start_line..end_line (1-based, inclusive)
    of `path`. `kind` says where it came from: "code" in the index; once selected for
    a prompt, "definition" (a definition's summary), "retrieved" (lexical search) or
    "client" (sent by the editor, line range 0..0 when unknown)."""

    path: str
    start_line: int
    end_line: int
    text: str
    kind: str = "code"


def require_tree_sitter():
    try:
        import tree_sitter
    except ImportError as e:
        raise ImportError(f"the repository index parses code with tree-sitter: {INSTALL_HINT}") from e
    return tree_sitter


@functools.cache
def grammar(language: str) -> Any | None:
    """The tree-sitter Language for `language`, or None when no grammar is installed."""
    spec = GRAMMARS.get(language)
    if spec is None:
        return None
    try:
        module = importlib.import_module(spec[0])
    except ImportError:
        return None
    return require_tree_sitter().Language(getattr(module, spec[1])())


def parse(source: bytes, language: str):
    """The syntax tree of `source`, or None without a grammar. A parser per call:
    tree-sitter parsers are not shared between threads, and one costs microseconds."""
    lang = grammar(language)
    if lang is None:
        return None
    return require_tree_sitter().Parser(lang).parse(source)


def end_row(node) -> int:
    """The row after a node's last line (a node that ends at column 0 ended on the row before)."""
    return node.end_point.row + (1 if node.end_point.column else 0)


def chunk_file(path: str, text: str, language: str | None, max_lines: int = MAX_LINES,
               max_chars: int = MAX_CHARS, tree=None) -> list[Chunk]:
    """`text` cut into chunks at syntax boundaries (paragraphs without a grammar)."""
    lines = text.split("\n")
    if tree is None and language:
        tree = parse(text.encode("utf-8"), language)
    hard: set[int] = set()
    if tree is not None:
        starts = _syntax_starts(tree.root_node, lines, max_lines, max_chars, hard)
    else:
        starts = {i for i in range(1, len(lines)) if not lines[i - 1].strip()}
    return [Chunk(path, s + 1, e, "\n".join(lines[s:e]))
            for s, e in _pack(lines, sorted(starts | {0}), hard, max_lines, max_chars)]


class _Sizes:
    """Characters in any line range, from prefix sums."""

    def __init__(self, lines: list[str]) -> None:
        self.acc = [0]
        for ln in lines:
            self.acc.append(self.acc[-1] + len(ln) + 1)

    def fits(self, s: int, e: int, max_lines: int, max_chars: int) -> bool:
        return e - s <= max_lines and self.acc[e] - self.acc[s] <= max_chars


def _syntax_starts(root, lines: list[str], max_lines: int, max_chars: int,
                   hard: set[int]) -> set[int]:
    """Rows where a chunk may start: the first row of every unit (see the module doc).
    `hard` receives the rows no chunk may span: where an opened node starts and ends."""
    sizes, starts = _Sizes(lines), set()

    def visit(node, body: bool = False) -> None:
        s, e = node.start_point.row, max(end_row(node), node.start_point.row + 1)
        if sizes.fits(s, e, max_lines, max_chars) or node.named_child_count == 0:
            return
        hard.add(min(e, len(lines)))
        if not body:  # a body (a def's block) may share a chunk with its header
            hard.add(s)
        prev, children = None, node.named_children
        for k, child in enumerate(children):
            attached = (prev is not None and prev.type == "comment"
                        and end_row(prev) >= child.start_point.row)
            if not attached:
                starts.add(child.start_point.row)
            visit(child, body=node is not root and k == len(children) - 1
                  and child.start_point.row > s)
            prev = child
        starts.add(min(e, len(lines)))

    starts.add(0)
    visit(root)
    return starts


def _pack(lines: list[str], starts: list[int], hard: set[int], max_lines: int,
          max_chars: int) -> list[tuple[int, int]]:
    """Greedy: each chunk runs from one start to the furthest start that keeps it within
    the limits and crosses no `hard` row (cut at the limit when even the next unit is
    too big); blank lines at
    a chunk's ends are trimmed and blank chunks dropped. Returns [start, end) rows."""
    sizes, n, out, s = _Sizes(lines), len(lines), [], 0
    starts = [x for x in starts if 0 <= x < n] + [n]
    while s < n:
        i = bisect.bisect_right(starts, s)
        e = None
        while i < len(starts) and sizes.fits(s, starts[i], max_lines, max_chars):
            e = starts[i]
            i += 1
            if e in hard:
                break
        if e is None:  # one unit over the limit with nothing to split it at: cut lines
            e = s + 1
            while e < n and sizes.fits(s, e + 1, max_lines, max_chars):
                e += 1
        a, b = s, e
        while a < b and not lines[a].strip():
            a += 1
        while b > a and not lines[b - 1].strip():
            b -= 1
        if a < b:
            out.append((a, b))
        s = e
    return out
