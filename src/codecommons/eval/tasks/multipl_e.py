"""MultiPL-E: "MultiPL-E: A Scalable and Polyglot Approach to Benchmarking Neural
Code Generation" (Cassano et al., 2023). HumanEval translated to other languages
("reworded" prompts), run with each language's toolchain; a program passes when it
exits with status 0, as in MultiPL-E's own evaluator.

Data: nuprl/MultiPL-E prompts/humaneval-{lang}-reworded.jsonl (BSD-3-Clause with a
machine-learning restriction: evaluation only), shipped in codecommons/benchmarks/data/multipl-e.
"""

from __future__ import annotations

import re

from codecommons import benchmarks
from codecommons.eval.tasks.base import Problem, Program, Task

_CITATION = """@article{cassano2023multipl,
  title={MultiPL-E: A Scalable and Polyglot Approach to Benchmarking Neural Code Generation},
  author={Federico Cassano and John Gouwar and Daniel Nguyen and others},
  journal={IEEE Transactions on Software Engineering}, year={2023}}"""

# Every Java prompt imports org.javatuples (MultiPL-E's Java image has its jar on the
# class path): without it nothing compiles. Debian's libjavatuples-java puts it here.
JAVATUPLES = "/usr/share/java/javatuples.jar"
# language -> (file name, toolchain executables, shell command run in the sandbox).
# Java needs -ea or its `assert` statements are skipped (MultiPL-E runs `java -ea`).
# rustc links with the system C compiler driver, `cc`.
RUNNERS = {
    "js": ("main.js", ("node",), "node main.js"),
    "java": ("Problem.java", ("javac", "java"),
             f"javac -cp {JAVATUPLES} Problem.java && java -ea -cp {JAVATUPLES}:. Problem"),
    "cpp": ("main.cpp", ("g++",), "g++ -std=c++17 -O0 -o main main.cpp && ./main"),
    "rs": ("main.rs", ("rustc", "cc"),
           "rustc --edition 2021 -O -o main main.rs 2>/dev/null && ./main"),
    "sh": ("main.sh", ("bash",), "bash main.sh"),
}
# The JVM reserves far more address space than it uses and does not start under the
# default 1 GiB RLIMIT_AS (sandbox/limits.py); RLIMIT_DATA still caps its memory.
LIMITS = {"java": {"address_space_mb": 0}}
HOST_FILES = {"java": {JAVATUPLES: "apt-get install -y libjavatuples-java"}}


class MultiPLE(Task):
    citation = _CITATION
    upstream = "nuprl/MultiPL-E prompts/humaneval-*-reworded.jsonl; hub: nuprl/MultiPL-E"

    def problems(self) -> list[Problem]:
        rows = benchmarks.multipl_e(self.language, self.data_path)
        return [Problem(r["name"], r["prompt"], tests=r["tests"],
                        meta={"stop": r["stop_tokens"]}) for r in rows]

    def postprocess(self, p: Problem, text: str, mode: str) -> str:
        if mode == "instruct":
            return super().postprocess(p, text, mode)
        cut = min((i for i in (text.find(s) for s in p.meta["stop"]) if i >= 0), default=len(text))
        return text[:cut]

    def program(self, p: Problem, completion: str, mode: str) -> Program:
        file_name, _, command = RUNNERS[self.language]
        if mode == "instruct" and self.defines(p, completion):
            code = self.whole_function(p, completion)
        else:
            code = p.prompt + completion
        return Program({file_name: f"{code}\n{p.tests}"}, ["sh", "-c", command])

    def whole_function(self, p: Problem, answer: str) -> str:
        """An instruct answer that writes the whole function, made to fit MultiPL-E's
        tests: in C++, Java, Rust and Bash the tests begin with the function's closing
        brace (a base completion stops before it), so the answer's own is dropped (for a
        Java answer that wraps the method in a class, the class's too); the prompt's
        preamble (#include, imports, Java's `class Problem {`) is kept."""
        if not p.tests.lstrip().startswith("}"):
            return answer
        body = answer.rstrip()
        whole_class = self.language == "java" and re.search(r"^\s*(public\s+)?class\s+\w+", body, re.M)
        for _ in range(2 if whole_class else 1):
            if body.endswith("}"):
                body = body[:-1].rstrip()
        lines = p.prompt.split("\n")
        marker = benchmarks.COMMENT_MARKERS[self.language]
        start = next((i for i, ln in enumerate(lines) if ln.lstrip().startswith(marker)
                      and not ln.startswith("#!")), len(lines))
        preamble = [ln for ln in lines[:start] if not (whole_class and ln.lstrip().startswith("class "))]
        return "\n".join(preamble) + "\n" + body + "\n"

    def defines(self, p: Problem, code: str) -> bool:
        """An answer that repeats the signature replaces the prompt (compared
        without whitespace: `f(n, m){` and `f(n, m) {` are the same signature)."""
        squash = lambda s: re.sub(r"\s+", "", s)  # noqa: E731
        signature = squash(p.prompt.rstrip().splitlines()[-1])
        return signature[:40] in squash(code)


def variant(language: str) -> type[MultiPLE]:
    return type(f"MultiPLE_{language}", (MultiPLE,),
                {"name": f"multipl-e-{language}", "language": language,
                 "tools": RUNNERS[language][1], "limits": LIMITS.get(language, {}),
                 "host_files": HOST_FILES.get(language, {})})


Js, Java, Cpp, Rs, Sh = (variant(lang) for lang in ("js", "java", "cpp", "rs", "sh"))
