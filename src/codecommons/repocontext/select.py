"""Which code from the rest of the repository goes into one completion's prompt.

    chunks = select_context(index, "pkg/app.py", prefix, suffix, budget_tokens=1024,
                            count_tokens=engine.count_tokens, client_chunks=extra)
    files = context_files(chunks)          # -> InfillBuilder.build(..., files=files)

Two sources, after Continue's autocomplete (core/autocomplete: ImportDefinitionsService,
RootPathContextService) and CrossCodeEval's retrieval baseline:

(a) definitions. The live document (prefix + suffix: the indexed copy of `path` is
    stale while the user types) is parsed for its imports; the names near the cursor
    (the last NEAR_LINES lines of the prefix, the first lines of the suffix; dotted
    chains such as `m.func` followed through modules) are resolved through them to
    definitions in other files, shown as stubs (pydefs.py). Ranked: names at the
    cursor; then imported names the prefix has not used yet (an import not used yet is
    about to be: the case where the model cannot guess what it is), those the suffix
    uses first, nearest first; then
    project definitions of un-imported names near the cursor when at most
    MAX_SAME_NAME share the name (a method called on an object, `obj.attr`, when
    exactly one definition has that name); then, by their signatures alone, the
    file's other imports (the prefix shows how it uses them). Only the MAX_LIKELY
    first imports not used yet are shown whole, the rest by their signatures.
(b) retrieval. BM25 (index.py) with the QUERY_PREFIX_LINES whole lines above the
    cursor and the rest of its line and QUERY_SUFFIX_LINES below as the query, over
    chunks of other files, those of the files the document imports first
    (IMPORTED_BOOST).

Then: chunks of `path` itself are never returned (the document is in the prompt);
chunks more than CURSOR_SIM similar to the text around the cursor are dropped
("such chunks usually distort the completion to repeat what was already there",
llama.vim, which evicts its ring chunks over 0.5); client chunks (llama.vscode's
`input_extra`, `commons lsp`'s ring buffer) are merged in. fit.py fits them all to the
token budget without duplicates, in an order that keeps the KV cache valid while the
user types, and with the chunks of the document's previous prompt (`held`) changes
the context only when the cursor needs something it lacks.

Modes: "off" (client chunks only), "definitions", "retrieval", "both".
"""

from __future__ import annotations

import builtins
import keyword
import re
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from codecommons.repocontext.files import language_of
from codecommons.repocontext.fit import fit
from codecommons.repocontext.index import RepoIndex
from codecommons.repocontext.modules import ModuleRef
from codecommons.repocontext.lexical import code_tokens, similarity
from codecommons.repocontext.pydefs import Definition, Import, bound_names, python_facts
from codecommons.repocontext.syntax import Chunk, end_row, parse
from codecommons.tokenizer.fim import ContextFile

MODES = ("off", "definitions", "retrieval", "both")
CURSOR_SIM = 0.5  # llama.vim: ring chunks this similar to the cursor's surroundings are evicted
AROUND_LINES = 16  # "the text around the cursor": this many lines each side (a 32-line ring chunk)
NEAR_LINES = 8  # prefix lines whose names are "near the cursor"
NEAR_SUFFIX_LINES = 2
QUERY_PREFIX_LINES = 10  # Continue takes symbols from 5 + 3 lines; RepoCoder a 20-line window
QUERY_SUFFIX_LINES = 5
RETRIEVE_K = 16
# A chunk of a file the document imports is what its code calls into (CrossCodeEval's
# cross-file context lives there by construction; llama.vscode's ring fills from the
# files the user works with): its BM25 score counts double. A prior, not a fitted value.
IMPORTED_BOOST = 2.0
MAX_SAME_NAME = 3  # an un-imported name defined more often than this is too ambiguous to show
MAX_LIKELY = 3  # imports not used yet shown whole; the others by their signatures

_CHAIN = re.compile(r"[A-Za-z_]\w*(?:[ \t]*\.[ \t]*[A-Za-z_]\w*)*(?:[ \t]*\.)?")
_STRINGS = re.compile(r"\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*'")  # one-line literals
_NOT_NAMES = frozenset(keyword.kwlist) | frozenset(dir(builtins)) | {"self", "cls"}


def select_context(index: RepoIndex | None, path: str, prefix: str, suffix: str, budget_tokens: int,
                   count_tokens: Callable[[str], int],
                   client_chunks: Sequence[Chunk | ContextFile | Mapping] = (),
                   mode: str = "both", held: Sequence[Chunk] = ()) -> list[Chunk]:
    """Chunks for the prompt of a completion at the end of `prefix` in `path` (relative to
    the index's root, or absolute inside it), within `budget_tokens` as `count_tokens`
    counts them (each chunk with its path, as the repository format shows it). `held`:
    what the previous prompt for this document held (fit.py keeps it stable)."""
    if mode not in MODES:
        raise ValueError(f"unknown repository context mode {mode!r}; choose one of: {', '.join(MODES)}")
    if budget_tokens <= 0:
        return []
    rel = index.relative(path) if index is not None and path else path
    around = around_cursor(prefix, suffix)
    client = [c for c in map(client_chunk, client_chunks) if similarity(c.text, around) <= CURSOR_SIM]
    defs, found = [], []
    doc = _read_doc(rel, prefix + suffix) if index is not None and language_of(rel) == "python" else None
    if doc is not None and mode in ("definitions", "both"):
        defs = definition_chunks(index, rel, prefix, suffix, doc)
    if index is not None and mode in ("retrieval", "both"):
        imported = imported_files(index, rel, doc) if doc is not None else set()
        found = retrieved_chunks(index, rel, prefix, suffix, around, imported)
    return fit(defs, client, found, budget_tokens, count_tokens, held)


def context_files(chunks: Sequence[Chunk]) -> list[ContextFile]:
    """Chunks as the files of the repository format (tokenizer/fim.py), one per chunk,
    in order; consecutive chunks of one file share one file entry."""
    out: list[ContextFile] = []
    for c in chunks:
        if out and out[-1].path == c.path:
            out[-1] = ContextFile(c.path, out[-1].text + "\n\n" + c.text)
        else:
            out.append(ContextFile(c.path, c.text))
    return out


def client_chunk(c: Chunk | ContextFile | Mapping) -> Chunk:
    """An editor's chunk: ours, a ContextFile (what the server makes of `extra_context`),
    or llama.vscode's `input_extra` item {filename, text}."""
    if isinstance(c, Chunk):
        return c if c.kind == "client" else Chunk(c.path, c.start_line, c.end_line, c.text, "client")
    if isinstance(c, ContextFile):
        return Chunk(c.path, 0, 0, c.text, "client")
    return Chunk(str(c.get("filename") or c.get("path") or ""), 0, 0, str(c.get("text", "")), "client")


def around_cursor(prefix: str, suffix: str) -> str:
    """The AROUND_LINES whole lines above the cursor's line and below it (the line being
    typed is left out, so what is dropped does not change with each keystroke)."""
    before = prefix.split("\n")[:-1][-AROUND_LINES:]
    after = suffix.split("\n")[1:AROUND_LINES + 1]
    return "\n".join(before + after)


# -- (b) retrieval ----------------------------------------------------------------------------


def retrieved_chunks(index: RepoIndex, path: str, prefix: str, suffix: str, around: str,
                     imported: set[str] = frozenset()) -> list[Chunk]:
    """BM25 hits for the code at the cursor, best first, minus near-copies of it; hits in
    files the document imports count IMPORTED_BOOST times. The query leaves out the
    part of the cursor's line typed so far: the hits then stay the same while a line is
    typed, and so does the prompt's cached start."""
    query = "\n".join(prefix.split("\n")[:-1][-QUERY_PREFIX_LINES:]
                      + suffix.split("\n")[:QUERY_SUFFIX_LINES + 1])
    hits = index.search(code_tokens(query), k=3 * RETRIEVE_K, exclude={path} if path else ())
    ranked = sorted(hits, key=lambda h: -h[1] * (IMPORTED_BOOST if h[0].path in imported else 1.0))
    return [Chunk(c.path, c.start_line, c.end_line, c.text, "retrieved") for c, _ in ranked[:RETRIEVE_K]
            if similarity(c.text, around) <= CURSOR_SIM]


def imported_files(index: RepoIndex, path: str, doc: _Doc) -> set[str]:
    """The project files the document's imports name (modules, or where names live)."""
    out = set()
    for imp in [*doc.bindings.values(), *doc.stars]:
        module = index.import_target(path, imp)
        if module:
            out.add(module)
        target = index.resolve_import(path, imp) if imp.name not in (None, "*") else None
        if target is not None:
            out.add(target.path)
    out.discard(path)
    return out


# -- (a) definitions ------------------------------------------------------------------------------


@dataclass
class _Doc:
    """The live document's imports and own top-level names."""

    bindings: dict[str, Import]
    stars: list[Import]
    local: set[str]  # names the document defines or binds anywhere
    import_rows: set[int]


def _read_doc(path: str, text: str) -> _Doc:
    tree = parse(text.encode("utf-8"), "python")
    defs, imports = python_facts(path, tree, text.split("\n"))
    rows = set()
    for node in tree.root_node.named_children:
        if node.type in ("import_statement", "import_from_statement"):
            rows.update(range(node.start_point.row, end_row(node)))
    return _Doc({i.alias: i for i in imports if i.name != "*"}, [i for i in imports if i.name == "*"],
                {d.name for d in defs if d.kind != "method"} | bound_names(tree.root_node), rows)


def near_chains(prefix: str, suffix: str) -> list[list[str]]:
    """Dotted names near the cursor, nearest first: the cursor's line right to left,
    the lines above, then the suffix's first lines. `m.` (nothing after the dot) gives
    ["m", ""]."""
    before = prefix.split("\n")[-NEAR_LINES - 1:]
    after = suffix.split("\n")[:NEAR_SUFFIX_LINES + 1]
    lines = list(reversed(before)) + after
    out = []
    for k, line in enumerate(lines):
        if line.lstrip().startswith(("import ", "from ")):
            continue  # what an import names is resolved through the document's imports
        code = _STRINGS.sub('""', line).split("#")[0]
        found = [re.sub(r"\s", "", m.group()).split(".") for m in _CHAIN.finditer(code)]
        out += reversed(found) if k < len(before) else found
    return out


def definition_chunks(index: RepoIndex, path: str, prefix: str, suffix: str,
                      doc: _Doc | None = None) -> list[tuple[Chunk, Chunk | None, bool]]:
    """Definitions the code at the cursor uses or is likely to use, best first, each as
    (its summary, its signature alone or None, needed now: it defines a name on the
    cursor's line)."""
    if language_of(path) != "python":
        return []
    doc = doc or _read_doc(path, prefix + suffix)
    ranked: dict[tuple[str, int, int], tuple[tuple, Chunk, Chunk | None]] = {}

    def add(target: Definition | ModuleRef | None, rank: tuple) -> None:
        brief = None
        if isinstance(target, ModuleRef):
            chunk = index.outline(target.path)
        elif target is not None:
            chunk = Chunk(target.path, target.start_line, target.end_line, target.summary, "definition")
            if target.brief and target.brief != target.summary:
                brief = Chunk(target.path, target.start_line, target.end_line, target.brief, "definition")
        else:
            chunk = None
        if chunk is None or chunk.path == path:
            return
        key = (chunk.path, chunk.start_line, chunk.end_line)
        if key not in ranked or rank < ranked[key][0]:
            ranked[key] = (rank, chunk, brief)

    # near_chains lists the cursor line's chains first
    on_line = len(near_chains(prefix[prefix.rfind("\n") + 1:], ""))
    for order, chain in enumerate(near_chains(prefix, suffix)):
        target = _resolve_chain(index, path, chain, doc)
        if target is not None:
            add(target, (0, order))
        elif chain[0] not in doc.bindings:
            for d in _by_name(index, path, chain, doc):
                add(d, (2, order))
    used = _used_rows(prefix, doc)
    later = _first_uses(suffix, doc)
    for order, (alias, imp) in enumerate(sorted(doc.bindings.items(), key=lambda kv: kv[1].line)):
        if alias in used:
            rank = (3, -used[alias])  # used above: the model can copy how
        elif alias in later:
            rank = (1, later[alias])  # first used below the cursor: likely here too
        else:
            rank = (1, 10**6 + order)  # not used yet
        add(index.resolve_import(path, imp), rank)
    # Whole stubs for the names at the cursor and the MAX_LIKELY likeliest next ones;
    # signatures for the rest (a long list of stubs distracts a small model from the
    # one it needs; a name the prefix already uses shows its use there).
    out, likely = [], 0
    for rank, chunk, brief in sorted(ranked.values(), key=lambda rc: rc[0]):
        likely += rank[0] == 1
        full = rank[0] in (0, 2) or (rank[0] == 1 and likely <= MAX_LIKELY)
        now = rank[0] in (0, 2) and rank[1] < on_line
        out.append((chunk, brief, now) if full or brief is None else (brief, None, now))
    return out


def _by_name(index: RepoIndex, path: str, chain: list[str], doc: _Doc) -> list[Definition]:
    """Project definitions of a name the document does not import: a bare name that is
    not local (not imported yet, or through an unresolved star import), if at most
    MAX_SAME_NAME definitions have it; `obj.attr`, if exactly one method has it."""
    attrs = [n for n in chain[1:] if n]
    name = attrs[-1] if attrs else chain[0]
    if name in _NOT_NAMES or (not attrs and name in doc.local):
        return []
    same = [d for d in index.definitions_named(name) if d.path != path
            and (d.kind == "method") == bool(attrs)]
    return same if 0 < len(same) <= (1 if attrs else MAX_SAME_NAME) else []


def _resolve_chain(index: RepoIndex, path: str, chain: list[str], doc: _Doc):
    head = chain[0]
    if head in doc.bindings:  # imported (even if a parameter somewhere shadows it)
        target = index.resolve_import(path, doc.bindings[head])
    elif head in doc.local or head in _NOT_NAMES:
        return None
    else:
        target = None
        for imp in doc.stars:
            base = index.import_target(path, imp)
            target = index.resolve_name(base, head) if base else None
            if target is not None:
                break
    for attr in chain[1:]:
        nxt = index.member(target, attr) if attr else None
        if nxt is None:
            break  # `m.` with nothing typed yet, or a class (its stub lists its members)
        target = nxt
    return target


def _first_uses(suffix: str, doc: _Doc) -> dict[str, int]:
    """Imported name -> the first suffix row that uses it."""
    first: dict[str, int] = {}
    for row, line in enumerate(suffix.split("\n")):
        for name in re.findall(r"[A-Za-z_]\w*", line.split("#")[0]):
            if name in doc.bindings:
                first.setdefault(name, row)
    return first


def _used_rows(prefix: str, doc: _Doc) -> dict[str, int]:
    """Imported name -> the last prefix row (outside import statements) that uses it."""
    last: dict[str, int] = {}
    for row, line in enumerate(prefix.split("\n")):
        if row in doc.import_rows:
            continue
        for name in re.findall(r"[A-Za-z_]\w*", line):
            if name in doc.bindings:
                last[name] = row
    return last
