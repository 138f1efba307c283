"""End to end on real code: `commons curate` over part of python-env (click, h11 and
idna: their real code and the licences their metadata and licence files declare),
`commons index build` over that dataset, then planted copies of its functions.

    python -m pytest tests/attribution/test_python_env.py -q     # ~20 s
"""

from __future__ import annotations

import ast
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from codecommons.attribution.cli import index_main
from codecommons.codeindex.normalize import normalize_spans
from codecommons.codeindex.search import CodeIndex
from codecommons.data.pipeline import main as curate_main
from tests.attribution.planted import EDITS, UNRELATED

SOURCE = "python-env:pypi/click,pypi/h11,pypi/idna"


@pytest.fixture(scope="module")
def curated(tmp_path_factory):
    root = tmp_path_factory.mktemp("python-env")
    assert curate_main([SOURCE, "--out", str(root / "ds"), "--no-progress"]) == 0
    assert index_main(["build", str(root / "ds"), "--out", str(root / "index.sqlite"), "--quiet"]) == 0
    rows = [r for f in sorted((root / "ds" / "data").glob("*.parquet")) for r in pq.read_table(f).to_pylist()]
    return CodeIndex(root / "index.sqlite"), rows


def longest_function(rows: list[dict], repo: str) -> tuple[dict, str]:
    """The repo's longest top-level Python function (by normalised length)."""
    best = (0, None, None)
    for row in rows:
        if row["repo"] != repo or row["language"] != "Python":
            continue
        for node in ast.parse(row["content"]).body:
            if isinstance(node, ast.FunctionDef):
                src = ast.get_source_segment(row["content"], node)
                size = sum(map(len, normalize_spans(src, "Python").code))
                best = max(best, (size, row["path"], src), key=lambda b: b[0])
    size, path, src = best
    assert size >= 300, f"no function long enough in {repo}"
    return next(r for r in rows if r["repo"] == repo and r["path"] == path), src


@pytest.mark.parametrize("repo", ["pypi/click", "pypi/h11", "pypi/idna"])
@pytest.mark.parametrize("edit", list(EDITS))
def test_planted_copies_found_with_source_and_licence(curated, repo, edit):
    index, rows = curated
    row, function = longest_function(rows, repo)
    matches = index.attribute(EDITS[edit](function))
    assert matches, f"{edit} copy of {repo}/{row['path']} not found"
    top = matches[0]
    assert (top.repo, top.path) == (repo, row["path"])
    assert (top.license, top.license_type) == (row["license"], "permissive")
    assert top.license in ("BSD-3-Clause", "MIT")  # what click, h11 and idna declare


def test_unrelated_code_is_not_attributed(curated):
    index, _ = curated
    assert index.attribute(UNRELATED) == []
    assert index.attribute(Path(__file__).read_text()) == []  # this test is not in the index
