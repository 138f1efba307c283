"""`commons repo index|query` through the real entry point.

    python -m pytest tests/repocontext/test_cli.py -q
"""

from __future__ import annotations

import json

from codecommons.__main__ import main
from tests.repocontext.project import write_project


def test_index_prints_stats(tmp_path, capsys):
    root = write_project(tmp_path / "proj")
    assert main(["repo", "index", str(root), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["files"] == 7 and stats["python_modules"] == 7 and stats["definitions"] > 10


def test_query_shows_what_a_cursor_gets(tmp_path, capsys):
    root = write_project(tmp_path / "proj")
    line = (root / "shop/cart.py").read_text().split("\n").index(
        "        return pricing.total_with_tax(cents)") + 1
    assert main(["repo", "query", str(root), "--path", "shop/cart.py", "--line", str(line),
                 "--column", "23", "--budget", "600"]) == 0
    out, err = capsys.readouterr()
    assert "--- definition shop/pricing.py:" in out and "def total_with_tax" in out
    assert "shop/cart.py:" not in out and "of 600 tokens" in err


def test_query_errors_name_the_problem(tmp_path, capsys):
    root = write_project(tmp_path / "proj")
    assert main(["repo", "query", str(root), "--path", "nope.py", "--line", "1"]) == 1
    assert "no file nope.py" in capsys.readouterr().err
    assert main(["repo", "query", str(root), "--line", "1"]) == 1
    assert "--path FILE is required" in capsys.readouterr().err
