"""Golden scores: `commons eval execute` + `score` over stored generations (in
tests/eval/golden/, see its README) give exactly the pass@k worked out by hand,
and the same verdict per problem. A scorer that failed (or passed) everything, or
miscounted a problem's samples, fails this test.

    python -m pytest tests/eval/test_golden.py -q      (~15 s)
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codecommons.eval.cli import main
from codecommons.eval.tasks import TASKS
from tests.eval import needs

GOLDEN = Path(__file__).parent / "golden"

# task -> (stored file, {task_id: (samples, passing)}, pass@k). With n samples and c
# passing, pass@1 is the mean of c/n, and pass@10 (n = 10) the share of problems
# with c > 0 (Chen et al. 2021's unbiased estimator at k = n).
CASES = {
    "humaneval": ("humaneval.jsonl",
                  {"HumanEval/0": (10, 4), "HumanEval/2": (10, 10), "HumanEval/4": (10, 0),
                   "HumanEval/7": (10, 7)},
                  {"pass@1": (0.4 + 1.0 + 0.0 + 0.7) / 4, "pass@10": 3 / 4}),
    "mbpp": ("mbpp.jsonl", {"11": (2, 1), "12": (2, 2), "14": (2, 0)},
             {"pass@1": (0.5 + 1.0 + 0.0) / 3}),
    "multipl-e-js": ("multipl-e-js.json", {"HumanEval_0_has_close_elements": (4, 2)},
                     {"pass@1": 2 / 4}),
}


@pytest.mark.parametrize("task", [pytest.param(t, marks=needs.task_marks(TASKS[t])) for t in CASES])
def test_golden_scores(task, tmp_path):
    stored, per_problem, golden = CASES[task]
    results = tmp_path / "results.jsonl"
    assert main(["execute", str(GOLDEN / stored), "--task", task, "--out", str(results),
                 "--allow-code-execution", "--timeout", "3", "--workers", "2"]) == 0
    assert main(["score", str(results), "--task", task, "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["metrics"] == pytest.approx(golden), report["metrics"]
    got = {row["task_id"]: (row["n"], row["passed"]) for row in report["per_problem"]}
    assert got == per_problem
    statuses = report["statuses"]
    assert statuses.get("error", 0) == 0, statuses  # every program ran
    if task == "humaneval":
        assert statuses["timeout"] == 1  # the infinite loop, killed at --timeout
