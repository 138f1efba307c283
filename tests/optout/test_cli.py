"""`commons optout` as users run it: in a real process without datatrove (the
curate extra), and the request queue's pending / approve / reject.

    python -m pytest tests/optout/test_cli.py -q
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from codecommons.optout import requests
from tests.optout.test_registry import cli

ROOT = Path(__file__).resolve().parents[2]

# Runs `commons ARGS` with every datatrove import failing, as on an install
# without the curate extra.
NO_DATATROVE = """
import sys

class NoDatatrove:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "datatrove":
            raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)")
        return None

sys.meta_path.insert(0, NoDatatrove())
from codecommons.__main__ import main
rc = main(sys.argv[1:])
assert not [m for m in sys.modules if m.split(".")[0] == "datatrove"]
sys.exit(rc)
"""


def commons(*args) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}
    return subprocess.run([sys.executable, "-c", NO_DATATROVE, *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_optout_runs_without_datatrove(tmp_path):
    reg = tmp_path / "optout.jsonl"
    blocked = subprocess.run([sys.executable, "-c", NO_DATATROVE.replace(
        "from codecommons.__main__ import main", "import datatrove")], capture_output=True, text=True)
    assert "blocked by the test" in blocked.stderr  # the block works
    r = commons("optout", "add", "github.com/Org/Repo", "--registry", reg)
    assert r.returncode == 0, r.stderr
    assert "opted out: repo github.com/org/repo" in r.stdout
    r = commons("optout", "list", "--registry", reg)
    assert r.returncode == 0 and "github.com/org/repo" in r.stdout, r.stderr
    r = commons("optout", "check", "https://github.com/org/repo.git", "--registry", reg)
    assert r.returncode == 0 and "opted out" in r.stdout, r.stderr
    req = requests.submit("Jane", "jane@example.org", ["github.com/jane/tool"], [], registry=reg)
    r = commons("optout", "pending", "--registry", reg)
    assert r.returncode == 0 and req.id in r.stdout, r.stderr


def test_pending_approve_reject(tmp_path, capsys):
    reg = tmp_path / "optout.jsonl"
    rc, out, _ = cli(capsys, "pending", "--registry", reg)
    assert rc == 0 and "no opt-out requests waiting" in out
    a = requests.submit("Jane Doe", "jane@example.org", ["github.com/jane/*", "pypi/janelib"],
                        ["jane@example.org"], note="line one\nline two", registry=reg)
    b = requests.submit("Bob", "bob@example.org", ["github.com/bob/x"], [], registry=reg)
    rc, out, _ = cli(capsys, "pending", "--registry", reg)
    assert rc == 0 and a.id in out and b.id in out and "2 request(s) waiting" in out
    assert "repo    github.com/jane/*" in out and "author  jane@example.org" in out
    assert "line two" in out
    rc, out, _ = cli(capsys, "approve", a.id, "--registry", reg)
    assert rc == 0 and "3 entries" in out
    assert "commons index remove-repo github.com/jane/* --index INDEX" in out
    assert "commons index remove-repo pypi/janelib --index INDEX" in out
    rc, out, _ = cli(capsys, "check", "github.com/jane/anything", "--registry", reg)
    assert rc == 0 and f"opted out by github.com/jane/* (added" in out and a.id in out
    rc, out, _ = cli(capsys, "reject", b.id, "--registry", reg)
    assert rc == 0 and "nothing was added" in out
    rc, out, _ = cli(capsys, "list", "--registry", reg)
    assert "github.com/bob/x" not in out and "3 entries" in out
    rc, _, err = cli(capsys, "approve", b.id, "--registry", reg)
    assert rc == 2 and "already rejected" in err
    rc, _, err = cli(capsys, "approve", "0000", "--registry", reg)
    assert rc == 2 and "no opt-out request" in err
