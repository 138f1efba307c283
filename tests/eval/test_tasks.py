"""Every registered task loads its data, builds prompts and programs; references
check out without a model (exact match here; executed in test_reference_solutions.py).

    python -m pytest tests/eval/test_tasks.py -q
"""

from __future__ import annotations

import pytest

from codecommons.eval.tasks import TASKS, get_task
from codecommons.eval.tasks.base import extract_code, truncate_at_stop

EXPECTED = {"humaneval": 164, "mbpp": 257, "multipl-e-js": 161, "multipl-e-java": 158,
            "multipl-e-cpp": 161, "multipl-e-rs": 156, "multipl-e-sh": 160,
            "humaneval-infill-random-span-light": 164, "humaneval-infill-single-line": 1033,
            "humaneval-infill-multi-line": 5815}


@pytest.mark.parametrize("name", list(TASKS))
def test_task_loads_with_citation(name):
    task = get_task(name)
    problems = task.problems()
    assert problems and len({p.task_id for p in problems}) == len(problems)
    assert "@" in task.citation and task.upstream
    if name in EXPECTED:
        assert len(problems) == EXPECTED[name]


def test_unknown_task_lists_valid_names():
    with pytest.raises(KeyError) as e:
        get_task("humaneval-plus-ultra")
    assert "humaneval" in str(e.value) and "mbpp" in str(e.value)


def test_missing_data_names_the_flag(tmp_path):
    with pytest.raises(FileNotFoundError, match="--data"):
        get_task("mbpp", str(tmp_path / "nope.json")).problems()


@pytest.mark.parametrize("name", ["santacoder-fim-py", "santacoder-fim-js", "santacoder-fim-java"])
def test_santacoder_references_are_exact_matches(name):
    task = get_task(name)
    for p in task.problems()[:50]:
        assert task.is_exact_match(p, task.postprocess(p, p.reference + "\nmore", "fim"))
        assert p.prompt.endswith("\n") and p.reference.strip()


def test_instruct_answers_are_extracted():
    answer = "Sure:\n```python\ndef f(x):\n    return x\n```\nThat's it."
    assert extract_code(answer) == "def f(x):\n    return x\n"
    assert truncate_at_stop("    return 1\ndef g():", ("\ndef",)) == "    return 1"


def test_instruct_program_replaces_prompt_when_function_is_redefined():
    task = get_task("humaneval")
    p = task.problems()[0]
    prog = task.program(p, "def has_close_elements(numbers, threshold):\n    return False\n",
                        "instruct")
    assert prog.python_source.count("def has_close_elements") == 1
    assert "from typing import List" in prog.python_source


def test_multipl_e_instruct_answer_with_spaced_signature_replaces_prompt():
    task = get_task("multipl-e-js")
    p = next(q for q in task.problems() if q.task_id == "HumanEval_103_rounded_avg")
    answer = "function rounded_avg(n, m) {\n    return -1;\n}\n"  # prompt has `(n, m){`
    src = task.program(p, answer, "instruct").files["main.js"]
    assert src.startswith("function rounded_avg(n, m) {") and src.count("function rounded_avg") == 1
