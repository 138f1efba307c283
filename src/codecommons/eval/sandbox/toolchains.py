"""The programs a sandboxed run needs (the Python interpreter, node, javac, g++,
rustc, bash...), found on the host wherever they are installed, and the host
folders to bind read-only so that they run inside the sandbox too.

A tool is looked up on the harness's PATH, as a shell would. The sandbox then gets:
  - its install folder: <root> for <root>/bin/<tool> (its lib/, share/, libexec/
    hold what it loads), else the folder it is in; for the path PATH found, for
    every symlink on the way and for the file they resolve to (Debian's
    /usr/bin/java -> /etc/alternatives/java -> /usr/lib/jvm/.../bin/java);
  - for a Python virtual environment, its base installation (`home` in pyvenv.cfg:
    a venv made with --copies has no symlink to follow);
  - for a rustup proxy (~/.cargo/bin/rustc is rustup), the toolchain's own rustc
    (`rustup which rustc`), whose toolchain folder is bound: rustup itself, its
    settings and its downloads stay out of the sandbox;
  - the folder PATH found it in (for a rustup proxy: the toolchain's bin/), on the
    sandbox's PATH.
Folders under the system directories every sandbox has (/usr, /etc, /bin, /lib...)
need nothing more (view.py drops them). A parent that is too broad to expose whole
(/, a top-level folder such as /tmp or /opt, a home folder) is never bound for
a tool: only the tool's own folder is.

The harness's own interpreter is found from `sys` rather than PATH: sys.prefix and
sys.base_prefix (a venv and its base installation, wherever each lives: /tmp,
/opt, a home folder) plus the install folders of sys.executable as above.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import Iterable

# How to install each toolchain the benchmark tasks use (Debian package names,
# checked with apt-cache on Debian 12).
INSTALL_HINTS = {
    "node": "apt-get install -y nodejs",
    "javac": "apt-get install -y default-jdk-headless",
    "java": "apt-get install -y default-jdk-headless",
    "g++": "apt-get install -y g++",
    "cc": "apt-get install -y gcc",
    "rustc": "apt-get install -y rustc (or rustup: https://rustup.rs)",
    "bash": "apt-get install -y bash",
    "python3": "apt-get install -y python3",
}
_RUSTUP_WHICH_S = 60.0


class ToolchainMissing(RuntimeError):
    """A program a run needs is not installed (not on PATH), or cannot be resolved."""

    def __init__(self, problems: dict[str, str]):
        self.problems = dict(problems)  # tool -> why it cannot be used
        super().__init__("; ".join(f"{name}: {why}" for name, why in problems.items()))


@dataclass(frozen=True)
class Tool:
    name: str
    path: str  # where the host's PATH lookup found it
    bin_dir: str  # goes on the sandbox's PATH
    binds: tuple[str, ...]  # host paths bound read-only at the same path


def too_broad(folder: str) -> bool:
    """Folders never bound whole for a tool: /, top-level folders, home folders."""
    folder = os.path.normpath(folder)
    home = os.path.normpath(os.path.expanduser("~"))
    return folder.count("/") <= 1 or folder == home or os.path.dirname(folder) == "/home"


def install_folder(exe: str) -> str:
    """What to bind so that `exe` runs: <root> for <root>/bin/exe, else exe's
    folder; `exe` alone when that folder is too broad."""
    d = os.path.dirname(exe)
    if os.path.basename(d) in ("bin", "sbin") and not too_broad(os.path.dirname(d)):
        return os.path.dirname(d)
    return exe if too_broad(d) else d


def _link_chain(path: str) -> list[str]:
    """`path`, every symlink it goes through and the file it ends at."""
    chain, p = [path], path
    for _ in range(40):  # the kernel's own limit on symlink hops (MAXSYMLINKS)
        if not os.path.islink(p):
            break
        p = os.path.normpath(os.path.join(os.path.dirname(p), os.readlink(p)))
        chain.append(p)
    real = os.path.realpath(path)
    return chain if real in chain else chain + [real]


def _venv_base(exe: str) -> list[str]:
    """The base installation of the venv `exe` belongs to, from its pyvenv.cfg."""
    cfg = os.path.join(os.path.dirname(os.path.dirname(exe)), "pyvenv.cfg")
    try:
        with open(cfg, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    for line in lines:
        key, _, value = line.partition("=")
        if key.strip() == "home" and value.strip():
            home = os.path.realpath(value.strip())
            return [install_folder(os.path.join(home, "python"))]
    return []


def _rustup_which(name: str, rustup: str) -> str:
    """The real binary behind rustup's proxy for `name` (the default toolchain's).
    Run from / so that no directory override (rust-toolchain.toml) applies."""
    try:
        out = subprocess.run([rustup, "which", name], capture_output=True, text=True, cwd="/",
                             timeout=_RUSTUP_WHICH_S)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ToolchainMissing({name: f"`rustup which {name}` failed: {e}"}) from e
    path = out.stdout.strip()
    if out.returncode != 0 or not os.path.isfile(path):
        why = out.stderr.strip() or f"exit code {out.returncode}"
        raise ToolchainMissing({name: f"rustup has no toolchain with {name} ({why}); "
                                      "install one: `rustup default stable`"})
    return path


@functools.lru_cache(maxsize=256)
def _find(name: str, search_path: str) -> Tool:
    found = shutil.which(name, path=search_path)
    if found is None:
        hint = INSTALL_HINTS.get(name, f"install {name}")
        raise ToolchainMissing({name: f"not found on PATH ({search_path}); install it "
                                      f"(`{hint}`) or put the folder that holds it on PATH"})
    found = os.path.abspath(found)
    real = os.path.realpath(found)
    if os.path.basename(real) == "rustup" and name != "rustup":
        real = os.path.realpath(_rustup_which(name, real))
        return Tool(name, found, os.path.dirname(real), (install_folder(real),))
    binds = [install_folder(p) for p in _link_chain(found)] + _venv_base(found)
    return Tool(name, found, os.path.dirname(found), tuple(dict.fromkeys(binds)))


def find_tool(name: str) -> Tool:
    """Look `name` (or a path) up on the host's PATH. Raises ToolchainMissing."""
    return _find(name, os.environ.get("PATH", os.defpath))


def find_tools(names: Iterable[str]) -> tuple[Tool, ...]:
    """Every tool of `names`; one ToolchainMissing naming all that are missing."""
    tools, problems = [], {}
    for name in dict.fromkeys(names):
        try:
            tools.append(find_tool(name))
        except ToolchainMissing as e:
            problems.update(e.problems)
    if problems:
        raise ToolchainMissing(problems)
    return tuple(tools)


@functools.lru_cache(maxsize=None)
def own_interpreter() -> Tool:
    """The Python running the harness: its prefixes (venv and base), wherever they are."""
    exe = os.path.abspath(sys.executable)
    prefixes = [os.path.realpath(p) for p in
                (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)]
    found = _find(exe, os.defpath)
    binds = [p for p in prefixes if p != "/" and os.path.isdir(p)] + list(found.binds)
    return Tool("python", exe, os.path.dirname(exe), tuple(dict.fromkeys(binds)))


def interpreter(python: str | None) -> Tool:
    """`python` (a name on PATH or a path), or the harness's own interpreter."""
    if python is None or is_own_python(python):
        return own_interpreter()
    return find_tool(python)


def is_own_python(python: str | None) -> bool:
    if python is None:
        return True
    found = shutil.which(python)
    return found is not None and os.path.realpath(found) == os.path.realpath(sys.executable)
