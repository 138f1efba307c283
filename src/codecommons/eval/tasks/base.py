"""The Task contract: one benchmark per file, registered in tasks/__init__.py.

A task turns its data into `Problem`s, builds prompts for the two prompting modes,
cleans a model's output into a completion, and says how to check it: a program to
run in the sandbox (`program`) or an exact match (`metric = "exact_match"`).

Prompting modes, recorded in every report:
  * "base": the model continues the raw prompt; generation stops at the task's stop
    sequences (how base models such as StarCoder are evaluated);
  * "instruct": the prompt is wrapped in the model's chat template and the first
    code block of the answer is extracted (how instruct models' authors evaluate);
  * "fim": infilling tasks give prefix and suffix to the model's FIM format.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

CODE_BLOCK = re.compile(r"```[\w+#.-]*[ \t]*\n(.*?)(?:```|\Z)", re.S)


@dataclass
class Problem:
    task_id: str
    prompt: str  # code the model continues (base) or is shown (instruct)
    suffix: str = ""  # code after the hole (fim)
    reference: str = ""  # canonical solution / expected middle
    tests: str = ""
    entry_point: str = ""
    meta: dict = field(default_factory=dict)


@dataclass
class RepoContext:
    """Code from the rest of a problem's repository for its FIM prompt: `files` go
    before it in the model's repository format (engines/infill.py), the document is
    headed by `path` in `repo_name`; `chunks` (path, lines, kind) is recorded with the
    sample, as a server's response reports the context it used."""

    files: list = field(default_factory=list)  # tokenizer.fim.ContextFile
    repo_name: str = ""
    path: str = ""
    chunks: list[dict] = field(default_factory=list)


@dataclass
class Program:
    """What the sandbox runs: files written into its scratch folder and a command."""

    files: dict[str, str]
    cmd: list[str]
    python_source: str | None = None  # Python programs run through sandbox.run_python


class Task(ABC):
    name: ClassVar[str]
    citation: ClassVar[str]
    language: ClassVar[str] = "python"
    metric: ClassVar[str] = "pass@k"  # or "exact_match"
    modes: ClassVar[tuple[str, ...]] = ("base", "instruct")
    stop: ClassVar[tuple[str, ...]] = ()
    # Executables the checks need besides Python (the harness's own interpreter runs
    # Python programs); looked up on PATH before anything runs (sandbox.find_tools).
    tools: ClassVar[tuple[str, ...]] = ()
    # SandboxLimits fields this task's programs need changed (e.g. the JVM's).
    limits: ClassVar[dict[str, Any]] = {}
    # Host files the checks read (a library jar): path -> how to install it. Checked
    # before anything runs, and bound read-only into the sandbox.
    host_files: ClassVar[dict[str, str]] = {}
    upstream: ClassVar[str] = ""  # the dataset's real-world source, for the docs
    # FIM tasks: the prefix + suffix window in tokens (0: as much as the context holds),
    # as an editor sends a window around the cursor (InfillBuilder's context_tokens).
    window_tokens: ClassVar[int] = 0

    def __init__(self, data_path: str | Path | None = None) -> None:
        # None: the default copy (codecommons.benchmarks); else a local file.
        self.data_path = Path(data_path) if data_path else None

    @abstractmethod
    def problems(self) -> list[Problem]:
        """All problems, in a fixed order."""

    # -- prompting ------------------------------------------------------------
    def instruction(self, p: Problem) -> str:
        return (f"Complete the following {self.language_name()} code. Answer with the whole "
                f"function in one markdown code block.\n```{self.fence()}\n{p.prompt}\n```")

    def language_name(self) -> str:
        return {"python": "Python", "js": "JavaScript", "java": "Java", "cpp": "C++",
                "rs": "Rust", "sh": "Bash"}[self.language]

    def fence(self) -> str:
        return {"js": "javascript", "rs": "rust", "sh": "bash"}.get(self.language, self.language)

    # -- cleaning -------------------------------------------------------------
    def postprocess(self, p: Problem, text: str, mode: str) -> str:
        if mode == "instruct":
            return extract_code(text)
        return truncate_at_stop(text, self.stop)

    # -- checking -------------------------------------------------------------
    def program(self, p: Problem, completion: str, mode: str) -> Program:
        raise NotImplementedError(f"{self.name} is scored by {self.metric}")

    def defines(self, p: Problem, code: str) -> bool:
        """Whether `code` is a whole solution of `p` (it defines what the tests call),
        rather than a continuation of the prompt. Instruct answers that are run as
        they are, and other harnesses' whole-program samples, are told apart by it."""
        return defines_function(p, code)

    def is_exact_match(self, p: Problem, completion: str) -> bool:
        raise NotImplementedError(f"{self.name} is scored by {self.metric}")

    def scores(self, p: Problem, completion: str) -> dict[str, float]:
        """Further per-sample scores of an exact-match task (averaged in the report)."""
        return {}

    # -- repository tasks ---------------------------------------------------------
    def repo_context(self, p: Problem, count_tokens) -> RepoContext | None:
        """Context from other files for a FIM prompt (`count_tokens`: the model's
        token counter, for a budget); None: the prompt holds the document alone."""
        return None

    def group(self, task_id: str) -> str | None:
        """The part of the benchmark a problem belongs to (a project), reported apart."""
        return None

    def settings(self) -> dict:
        """What a run of this task was configured with, recorded in its report."""
        return {}


def truncate_at_stop(text: str, stops: tuple[str, ...]) -> str:
    cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=len(text))
    return text[:cut]


def closed_code_block(answer: str) -> bool:
    """Whether the answer already holds a complete fenced code block."""
    m = CODE_BLOCK.search(answer)
    return bool(m) and answer[m.end() - 3:m.end()] == "```"


def extract_code(answer: str) -> str:
    """The first fenced code block of a chat answer, else the whole answer."""
    m = CODE_BLOCK.search(answer)
    return m.group(1) if m else answer


def defines_function(p: Problem, code: str) -> bool:
    """`code` defines p's entry point (a top-level or nested `def NAME(`)."""
    return bool(p.entry_point) and re.search(
        rf"^\s*def\s+{re.escape(p.entry_point)}\s*\(", code, re.M) is not None


def python_program(p: Problem, body: str, mode: str) -> str:
    """HumanEval-style program: the function (prompt + completion, or the instruct
    answer when it defines the function itself), the tests, the check call."""
    if mode == "instruct" and defines_function(p, body):
        imports = "\n".join(ln for ln in p.prompt.splitlines()
                            if ln.startswith(("import ", "from ")))
        code = f"{imports}\n{body}"
    else:
        code = p.prompt + body + p.suffix
    return f"{code}\n\n{p.tests}\n\ncheck({p.entry_point})\n"
