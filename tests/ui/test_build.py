"""The committed web UI (src/codecommons/ui/static/) is what its sources build:
a clean `npm ci` (the pinned lockfile) and the fixed build (build.mjs) in a
temporary folder give the same files, byte for byte. Needs npm and the npm registry.

    python -m pytest tests/ui/test_build.py -q          # ~30 s, mostly npm ci
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

UI = Path(__file__).resolve().parents[2] / "src" / "codecommons" / "ui"
SOURCES = ["package.json", "package-lock.json", "tsconfig.json", "build.mjs", "src"]


@pytest.mark.ui_build
def test_static_files_rebuild_byte_for_byte(tmp_path):
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm not found: apt-get install nodejs npm (make ui needs it)")
    work = tmp_path / "ui"
    work.mkdir()
    for name in SOURCES:
        src = UI / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, work / name)
    run = lambda *cmd: subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=600)  # noqa: E731
    for cmd in ([npm, "ci", "--no-audit", "--no-fund"], [npm, "run", "check"], ["node", "build.mjs", str(tmp_path / "out")]):
        r = run(*cmd)
        assert r.returncode == 0, f"{' '.join(cmd)}:\n{r.stdout}\n{r.stderr}"
    built = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    committed = {p.name: p.read_bytes() for p in (UI / "static").iterdir()}
    assert sorted(built) == sorted(committed)
    stale = [name for name in built if built[name] != committed[name]]
    assert not stale, f"{stale} differ from their sources: run `make ui` and commit src/codecommons/ui/static"
