"""RepoIndex: a project folder's chunks, lexical index and definitions, kept current.

    index = RepoIndex("path/to/project")        # builds it
    index.refresh()                             # later: re-reads only what changed
    index.search(code_tokens("parse header"), k=5, exclude={"pkg/http.py"})
    index.resolve_name("pkg/app.py", "Request")   # through imports and re-exports

Incremental. Each file is remembered with its size, mtime and content hash.
`refresh()` lists the project again (git's listing in a checkout, so .gitignore is
respected), stats every file and re-reads only those whose size or mtime moved; a
file whose bytes hash as before (a `touch`, a save without change) is not parsed
again. Deleted files leave with their chunks and definitions. Cheap enough to call
before a request on a small project, or every few seconds from a thread
(`watch()`); `refresh(paths=[...])` checks just those files (an editor's save).

Per file: chunks at syntax boundaries (syntax.py) with their BM25 tokens
(lexical.py); for Python, definitions and imports (pydefs.py). The BM25 index over
all chunks (bm25s, Lù 2024, arXiv:2407.03618; Lucene's BM25 variant with k1 = 1.5,
b = 0.75) is rebuilt by a refresh that changed something (tens of milliseconds for a
few thousand chunks), so a search never waits for it. Python's modules and imports
are resolved by the PythonModules part (modules.py) over the tables kept here.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Iterable

from codecommons.repocontext import files as project_files
from codecommons.repocontext.lexical import code_tokens
from codecommons.repocontext.modules import PythonModules, module_name
from codecommons.repocontext.pydefs import Definition, Import, exports_of, python_facts
from codecommons.repocontext.syntax import MAX_CHARS, MAX_LINES, Chunk, chunk_file, parse, require_tree_sitter



@dataclass
class IndexConfig:
    max_bytes: int = project_files.MAX_BYTES  # larger files are left out ("huge")
    chunk_lines: int = MAX_LINES
    chunk_chars: int = MAX_CHARS


@dataclass
class FileEntry:
    path: str
    language: str
    sha: str
    size: int
    mtime_ns: int
    chunks: list[Chunk]
    tokens: list[list[str]]  # BM25 tokens of each chunk
    definitions: list[Definition] = field(default_factory=list)
    imports: list[Import] = field(default_factory=list)
    exports: list[str] | None = None  # a literal __all__


@dataclass
class RefreshStats:
    files: int = 0
    chunks: int = 0
    definitions: int = 0
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    touched: int = 0  # mtime moved, same bytes: not parsed again
    unchanged: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def reread(self) -> list[str]:
        """Files parsed in this refresh."""
        return self.added + self.changed


class RepoIndex(PythonModules):
    def __init__(self, root: str | Path, config: IndexConfig | None = None, build: bool = True) -> None:
        require_tree_sitter()
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise FileNotFoundError(f"no such project folder: {root}")
        self.name = self.root.name
        self.config = config or IndexConfig()
        self.entries: dict[str, FileEntry] = {}
        self.skipped: Counter = Counter()
        self._lock = threading.RLock()
        self._modules: dict[str, str] = {}  # dotted module name -> path
        self._module_of: dict[str, str] = {}  # path -> dotted module name
        self._by_tail: dict[str, list[tuple[tuple[str, ...], str]]] = {}  # last part -> (parts, path)
        self._by_name: dict[str, list[Definition]] = {}
        self._chunks: list[Chunk] = []
        self._bm25 = None
        self._outlines: dict[str, Chunk | None] = {}
        self.last_refresh = self.refresh() if build else RefreshStats()

    # -- keeping current ----------------------------------------------------------------
    def refresh(self, paths: Iterable[str] | None = None) -> RefreshStats:
        """Bring the index up to date with the folder (or with just `paths`)."""
        t0 = time.perf_counter()
        stats = RefreshStats()
        skipped: Counter = Counter()
        with self._lock:
            if paths is None:
                listing = project_files.source_paths(self.root, skipped)
                gone = set(self.entries) - set(listing)
            else:
                listing = sorted({self.relative(p) for p in paths})
                gone = set()
            entries = dict(self.entries)
            for p in listing:
                why = self._update(p, entries, stats)
                if why:
                    skipped[why] += 1
                    gone.add(p)
            for p in sorted(gone):
                if entries.pop(p, None) is not None:
                    stats.removed.append(p)
            if stats.added or stats.changed or stats.removed:
                self.entries = entries
                self._rebuild_tables()
                # built here, by whoever refreshes (a watcher thread, a save), not by
                # the next completion request
                self._bm25 = self._build_bm25() if self._chunks else None
            else:
                self.entries = entries  # touched files' new mtimes
            if paths is None:
                self.skipped = skipped
            stats.files, stats.chunks = len(self.entries), len(self._chunks)
            stats.definitions = sum(len(e.definitions) for e in self.entries.values())
            stats.skipped = dict(skipped)
        stats.seconds = time.perf_counter() - t0
        return stats

    def _update(self, p: str, entries: dict[str, FileEntry], stats: RefreshStats) -> str | None:
        """Re-read `p` if it changed; returns why it is not indexed (None: it is)."""
        full = self.root / p
        if project_files.language_of(p) is None or project_files.vendored(p):
            return "not source" if project_files.language_of(p) is None else "vendored"
        if full.is_symlink():  # may point outside the project
            return "symlink"
        try:
            st = full.stat()
        except (FileNotFoundError, NotADirectoryError):
            return "deleted"
        old = entries.get(p)
        if old is not None and old.size == st.st_size and old.mtime_ns == st.st_mtime_ns:
            stats.unchanged += 1
            return None
        data = full.read_bytes()
        sha = hashlib.blake2b(data, digest_size=16).hexdigest()
        if old is not None and old.sha == sha:
            entries[p] = replace(old, mtime_ns=st.st_mtime_ns, size=st.st_size)
            stats.touched += 1
            return None
        why = project_files.unusable(data, self.config.max_bytes)
        if why:
            return why
        entries[p] = self._read(p, data.decode("utf-8"), sha, st)
        (stats.changed if old is not None else stats.added).append(p)
        return None

    def _read(self, p: str, text: str, sha: str, st) -> FileEntry:
        language = project_files.language_of(p) or "text"
        tree = parse(text.encode("utf-8"), language)
        chunks = chunk_file(p, text, language, self.config.chunk_lines, self.config.chunk_chars, tree)
        path_tokens = code_tokens(PurePosixPath(p).stem)
        entry = FileEntry(p, language, sha, st.st_size, st.st_mtime_ns, chunks,
                          [code_tokens(c.text) + path_tokens for c in chunks])
        if language == "python" and tree is not None:
            entry.definitions, entry.imports = python_facts(p, tree, text.split("\n"))
            entry.exports = exports_of(tree.root_node)
        return entry

    def watch(self, interval_s: float = 2.0) -> threading.Event:
        """Refresh every `interval_s` seconds on a daemon thread; set the returned
        event to stop it."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(interval_s):
                self.refresh()

        threading.Thread(target=loop, name=f"repo-index-{self.name}", daemon=True).start()
        return stop

    def _rebuild_tables(self) -> None:
        """Module names, the definitions by name and the chunk list, from the entries."""
        packages = {str(PurePosixPath(p).parent) if "/" in p else "" for p in self.entries
                    if PurePosixPath(p).name == "__init__.py"}
        modules, by_tail, by_name, chunks = {}, defaultdict(list), defaultdict(list), []
        for p in sorted(self.entries):
            e = self.entries[p]
            chunks += e.chunks
            if e.language != "python":
                continue
            modules.setdefault(module_name(p, packages, self.name), p)
            parts = PurePosixPath(p).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1] or (self.name,)
            by_tail[parts[-1]].append((parts, p))
            for d in e.definitions:
                by_name[d.name].append(d)
        self._modules, self._by_tail, self._by_name = modules, dict(by_tail), dict(by_name)
        self._module_of = {p: m for m, p in modules.items()}
        self._chunks, self._bm25, self._outlines = chunks, None, {}

    # -- queries ------------------------------------------------------------------------
    def relative(self, path: str | Path) -> str:
        """`path` relative to the root, POSIX-style (absolute paths inside the root too)."""
        p = Path(path)
        if p.is_absolute():
            p = p.resolve().relative_to(self.root)
        return PurePosixPath(p.as_posix()).as_posix().removeprefix("./")

    def chunks(self) -> list[Chunk]:
        return self._chunks

    def search(self, tokens: list[str], k: int = 10, exclude: Iterable[str] = ()) -> list[tuple[Chunk, float]]:
        """The `k` chunks with the highest BM25 score for `tokens` (score > 0), from
        files other than `exclude`."""
        if not tokens:
            return []
        with self._lock:
            chunks = self._chunks
            if not chunks:
                return []
            if self._bm25 is None:
                self._bm25 = self._build_bm25()
            scores = self._bm25.get_scores(tokens)
        skip = set(exclude)
        order = scores.argsort()[::-1]
        out = []
        for i in order:
            if scores[i] <= 0 or len(out) >= k:
                break
            if chunks[i].path not in skip:
                out.append((chunks[i], float(scores[i])))
        return out

    def _build_bm25(self):
        try:
            import bm25s
        except ImportError as e:
            raise ImportError("repository retrieval needs bm25s: pip install 'codecommons[repo]'") from e
        corpus = [t for p in sorted(self.entries) for t in self.entries[p].tokens]
        bm25 = bm25s.BM25()  # Lucene variant, k1 = 1.5, b = 0.75
        bm25.index(corpus, show_progress=False)
        return bm25

    def definitions_named(self, name: str) -> list[Definition]:
        return self._by_name.get(name, [])

    def stats(self) -> dict:
        langs = Counter(e.language for e in self.entries.values())
        return {"root": str(self.root), "files": len(self.entries), "chunks": len(self._chunks),
                "definitions": sum(len(e.definitions) for e in self.entries.values()),
                "python_modules": len(self._modules), "languages": dict(langs.most_common()),
                "skipped": dict(self.skipped)}
