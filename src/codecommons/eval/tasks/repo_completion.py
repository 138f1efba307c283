"""Repository-level line completion, built offline from any multi-file Python project
in the manner of "CrossCodeEval: A Diverse and Multilingual Benchmark for Cross-File
Code Completion" (Ding et al., NeurIPS 2023 Datasets and Benchmarks).

Problems. For every Python file of a project, the uses of names defined in another
file of the same project are found statically: `from .models import Product` then
`Product(...)`, or `from . import pricing` / `import pkg.mod as m` then
`pricing.total(...)` / `m.name` (imports resolved by repocontext's RepoIndex, re-exports
and star imports followed). CrossCodeEval finds such uses by replacing the project's
imports with empty classes and collecting the undefined names a linter then reports;
resolving the imports finds the same uses without running a linter. The cursor goes
right before the first use of each such definition in a file (CrossCodeEval's "the
completion needs cross-file context"); the target is the rest of that line, the
prefix and suffix are the file's own text. Problems are drawn per project with a
fixed seed, at most `max_per_file` from one file, `problems_per_project` in all.

Conditions (one task name each, so each run has its own folder and resumes alone):
  * repo-completion-in-file: the document alone;
  * repo-completion-ring-buffer: llama.vscode-style extra context: 32-line chunks
    (llama.vim's ring_chunk_size / 2) of the files the document imports and of two
    random other files of the project, those more than 0.5 similar to the cursor's
    surroundings evicted, the most similar first, within the same budget;
  * repo-completion-retrieval: repocontext.select_context (definitions of the names
    at the cursor and of the file's imports, BM25-retrieved chunks), the serving path;
  * repo-completion-definitions / repo-completion-bm25: its two halves alone.
In every condition the document is withheld from the context (the problem's file is
what is being written) and the prompt is the model's repository format headed by the
file's path (tokenizer/fim.py RepoFormat), so conditions differ only in the context
files. The document's prefix + suffix window is `window_tokens`, the context
`context_tokens` (1,024 each by default: an editor's window and a realistic context
budget; CrossCodeEval's own setting gives 512 tokens of cross-file context).

Scores (amazon-science/cceval scripts/eval_metric.py): exact match of the first line
(comments removed, lines stripped), edit similarity, identifier exact match and F1.

--data: a comma-separated list of projects (a folder, a standard-library package such
as `email`, or an installed package such as `click`), or a TOML file with the keys of
RepoSettings (projects, problems_per_project, context_tokens, window_tokens, seed,
max_per_file, min_modules).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import random
import sysconfig
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ClassVar

from codecommons.metrics import edit_similarity, identifier_match, line_exact_match
from codecommons.eval.tasks.base import Problem, RepoContext, Task
from codecommons.repocontext import Chunk, RepoIndex, context_files, select_context
from codecommons.repocontext.fit import SEPARATOR_TOKENS
from codecommons.repocontext.lexical import similarity
from codecommons.repocontext.modules import ModuleRef
from codecommons.repocontext.pydefs import Definition, bound_names
from codecommons.repocontext.select import CURSOR_SIM, around_cursor
from codecommons.repocontext.syntax import parse

_CITATION = """@inproceedings{ding2023crosscodeeval,
  title={CrossCodeEval: A Diverse and Multilingual Benchmark for Cross-File Code Completion},
  author={Yangruibo Ding and Zijian Wang and Wasi Uddin Ahmad and Hantian Ding and Ming Tan
          and Nihal Jain and Murali Krishna Ramanathan and Ramesh Nallapati and Parminder Bhatia
          and Dan Roth and Bing Xiang},
  booktitle={Advances in Neural Information Processing Systems, Datasets and Benchmarks Track},
  year={2023}, eprint={2310.11248}, archivePrefix={arXiv}}"""

# Standard-library packages and installed distributions with >= 15 modules, and this
# repository itself (code no model was trained on).
DEFAULT_PROJECTS = ("email", "asyncio", "importlib", "xml", "click", "jinja2", "codecommons")
RING_CHUNK_LINES = 32  # llama.vim ring_chunk_size 64; a picked chunk is half of it
RING_RANDOM_FILES = 2
RING_MIN_LINES = 3  # llama.vim ignores shorter chunks
MAX_LINE_CHARS = 300  # a longer target line is data, not code to complete
_BINDING_PARENTS = {"function_definition", "class_definition", "keyword_argument", "parameters",
                    "default_parameter", "typed_parameter", "typed_default_parameter",
                    "lambda_parameters"}
_PATTERNS = {"pattern_list", "tuple_pattern", "list_pattern", "list_splat_pattern", "as_pattern_target"}
_TARGET_FIELDS = {"assignment": "left", "augmented_assignment": "left", "for_statement": "left",
                  "for_in_clause": "left", "named_expression": "name", "as_pattern": "alias"}
_SKIP = {"import_statement", "import_from_statement", "future_import_statement", "comment", "string"}
_BUILT: dict[str, tuple[dict, dict]] = {}  # settings -> (indexes by project, {"problems": [...]})


@dataclass
class RepoSettings:
    projects: list[str] = dataclasses.field(default_factory=lambda: list(DEFAULT_PROJECTS))
    problems_per_project: int = 40
    context_tokens: int = 1024
    window_tokens: int = 1024
    seed: int = 0
    max_per_file: int = 3
    min_modules: int = 15

    def __post_init__(self) -> None:
        problems = []
        if not self.projects:
            problems.append("name at least one project")
        if self.problems_per_project < 1 or self.max_per_file < 1:
            problems.append("problems_per_project and max_per_file must be >= 1")
        if self.context_tokens < 0 or self.window_tokens < 0:
            problems.append("context_tokens and window_tokens must be >= 0")
        if problems:
            raise ValueError("repo-completion --data: " + "; ".join(problems))

    @classmethod
    def parse(cls, data: str | Path | None) -> RepoSettings:
        if not data:
            return cls()
        data = str(data)
        if data.endswith(".toml"):
            path = Path(data)
            if not path.is_file():
                raise FileNotFoundError(f"--data {data}: no such settings file")
            values = tomllib.loads(path.read_text())
            known = {f.name for f in dataclasses.fields(cls)}
            if set(values) - known:
                raise ValueError(f"--data {data}: unknown keys {sorted(set(values) - known)}; "
                                 f"valid: {sorted(known)}")
            return cls(**values)
        return cls(projects=[x.strip() for x in data.split(",") if x.strip()])


def project_root(spec: str) -> Path:
    """A folder, a standard-library package or an installed package's folder."""
    path = Path(spec).expanduser()
    if path.is_dir():
        return path.resolve()
    if "/" in spec or spec.startswith("."):
        raise FileNotFoundError(f"project folder {spec} does not exist")
    stdlib = Path(sysconfig.get_paths()["stdlib"]) / spec
    if (stdlib / "__init__.py").is_file():
        return stdlib
    found = importlib.util.find_spec(spec) if spec.isidentifier() else None
    if found is not None and found.submodule_search_locations:
        return Path(list(found.submodule_search_locations)[0])
    raise ValueError(f"project {spec!r} is not a folder, a standard-library package or an "
                     f"installed package")


@dataclass(frozen=True)
class Site:
    path: str
    row: int  # 0-based
    column: int  # characters
    used: str  # the name as the file writes it (an alias, or an attribute of a module)
    target: Definition


def cross_file_uses(index: RepoIndex, path: str, text: str) -> list[Site]:
    """The first use in `path` of each definition of another project file, in order."""
    entry = index.entries[path]
    bindings = {i.alias: i for i in entry.imports if i.name != "*"}
    cache: dict[str, object] = {}

    def bound(alias: str):
        if alias not in cache:
            cache[alias] = index.resolve_import(path, bindings[alias]) if alias in bindings else None
        return cache[alias]

    lines = text.split("\n")
    seen, out = set(), []
    local_names: dict[int, set[str]] = {}  # function node -> names bound in it

    def local(node, name: str) -> bool:
        """Python's rule: a name bound anywhere in a function is local in all of it."""
        scope = node.parent
        while scope is not None:
            if scope.type in ("function_definition", "lambda"):
                if scope.id not in local_names:
                    local_names[scope.id] = bound_names(scope) - {_name(scope)}
                if name in local_names[scope.id]:
                    return True
            scope = scope.parent
        return False

    for node in _walk(parse(text.encode("utf-8"), "python").root_node):
        name = node.text.decode("utf-8", "replace")
        parent = node.parent
        if parent is not None and parent.type == "attribute" \
                and parent.child_by_field_name("attribute") == node:
            obj = parent.child_by_field_name("object")
            head = obj
            while head is not None and head.type == "attribute":
                head = head.child_by_field_name("object")
            if head is None or local(node, head.text.decode("utf-8", "replace")):
                continue
            target = index.member(_module_of(obj, bound, index), name)
        elif (parent is not None and parent.type in _BINDING_PARENTS) or _is_target(node) \
                or local(node, name):
            continue
        else:
            target = bound(name) if name in bindings and bindings[name].name is not None else None
        if not isinstance(target, Definition) or target.path == path:
            continue
        key = (target.path, target.qualname)
        row = node.start_point.row
        if key in seen or len(lines[row]) > MAX_LINE_CHARS:
            continue
        seen.add(key)
        column = len(lines[row].encode("utf-8")[:node.start_point.column].decode("utf-8", "replace"))
        out.append(Site(path, row, column, name, target))
    return out


def _name(scope) -> str:
    name = scope.child_by_field_name("name")
    return name.text.decode("utf-8", "replace") if name is not None else ""


def _is_target(node) -> bool:
    """Whether an identifier is bound here (`x = ...`, `for x in`, `with ... as x`,
    `(x := ...)`) rather than used."""
    child, parent = node, node.parent
    while parent is not None and parent.type in _PATTERNS:
        child, parent = parent, parent.parent
    if parent is None:
        return False
    field = _TARGET_FIELDS.get(parent.type)
    return field is not None and parent.child_by_field_name(field) == child


def _walk(root):
    """Identifier nodes in document order, outside imports, comments and strings."""
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type in _SKIP:
            continue
        if node.type == "identifier":
            yield node
        stack += reversed(node.named_children)


def _module_of(obj, bound: Callable, index: RepoIndex) -> ModuleRef | None:
    """The project module an attribute's object names (`m`, `pkg.sub`), if any."""
    if obj is None:
        return None
    if obj.type == "identifier":
        target = bound(obj.text.decode("utf-8", "replace"))
        return target if isinstance(target, ModuleRef) else None
    if obj.type == "attribute":
        base = _module_of(obj.child_by_field_name("object"), bound, index)
        attr = obj.child_by_field_name("attribute")
        target = index.member(base, attr.text.decode("utf-8", "replace")) if attr is not None else None
        return target if isinstance(target, ModuleRef) else None
    return None


def ring_buffer_chunks(index: RepoIndex, path: str, prefix: str, suffix: str, budget: int,
                       count_tokens: Callable[[str], int], rng: random.Random) -> list[Chunk]:
    """llama.vscode-style extra context (see the module docstring), best last."""
    entry = index.entries.get(path)
    imported: list[str] = []
    for imp in entry.imports if entry else []:
        target = index.resolve_import(path, imp) if imp.name not in (None, "*") else None
        file = target.path if isinstance(target, ModuleRef) else index.import_target(path, imp)
        if file and file != path and file not in imported:
            imported.append(file)
    others = [p for p in sorted(index.entries) if p != path and p not in imported]
    files = imported + rng.sample(others, min(RING_RANDOM_FILES, len(others)))
    around = around_cursor(prefix, suffix)
    scored = []
    for f in files:
        lines = (index.root / f).read_text(encoding="utf-8").split("\n")
        for s in range(0, len(lines), RING_CHUNK_LINES):
            window = lines[s:s + RING_CHUNK_LINES]
            if sum(1 for ln in window if ln.strip()) < RING_MIN_LINES:
                continue
            text = "\n".join(window).rstrip("\n")
            sim = similarity(text, around)
            if sim <= CURSOR_SIM:
                scored.append((-sim, len(scored), Chunk(f, s + 1, s + len(window), text, "client")))
    chosen, spent = [], 0
    for _, _, c in sorted(scored):
        n = count_tokens(f"{c.path}\n{c.text}\n") + SEPARATOR_TOKENS
        if spent + n <= budget:
            chosen.append(c)
            spent += n
    return chosen[::-1]


class RepoCompletion(Task):
    citation = _CITATION
    metric = "exact_match"
    modes = ("fim",)
    stop = ("\n",)  # the rest of one line is asked for and scored
    upstream = ("CrossCodeEval's construction (amazon-science/cceval), applied to projects "
                "on this machine: standard-library packages, installed distributions, this repository")
    condition: ClassVar[str] = "retrieval"

    def __init__(self, data_path: str | Path | None = None) -> None:
        super().__init__(None)
        self.config = RepoSettings.parse(data_path)
        self.window_tokens = self.config.window_tokens
        # Problems and indexes are shared by every condition (and by generate and execute)
        # in one process: the same settings give the same problems.
        key = repr(dataclasses.astuple(self.config))
        self._indexes, self._built = _BUILT.setdefault(key, ({}, {}))

    def settings(self) -> dict:
        return {"condition": self.condition, **dataclasses.asdict(self.config)}

    def index(self, project: str, root: str | Path) -> RepoIndex:
        if project not in self._indexes:
            self._indexes[project] = RepoIndex(root)
        return self._indexes[project]

    def problems(self) -> list[Problem]:
        if "problems" not in self._built:
            self._built["problems"] = [p for spec in self.config.projects
                                       for p in self._project_problems(spec)]
        return self._built["problems"]

    def _project_problems(self, spec: str) -> list[Problem]:
        root = project_root(spec)
        project = root.name
        index = self.index(project, root)
        modules = [p for p, e in index.entries.items() if e.language == "python"]
        if len(modules) < self.config.min_modules:
            raise ValueError(f"project {spec} ({root}) has {len(modules)} Python modules; a "
                             f"repository benchmark needs >= {self.config.min_modules} "
                             f"(min_modules in the --data TOML)")
        texts = {p: (index.root / p).read_text(encoding="utf-8") for p in sorted(modules)}
        by_file = {p: cross_file_uses(index, p, texts[p]) for p in sorted(modules)}
        sites = self._sample(project, {p: s for p, s in by_file.items() if s})
        return [self._problem(project, root, texts[s.path], s) for s in sites]

    def _sample(self, project: str, by_file: dict[str, list[Site]]) -> list[Site]:
        """Round-robin over the files in a seeded order, a seeded site of each in turn,
        at most max_per_file per file: no one large file dominates a project."""
        rng = random.Random(f"{self.config.seed}/{project}")
        files = sorted(by_file)
        rng.shuffle(files)
        pools = {f: rng.sample(by_file[f], len(by_file[f])) for f in files}
        chosen: list[Site] = []
        for turn in range(self.config.max_per_file):
            for f in files:
                if len(chosen) < self.config.problems_per_project and turn < len(pools[f]):
                    chosen.append(pools[f][turn])
        return sorted(chosen, key=lambda s: (s.path, s.row, s.column))

    def _problem(self, project: str, root: Path, text: str, s: Site) -> Problem:
        lines = text.split("\n")
        offset = sum(len(ln) + 1 for ln in lines[:s.row]) + s.column
        end = text.find("\n", offset)
        end = len(text) if end < 0 else end
        task_id = f"repo-completion/{project}/{s.path}:{s.row + 1}:{s.column}"
        return Problem(task_id, text[:offset], suffix=text[end:], reference=text[offset:end].rstrip(),
                       meta={"problem": task_id, "project": project, "root": str(root), "path": s.path,
                             "line": s.row + 1, "column": s.column, "used": s.used,
                             "name": s.target.qualname,
                             "definition": f"{s.target.path}:{s.target.start_line}-{s.target.end_line}"})

    # -- context per condition ---------------------------------------------------------
    def repo_context(self, p: Problem, count_tokens) -> RepoContext:
        project, path = p.meta["project"], p.meta["path"]
        index = self.index(project, p.meta["root"])
        budget = self.config.context_tokens
        if self.condition == "in-file":
            chunks: list[Chunk] = []
        elif self.condition == "ring-buffer":
            rng = random.Random(f"{self.config.seed}/{p.task_id}")
            chunks = ring_buffer_chunks(index, path, p.prompt, p.suffix, budget, count_tokens, rng)
        else:
            mode = {"retrieval": "both", "definitions": "definitions", "bm25": "retrieval"}[self.condition]
            chunks = select_context(index, path, p.prompt, p.suffix, budget, count_tokens, mode=mode)
        return RepoContext(context_files(chunks), project, path,
                           [{"kind": c.kind, "path": c.path, "start_line": c.start_line,
                             "end_line": c.end_line} for c in chunks])

    # -- scoring -------------------------------------------------------------------------
    def postprocess(self, p: Problem, text: str, mode: str) -> str:
        return text.split("\n", 1)[0]

    def is_exact_match(self, p: Problem, completion: str) -> bool:
        return line_exact_match(completion, p.reference)

    def scores(self, p: Problem, completion: str) -> dict[str, float]:
        id_em, id_f1 = identifier_match(completion, p.reference)
        return {"edit_similarity": edit_similarity(completion, p.reference),
                "identifier_em": float(id_em), "identifier_f1": id_f1}

    def group(self, task_id: str) -> str | None:
        return task_id.split("/")[1]


def variant(condition: str) -> type[RepoCompletion]:
    return type(f"RepoCompletion_{condition.replace('-', '_')}", (RepoCompletion,),
                {"name": f"repo-completion-{condition}", "condition": condition})


InFile, RingBuffer, Retrieval = variant("in-file"), variant("ring-buffer"), variant("retrieval")
Definitions, Bm25 = variant("definitions"), variant("bm25")
