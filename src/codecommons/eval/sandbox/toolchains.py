"""The programs a sandboxed run needs (the Python interpreter, node, javac, g++,
rustc, bash...), found on the host wherever they are installed, and what of the
host the sandbox must show so that they run there too.

A tool is looked up on the harness's PATH, as a shell would. The sandbox then gets,
each read-only at its host path:
  - every symlink on the way from the path PATH found to the real file, recreated
    as a symlink (/usr/local/bin/node -> /opt/node/bin/node, with /opt/node ->
    /opt/node-v20; Debian's /usr/bin/java -> /etc/alternatives/java ->
    /usr/lib/jvm/.../bin/java needs nothing: it is all in the system directories);
  - the real file's install folder: <root> for <root>/bin/<tool> (its lib/,
    share/, libexec/ hold what it loads), else the folder it is in;
  - the folders of the shared libraries it loads from outside the system
    directories (ldd; a Homebrew, Nix or conda toolchain's own lib/);
  - for a Python virtual environment, the venv and its base installation (`home`
    in pyvenv.cfg: a venv made with --copies has no symlink to follow);
  - for a rustup proxy (~/.cargo/bin/rustc is rustup), the toolchain's own rustc
    (`rustup which rustc`) instead: rustup itself, its settings and its downloads
    stay out of the sandbox;
  - on PATH: the folder PATH found it in (for a rustup proxy: the toolchain's bin/).
Folders under the system directories every sandbox has (/usr, /etc, /bin, /lib...)
need nothing more (view.py drops them). A folder too broad to expose whole (/, a
top-level folder such as /tmp or /opt, a home folder) is never bound for a tool:
the file itself is.

The harness's own interpreter is found from `sys`: sys.prefix and sys.base_prefix
(a venv and its base installation, wherever each lives: under /tmp, /opt or a home
folder) plus sys.executable as above.
"""

from __future__ import annotations

import functools
import os
import re
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
_LDD_S = 30.0


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
    links: tuple[tuple[str, str], ...] = ()  # symlinks to recreate: (path, target)


def too_broad(folder: str) -> bool:
    """Folders never bound whole for a tool: /, top-level folders, home folders."""
    folder = os.path.normpath(folder)
    home = os.path.normpath(os.path.expanduser("~"))
    return folder.count("/") <= 1 or folder == home or os.path.dirname(folder) == "/home"


def install_folder(exe: str) -> str:
    """What to bind so that `exe` (a real file) runs: <root> for <root>/bin/exe,
    else exe's folder; `exe` alone when that folder is too broad."""
    d = os.path.dirname(exe)
    if os.path.basename(d) in ("bin", "sbin") and not too_broad(os.path.dirname(d)):
        return os.path.dirname(d)
    return exe if too_broad(d) else d


def resolve(path: str) -> tuple[str, list[tuple[str, str]]]:
    """The real path of `path` and every symlink resolving it goes through, as
    (link, its target) in order, followed the way the kernel follows them."""
    links: list[tuple[str, str]] = []
    pending = [c for c in path.split("/") if c]
    cur = "/"
    while pending:
        c = pending.pop(0)
        if c in (".", ""):
            continue
        if c == "..":
            cur = os.path.dirname(cur)
            continue
        nxt = os.path.join(cur, c)
        if not os.path.islink(nxt):
            cur = nxt
            continue
        if len(links) >= 40:  # the kernel's limit (MAXSYMLINKS)
            raise ToolchainMissing({path: "too many levels of symbolic links"})
        target = os.readlink(nxt)
        links.append((nxt, target))
        pending = [x for x in target.split("/") if x] + pending
        if target.startswith("/"):
            cur = "/"
    return cur, links


def _libraries(exe: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Folders (files, where the folder is too broad) and symlinks of the shared
    libraries the ELF file `exe` loads, as ldd resolves them on the host."""
    try:
        with open(exe, "rb") as f:
            if f.read(4) != b"\x7fELF":
                return [], []  # a script: its interpreter is a tool of its own
    except OSError:
        return [], []
    if shutil.which("ldd") is None:  # not glibc: nothing to ask
        return [], []
    try:
        out = subprocess.run(["ldd", exe], capture_output=True, text=True, timeout=_LDD_S)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ToolchainMissing({exe: f"ldd failed on it: {e}"}) from e
    folders, links = [], []
    for line in out.stdout.splitlines():
        m = re.search(r"(/\S+) \(0x[0-9a-f]+\)\s*$", line)
        if m:
            real, on_the_way = resolve(m.group(1))
            d = os.path.dirname(real)
            folders.append(real if too_broad(d) else d)
            links += on_the_way
    return folders, links


def _venv(exe: str) -> list[str]:
    """The venv `exe` belongs to and its base installation (pyvenv.cfg's home)."""
    root = os.path.dirname(os.path.dirname(exe))
    cfg = os.path.join(root, "pyvenv.cfg")
    try:
        with open(cfg, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    out = [os.path.realpath(root)]
    for line in lines:
        key, _, value = line.partition("=")
        if key.strip() == "home" and value.strip():
            home = os.path.realpath(value.strip())
            out.append(install_folder(os.path.join(home, "python")))
    return out


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
    real, links = resolve(found)
    bin_dir = os.path.dirname(found)
    if os.path.basename(real) == "rustup" and name != "rustup":
        real, links = resolve(_rustup_which(name, real))
        bin_dir = os.path.dirname(real)
    lib_folders, lib_links = _libraries(real)
    binds = [install_folder(real)] + lib_folders + _venv(found)
    return Tool(name, found, bin_dir, tuple(dict.fromkeys(binds)),
                tuple(dict.fromkeys(links + lib_links)))


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
    return Tool("python", exe, os.path.dirname(exe), tuple(dict.fromkeys(binds)), found.links)


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
