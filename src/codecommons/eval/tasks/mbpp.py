"""MBPP: "Program Synthesis with Large Language Models" (Austin et al., 2021).

Crowd-sourced Python problems, each a one-sentence description checked by three
asserts. We use the sanitized subset (427 problems, hand-verified descriptions) and,
as the paper evaluates, its test split: task_ids 11-510 (257 problems); the paper's
prompt shows the description and the tests the code must pass.

Data: google-research/google-research mbpp/sanitized-mbpp.json (CC BY 4.0), shipped in
codecommons/benchmarks/data/mbpp.
"""

from __future__ import annotations

import re

from codecommons import benchmarks
from codecommons.eval.tasks.base import Problem, Program, Task, extract_code, truncate_at_stop

_CITATION = """@article{austin2021program,
  title={Program Synthesis with Large Language Models},
  author={Jacob Austin and Augustus Odena and Maxwell Nye and Maarten Bosma and others},
  year={2021}, eprint={2108.07732}, archivePrefix={arXiv}}"""

STOP = ("\nclass", "\nassert", '\n"""', "\nprint", "\nif", "\n```", "\n# Test")


class MBPP(Task):
    name = "mbpp"
    citation = _CITATION
    stop = STOP
    upstream = "google-research/google-research mbpp/sanitized-mbpp.json; hub: mbpp (sanitized)"

    def problems(self) -> list[Problem]:
        return [Problem(str(r["task_id"]), self._prompt(r), reference=r["code"],
                        tests="\n".join(r["test_imports"] + r["test_list"]),
                        meta={"description": r["prompt"], "test_list": r["test_list"]})
                for r in benchmarks.mbpp(self.data_path)]

    @staticmethod
    def _prompt(r: dict) -> str:
        # Base-model prompt in the style of the bigcode harness: description and one
        # test in a docstring, then the model writes the code.
        return f'"""\n{r["prompt"]}\n{r["test_list"][0]}\n"""\n'

    def instruction(self, p: Problem) -> str:
        tests = "\n".join(p.meta["test_list"])
        # The MBPP paper's prompt, as instruct models' authors use it; an added "answer
        # in a markdown block" made the 0.5B model open its answer with ```markdown.
        return (f"You are an expert Python programmer, and here is your task: "
                f"{p.meta['description']} Your code should pass these tests:\n\n{tests}\n")

    def postprocess(self, p: Problem, text: str, mode: str) -> str:
        return extract_code(text) if mode == "instruct" else truncate_at_stop(text, self.stop)

    def defines(self, p: Problem, code: str) -> bool:
        """`code` defines the functions of the reference solution that the tests call."""
        names = [n for n in re.findall(r"^def\s+(\w+)", p.reference, re.M) if n in p.tests]
        return bool(names) and all(re.search(rf"^\s*def\s+{n}\s*\(", code, re.M)
                                   for n in names)

    def program(self, p: Problem, completion: str, mode: str) -> Program:
        code = completion if mode == "instruct" else p.prompt + completion
        src = f"{code}\n\n{p.tests}\n"
        return Program({"main.py": src}, ["python3", "main.py"], python_source=src)
