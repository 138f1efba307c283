"""SantaCoder single-line infilling: "SantaCoder: don't reach for the stars!"
(Allal et al., 2023). Each line of each HumanEval solution (in Python, JavaScript
and Java, from MultiPL-E) is removed in turn; the model infills it from the rest of
the function; the score is exact match of the first generated line.

Data: nuprl/MultiPL-E prompts/fim-humaneval-{py,js,java}.json (BSD-3-Clause with a
machine-learning restriction: evaluation only), shipped in codecommons/benchmarks/data/multipl-e.
"""

from __future__ import annotations

from codecommons import benchmarks
from codecommons.metrics import exact_match
from codecommons.eval.tasks.base import Problem, Task

_CITATION = """@article{allal2023santacoder,
  title={SantaCoder: don't reach for the stars!},
  author={Loubna Ben Allal and Raymond Li and Denis Kocetkov and others},
  year={2023}, eprint={2301.03988}, archivePrefix={arXiv}}"""


class SantaCoderFim(Task):
    citation = _CITATION
    metric = "exact_match"
    modes = ("fim",)
    tools = ()
    stop = ("\n",)  # one line is asked for and scored: stop there instead of at EOS
    upstream = "nuprl/MultiPL-E prompts/fim-humaneval-*.json"

    def problems(self) -> list[Problem]:
        rows = benchmarks.santacoder_fim(self.language, self.data_path)
        out = []
        for i, r in enumerate(rows):
            body = r["body"]
            for j, line in enumerate(body):
                if not line.strip():
                    continue
                prefix = r["prompt"] + "".join(b + "\n" for b in body[:j])
                suffix = "\n" + "\n".join(body[j + 1:])
                out.append(Problem(f"{self.name}/{i}/L{j}", prefix, suffix=suffix,
                                   reference=line, meta={"problem": i}))
        return out

    def postprocess(self, p: Problem, text: str, mode: str) -> str:
        return text.split("\n", 1)[0]  # single-line task: the first line counts

    def is_exact_match(self, p: Problem, completion: str) -> bool:
        return exact_match(completion, p.reference)


def variant(language: str) -> type[SantaCoderFim]:
    return type(f"SantaCoderFim_{language}", (SantaCoderFim,),
                {"name": f"santacoder-fim-{language}", "language": language})


Py, Js, Java = variant("py"), variant("js"), variant("java")
