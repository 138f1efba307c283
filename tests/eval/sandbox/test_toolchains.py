"""The sandbox finds the interpreter and the toolchains wherever they live on the
host (sandbox/toolchains.py, view.py): a venv made in a temporary folder, a base
installation there too, a tool installed in a folder of its own (and only that
folder is seen), and a missing tool is named before anything runs.

    python -m pytest tests/eval/sandbox/test_toolchains.py -q       (~15 s)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from codecommons.eval.sandbox import SandboxLimits, ToolchainMissing, find_tools, run
from tests.eval import needs

SRC = Path(__file__).resolve().parents[3] / "src"
LIMITS = SandboxLimits(timeout_s=20.0, cpu_s=20)

# Run by the interpreter under test, as the harness: three programs through the
# fork server, one left behind a file in /tmp (emptied for the next), one program
# in a fresh sandbox, and `python3` from PATH inside `run`.
HARNESS = r"""
import dataclasses, json, sys
from codecommons.eval import sandbox
from codecommons.eval.sandbox import forkserver, sandbox_uid
where = "import os, sys; print(sys.prefix, sys.base_prefix, sorted(os.listdir('/tmp')))"
out = {"forkserver": [], "servers": []}
for program in (where, where + "; open('/tmp/left-behind', 'w').write('x')", where):
    out["forkserver"].append(dataclasses.asdict(sandbox.run_python(program)))
    out["servers"].append(forkserver.servers[sandbox_uid(0)].proc.pid)
out["fork_server_runs"] = sum(forkserver.runs.values())
out["fresh"] = dataclasses.asdict(sandbox.run_python(where, fresh_interpreter=True))
out["python3"] = dataclasses.asdict(sandbox.run(["python3", "-c", where]))
print(json.dumps(out))
"""


def run_harness(python: Path) -> dict:
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(SRC)}
    done = subprocess.run([str(python), "-c", HARNESS], env=env, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.fixture
def under_tmp():
    """A fresh folder directly under /tmp (the place the sandbox covers with its own
    tmpfs), whatever TMPDIR says."""
    path = Path(tempfile.mkdtemp(prefix="cc-toolchains-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def check_harness(out: dict, prefix: Path, base_prefix: str) -> None:
    top = prefix.relative_to("/tmp").parts[0]
    for res in out["forkserver"] + [out["fresh"], out["python3"]]:
        assert res["status"] == "passed", res
        seen_prefix, seen_base, tmp = res["stdout"].split(" ", 2)
        assert (seen_prefix, seen_base) == (str(prefix), base_prefix), res["stdout"]
        # The sandbox's own /tmp: only the folder that holds the binds (root's).
        assert tmp.strip() == str([top]), tmp
    assert out["fork_server_runs"] == 3
    assert len(set(out["servers"])) == 1, "the fork server was replaced after a program"


@needs.root
@needs.bwrap
def test_venv_in_a_temporary_folder(under_tmp):
    """The bug this fixes: `bwrap: execvp /tmp/.../bin/python: No such file or
    directory` for every program when the harness's venv lived under /tmp."""
    venv = under_tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages",
                    str(venv)], check=True, timeout=120)
    check_harness(run_harness(venv / "bin" / "python"), venv, sys.base_prefix)


PROBE = ("import json, sys, sysconfig; print(json.dumps([sys.base_prefix, "
         "sysconfig.get_path('stdlib'), '%d.%d' % sys.version_info[:2]]))")


def relocated_python(dest: Path) -> Path | None:
    """A copy of a Python installation under `dest` (hard links where possible),
    which then is its own base_prefix; None if no Python here relocates (one whose
    binary loads its libpython from a fixed absolute path, as pyenv builds do)."""
    version = "%d.%d" % sys.version_info[:2]
    candidates = [Path(sys.base_prefix) / "bin" / f"python{version}", Path("/usr/bin/python3")]
    for i, exe in enumerate(c for c in candidates if c.exists()):
        _, stdlib, version = json.loads(subprocess.run(
            [str(exe), "-c", PROBE], capture_output=True, text=True, check=True).stdout)
        root = dest / f"python-{i}"
        (root / "bin").mkdir(parents=True)
        copy = root / "bin" / f"python{version}"
        shutil.copy2(os.path.realpath(exe), copy)
        shutil.copytree(stdlib, root / "lib" / f"python{version}", copy_function=_link,
                        ignore=shutil.ignore_patterns("site-packages", "dist-packages", "test",
                                                      "__pycache__", "idlelib", "tkinter"))
        probe = subprocess.run(
            [str(copy), "-c", "import sys; print(sys.base_prefix); "
             "print(open('/proc/self/maps').read())"], capture_output=True, text=True)
        lines = probe.stdout.splitlines()
        loads_outside = any("libpython" in ln and str(root) not in ln for ln in lines[1:])
        if probe.returncode == 0 and lines[0] == str(root) and not loads_outside:
            return copy
    return None


def _link(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:  # another file system
        shutil.copy2(src, dst)


@needs.root
@needs.bwrap
def test_venv_and_its_base_installation_in_a_temporary_folder(under_tmp):
    python = relocated_python(under_tmp)
    if python is None:
        pytest.skip("no Python here can be copied to a temporary folder (each loads its "
                    "libpython from a fixed path)")
    base = python.parent.parent
    venv = under_tmp / "venv"
    subprocess.run([str(python), "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    check_harness(run_harness(venv / "bin" / "python"), venv, str(base))


@needs.bwrap
def test_tool_installed_in_its_own_folder_runs_and_sees_only_that(tmp_path, monkeypatch):
    """A tool reached through a symlink on PATH (tmp/bin/greet -> its install folder)
    runs in the sandbox with its install folder (share/ included) bound read-only,
    while the rest of the temporary folder stays out of sight."""
    install = tmp_path / "opt" / "greet-1.0"
    (install / "bin").mkdir(parents=True)
    (install / "share").mkdir()
    (install / "share" / "greeting").write_text("hello from share\n")
    script = install / "bin" / "greet"
    script.write_text('#!/bin/sh\nd=$(dirname "$(readlink -f "$0")")\ncat "$d/../share/greeting"\n')
    script.chmod(0o755)
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "greet").symlink_to(script)
    (tmp_path / "secret.txt").write_text("not for the sandbox\n")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    res = run(["sh", "-c", f"greet && (cat {tmp_path}/secret.txt || echo no secret) && "
                           f"ls {tmp_path}"], tools=["greet"], limits=LIMITS)
    assert res.status == "passed", res
    assert res.stdout.splitlines() == ["hello from share", "no secret", "bin", "opt"]
    assert "No such file" in res.stderr_tail


@needs.bwrap
@needs.tool("node")
def test_real_toolchain_in_a_temporary_folder(tmp_path, monkeypatch):
    """node installed under /tmp (as nvm or a tarball would put it) is the node the
    program runs, not the system's."""
    node = tmp_path / "node-v20" / "bin" / "node"
    node.parent.mkdir(parents=True)
    try:
        os.link(os.path.realpath(shutil.which("node")), node)
    except OSError as e:
        pytest.skip(f"cannot hard-link node into the temporary folder: {e}")
    monkeypatch.setenv("PATH", f"{node.parent}:{os.environ['PATH']}")
    res = run(["node", "-e", "console.log(process.execPath)"], tools=["node"], limits=LIMITS)
    assert res.status == "passed", res
    assert res.stdout.strip() == str(node)


def test_missing_tool_is_named_with_its_install_hint(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: nothing is found
    with pytest.raises(ToolchainMissing) as err:
        find_tools(["node", "javac", "g++"])
    assert set(err.value.problems) == {"node", "javac", "g++"}
    message = str(err.value)
    for hint in ("apt-get install -y nodejs", "apt-get install -y default-jdk-headless",
                 "apt-get install -y g++"):
        assert hint in message, message
    with pytest.raises(ToolchainMissing, match="node: not found on PATH"):
        run(["node", "-e", "1"], tools=["node"])  # raised before any sandbox starts
