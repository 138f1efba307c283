"""The package works as installed, away from the checkout: a wheel built from this
repository, installed (not editable) into a fresh virtual environment in a temporary
folder with no `shared/` anywhere near it, scores MBPP samples in the sandbox with
the benchmark data it ships and curates a small folder.

The fresh environment gets its dependencies from this one's site-packages through a
path entry (a `.pth` line adds the folder without running the `.pth` files in it, so
this checkout's editable install is not seen): the test is about what the wheel
carries, not about downloading the dependencies again.

    python -m pytest tests/test_install.py -q      # ~1 min
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.eval import needs

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "eval" / "golden" / "mbpp.jsonl"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("install")
    wheels = work / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(wheels), str(ROOT)], check=True, cwd=work)
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    purelib = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    here = [p for p in site.getsitepackages() + [sysconfig.get_paths()["purelib"]] if os.path.isdir(p)]
    Path(purelib, "deps-from-the-test-venv.pth").write_text("\n".join(dict.fromkeys(here)) + "\n")
    subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "--no-index", "-q",
                    *map(str, wheels.glob("codecommons-*.whl"))], check=True, cwd=work)
    return venv


def run(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "COMMONS_BENCHMARKS")}
    return subprocess.run([str(venv / "bin" / "commons"), *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=600)


def test_the_installed_package_is_not_this_checkout(installed, tmp_path):
    out = subprocess.run([str(installed / "bin" / "python"), "-c",
                          "import codecommons, codecommons.benchmarks as b; print(codecommons.__file__); "
                          "print(b.data_root())"], capture_output=True, text=True, cwd=tmp_path,
                         check=True, env={"PATH": os.environ["PATH"]}).stdout.split()
    assert str(installed) in out[0] and str(ROOT) not in out[0]
    assert str(installed) in out[1] and Path(out[1], "mbpp", "sanitized-mbpp.json").is_file()
    assert not any((p / "shared").exists() for p in [tmp_path, *tmp_path.parents])


@needs.bwrap
def test_eval_execute_on_mbpp_with_the_shipped_data(installed, tmp_path):
    samples = tmp_path / "samples.jsonl"
    shutil.copy(GOLDEN, samples)
    r = run(installed, "eval", "execute", str(samples), "--task", "mbpp", "--allow-code-execution",
            "--workers", "1", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    results = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert results and any(x["passed"] for x in results) and not all(x["passed"] for x in results)


def test_curate_a_small_folder(installed, tmp_path):
    repo = tmp_path / "proj"
    repo.mkdir()
    (repo / "LICENSE").write_text(Path(shutil.__file__).parent.joinpath("LICENSE.txt").read_text()
                                  if Path(shutil.__file__).parent.joinpath("LICENSE.txt").exists()
                                  else "MIT License\n\nPermission is hereby granted, free of charge, "
                                       "to any person obtaining a copy of this software")
    (repo / "util.py").write_text("def double(x):\n    \"\"\"Twice x.\"\"\"\n    return 2 * x\n" * 3)
    r = run(installed, "curate", str(repo), "--out", str(tmp_path / "ds"), "--no-progress",
            cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    stats = json.loads((tmp_path / "ds" / "stats.json").read_text())
    assert stats and list((tmp_path / "ds" / "data").glob("*.parquet"))
    decontam = json.loads((tmp_path / "ds" / "curate.json").read_text())
    assert "mbpp" in json.dumps(decontam)  # decontaminated against the shipped benchmarks
