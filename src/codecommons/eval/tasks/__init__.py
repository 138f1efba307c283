"""The task registry: an explicit table, one benchmark per module."""

from __future__ import annotations

from codecommons.eval.tasks import (humaneval, humaneval_infill, mbpp, multipl_e, repo_completion,
                                   santacoder_fim)
from codecommons.eval.tasks.base import Problem, Program, RepoContext, Task

TASKS: dict[str, type[Task]] = {t.name: t for t in (
    humaneval.HumanEval,
    humaneval_infill.SingleLine, humaneval_infill.MultiLine, humaneval_infill.RandomSpanLight,
    santacoder_fim.Py, santacoder_fim.Js, santacoder_fim.Java,
    multipl_e.Js, multipl_e.Java, multipl_e.Cpp, multipl_e.Rs, multipl_e.Sh,
    mbpp.MBPP,
    repo_completion.InFile, repo_completion.RingBuffer, repo_completion.Retrieval,
    repo_completion.Definitions, repo_completion.Bm25,
)}


def get_task(name: str, data_path: str | None = None) -> Task:
    if name not in TASKS:
        raise KeyError(f"unknown task {name!r}; choose one of: {', '.join(TASKS)}")
    return TASKS[name](data_path)


__all__ = ["TASKS", "Problem", "Program", "RepoContext", "Task", "get_task"]
