"""What a program sees of the host: the system directories, the read-only binds
(and symlinks) of its interpreter and toolchains, PATH and the scrubbed environment.

Every sandbox has read-only binds of /usr and /etc (and /bin, /lib*, /sbin as the
symlinks or binds the host has); the rest of the host is not there, except what
`View.binds` adds: the harness's interpreter (always), the tools a run asks for
(toolchains.py finds them wherever they are installed), and the caller's
`ro_binds`, each read-only at its host path.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Mapping, Sequence

from codecommons.eval.sandbox.toolchains import Tool, own_interpreter

SYSTEM_TOPS = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SCRATCH = "/scratch"  # the program's cwd, HOME and TMPDIR
# Writable, size-capped tmpfs mounts of every sandbox (mode, path).
TMPFS = (("1777", "/dev/shm"), ("1777", "/tmp"), ("0777", SCRATCH))


def under(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


@functools.lru_cache(maxsize=None)
def system_entries() -> tuple[tuple[str, str, str], ...]:
    """("bind" | "symlink", source, destination) of the system directories."""
    out = []
    for top in SYSTEM_TOPS:
        if os.path.islink(top):
            out.append(("symlink", os.readlink(top), top))
        elif os.path.isdir(top):
            out.append(("bind", top, top))
    return tuple(out)


def _in_system(path: str) -> bool:
    """Below a system directory: there in every sandbox (as a bind or a symlink)."""
    return any(under(path, top) for _, _, top in system_entries())


@dataclass(frozen=True)
class View:
    binds: tuple[str, ...]  # host paths bound read-only at the same path, outermost only
    path: str  # PATH inside the sandbox
    links: tuple[tuple[str, str], ...] = ()  # symlinks made in the sandbox: (path, target)


def make_view(tools: Sequence[Tool] = (), ro_binds: Sequence[str] = ()) -> View:
    """The harness's interpreter, `tools` and `ro_binds` (host folders)."""
    return _make_view((own_interpreter(), *tools), tuple(os.path.realpath(p) for p in ro_binds))


@functools.lru_cache(maxsize=64)
def _make_view(tools: tuple[Tool, ...], ro_binds: tuple[str, ...]) -> View:
    wanted = {p for t in tools for p in t.binds} | set(ro_binds)
    # /proc and /dev are the sandbox's own; below /usr & co. is there already.
    wanted = {p for p in wanted if not _in_system(p) and not under(p, "/proc")
              and (not under(p, "/dev") or under(p, "/dev/shm"))}
    outer = sorted(p for p in wanted if not any(q != p and under(p, q) for q in wanted))
    links = {path: target for t in tools for path, target in t.links
             if not _in_system(path) and not any(under(path, b) for b in outer)}
    dirs = [t.bin_dir for t in tools] + BASE_PATH.split(":")
    return View(binds=tuple(outer), path=":".join(dict.fromkeys(dirs)),
                links=tuple(sorted(links.items())))


def sandbox_env(scratch: str, view: View, extra: Mapping[str, str] | None) -> dict[str, str]:
    """The whole environment of a program: nothing of the harness's but PATH's shape."""
    env = {
        "PATH": view.path,
        "LANG": "C.UTF-8",
        "HOME": scratch,
        "TMPDIR": scratch,
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
    }
    if extra:
        env.update(extra)
    return env
