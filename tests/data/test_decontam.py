"""Decontamination keeps what is generic and drops what is copied: real files
python-env's earlier index dropped on n-grams every code base has, against every
benchmark problem written into a file; `--decontaminate none|all` and the
benchmarks recorded in the run's manifest.

    python -m pytest tests/data/test_decontam.py -q
"""

from __future__ import annotations

import json
import sysconfig
from pathlib import Path

import pytest
from datatrove.data import Document

from codecommons.benchmarks import available, decontamination_records
from codecommons.data import decontam
from codecommons.data.pipeline import CurateConfig, run
from tests.data.test_pipeline import HUMANEVAL_0, MIT, excluded

STDLIB = Path(sysconfig.get_paths()["stdlib"])

# n-grams that dropped python-env files before the content rule (bench/decontam.py)
GENERIC = {
    "digits": "DIGITS = '0 1 2 3 4 5 6 7 8 9 A B C D E F'.split()\n",
    "primes": "SMALL_PRIMES = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43]\n",
    "number words": "NUMS = {'one': 1, 'two': 2, 'three': 3, 'four': 4, 'five': 5, 'six': 6, 'seven': 7}\n",
    "min/max": "def pick(a, b):\n    if a > b:\n        return a\n    elif a < b:\n        return b\n"
               "    else:\n        return None\n",
    "double loop": "for i in range(n + 1):\n    for j in range(n + 1):\n        grid[i][j] = 0\n",
    "month lengths": "int days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};\n",
}
# real standard-library files that were dropped on such n-grams
STDLIB_FILES = ["idlelib/idle_test/test_codecontext.py", "test/test_grammar.py",
                "test/test_generators.py", "lib2to3/tests/data/py3_test_grammar.py"]


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    """The pipeline's filter block on a freshly built index (it loads the hashes once)."""
    return decontam.decontaminate(decontam.build_index(tmp_path_factory.mktemp("decontam") / "index"))


def contaminated(block, text: str) -> str | None:
    doc = Document(text=text, id="x", metadata={})
    return None if block.filter(doc) is True else doc.metadata["contaminated_task"]


@pytest.mark.parametrize("name", GENERIC)
def test_generic_ngrams_are_not_contamination(index, name):
    assert contaminated(index, GENERIC[name]) is None


@pytest.mark.parametrize("rel", STDLIB_FILES)
def test_stdlib_files_are_not_contaminated(index, rel):
    path = STDLIB / rel
    if not path.exists():
        pytest.skip(f"{rel} is not in this Python's standard library")
    assert contaminated(index, path.read_text(encoding="utf-8", errors="replace")) is None


def test_every_benchmark_problem_in_a_file_is_caught(index):
    """Every problem of every benchmark, its prompt and solution in one file (a
    training file that copied it), is dropped, and attributed to a benchmark."""
    missed = [(b, p[:60]) for b, p, s in decontamination_records()
              if contaminated(index, f"# copied\n{p}{s}\n") is None]
    assert missed == []
    assert contaminated(index, HUMANEVAL_0) in ("humaneval", "santacoder-fim-py")


def test_index_skips_generic_ngrams():
    assert not decontam.informative("0 1 2 3 4 5 6 7 8 9 A B".split())
    assert not decontam.informative("if a b return a elif a b return b else return".split())
    assert not decontam.informative("one 1 two 2 three 3 four 4 five 5 six 6".split())
    assert decontam.informative("for idx elem in enumerate numbers for idx2 elem2 in enumerate".split())


def test_decontaminate_option_and_manifest(tmp_path):
    repo = tmp_path / "leaky-proj"
    repo.mkdir()
    (repo / "LICENSE").write_text(MIT)
    (repo / "leak.py").write_text(HUMANEVAL_0)
    on = tmp_path / "on"
    run([str(repo)], CurateConfig(out=str(on), progress=False))
    assert excluded(on)[("leaky-proj", "leak.py")].startswith("contaminated:")
    recorded = json.loads((on / "curate.json").read_text())["decontamination"]
    assert recorded["benchmarks"] == available() and "humaneval" in recorded["benchmarks"]
    assert recorded["n_grams"] == decontam.N_GRAMS
    assert "min_content_tokens" in (on / "README.md").read_text()  # the card shows the settings
    off = tmp_path / "off"
    run([str(repo)], CurateConfig(out=str(off), progress=False, decontaminate="none"))
    assert ("leaky-proj", "leak.py") not in excluded(off)
    assert json.loads((off / "curate.json").read_text())["decontamination"] == {"benchmarks": []}
    assert not (off / "work" / "decontam-index").exists()
    with pytest.raises(ValueError, match="--decontaminate must be one of all, none"):
        CurateConfig(out=str(tmp_path / "x"), decontaminate="humaneval")
