"""HumanEval infilling: "Efficient Training of Language Models to Fill in the
Middle" (Bavarian et al., 2022). HumanEval with a span of the canonical solution
removed (one line, several lines, or a random span); the model fills it from the
prefix and suffix, and the tests run on the reassembled function.

Data: openai/human-eval-infilling (MIT), shipped in codecommons/benchmarks/data/humaneval-infilling.
"""

from __future__ import annotations

from codecommons import benchmarks
from codecommons.eval.tasks.base import Problem, Program, Task, python_program

_CITATION = """@article{bavarian2022efficient,
  title={Efficient Training of Language Models to Fill in the Middle},
  author={Mohammad Bavarian and Heewoo Jun and Nikolas Tezak and John Schulman and others},
  year={2022}, eprint={2207.14255}, archivePrefix={arXiv}}"""


class HumanEvalInfill(Task):
    citation = _CITATION
    modes = ("fim",)
    upstream = "openai/human-eval-infilling (data/*.jsonl.gz)"
    file = ""

    def problems(self) -> list[Problem]:
        rows = benchmarks.humaneval_infill(self.file, self.data_path)
        return [Problem(r["task_id"], r["prompt"], suffix=r["suffix"],
                        reference=r["canonical_solution"], tests=r["test"],
                        entry_point=r["entry_point"]) for r in rows]

    def postprocess(self, p: Problem, text: str, mode: str) -> str:
        return text  # the FIM end token already ended the middle

    def program(self, p: Problem, completion: str, mode: str) -> Program:
        src = python_program(p, completion, "fim")
        return Program({"main.py": src}, ["python3", "main.py"], python_source=src)


def variant(task_name: str, file_name: str) -> type[HumanEvalInfill]:
    return type(f"HumanEvalInfill_{file_name}", (HumanEvalInfill,),
                {"name": task_name, "file": file_name})


SingleLine = variant("humaneval-infill-single-line", "HumanEval-SingleLineInfilling.jsonl.gz")
MultiLine = variant("humaneval-infill-multi-line", "HumanEval-MultiLineInfilling.jsonl.gz")
RandomSpanLight = variant("humaneval-infill-random-span-light",
                          "HumanEval-RandomSpanInfillingLight.jsonl.gz")
