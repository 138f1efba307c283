"""How a program is started: one small interface, two mechanisms.

"bwrap" (bubblewrap, Debian package `bubblewrap`): the sandbox. The program sees a
new root with the system directories and its toolchains read-only (view.py),
a fresh procfs of its own PID namespace, a minimal /dev (null, zero, random,
urandom, tty, pts) and size-capped tmpfs mounts on /scratch (cwd, HOME, TMPDIR;
`files` are written there by bwrap `--file` from memfds, so nothing touches the
host disk), /tmp and /dev/shm. It runs with `--unshare-net --unshare-pid
--unshare-ipc --unshare-uts --die-with-parent --new-session`, a cleared
environment and stdin from /dev/null.

As root, bwrap keeps only CAP_SETUID/CAP_SETGID/CAP_SETPCAP and its command is
`prlimit ... -- setpriv --reuid=U --regid=U --clear-groups --inh-caps=-all
--bounding-set=-all --no-new-privs -- env --default-signal -- cmd`: the program
is the worker's unprivileged host uid U (uids.py) with no capabilities, an empty
bounding set and no_new_privs (setuid binaries cannot raise it back), so
RLIMIT_NPROC counts exactly this worker's processes. bwrap itself runs as root so
it can bind paths under /root (a pyenv Python, ~/.cargo), which is mode 0700 and
which an unprivileged bwrap could not even traverse. `--unshare-user --uid U` was
rejected: as root that maps U in the namespace to host uid 0, which RLIMIT_NPROC
does not limit. Not root: bwrap makes a user namespace and the program keeps the
caller's uid (RLIMIT_NPROC is raised by the caller's current process count).

"unsafe" (`unsafe_no_sandbox=True`, CLI --unsafe-no-sandbox): no isolation, for
trusted code where no sandbox works (a container that forbids namespaces and is
itself the sandbox, as bigcode-evaluation-harness's Docker image is). The program
runs directly in a host temp folder with the rlimits, the scrubbed environment and
the timeout.

A util-linux `unshare` fallback was dropped: it needs the same kernel features as
bwrap (namespaces, as root), so it only ran where bwrap runs too, with weaker
isolation (the host file system stayed visible).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from typing import ClassVar, Mapping, Sequence

from codecommons.eval.sandbox.limits import MiB, SandboxLimits, prlimit_argv
from codecommons.eval.sandbox.pipes import Launch, Raw
from codecommons.eval.sandbox.uids import is_root, pids_of_uid
from codecommons.eval.sandbox.view import SCRATCH, TMPFS, View, sandbox_env, system_entries, under

BWRAP_HINT = "apt-get install -y bubblewrap"
# Signals the caller ignores stay ignored across exec (a harness run under nohup
# ignores SIGHUP): coreutils' env resets every disposition, so each program starts
# with a fresh interpreter's signal state whatever launched the harness.
DEFAULT_SIGNALS = ["env", "--default-signal", "--"]
# What bwrap keeps as root: enough for setpriv to switch to the worker uid.
ONE_SHOT_CAPS = ("CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP")


def check_files(files: Mapping[str, str | bytes]) -> list[tuple[str, bytes]]:
    """(relative path, bytes) of the files to put into the scratch folder."""
    out = []
    for name, content in files.items():
        norm = os.path.normpath(name)
        if os.path.isabs(name) or norm in (".", "..", "") or norm.startswith("../"):
            raise ValueError(f"file name must be relative and inside the scratch folder: {name!r}")
        out.append((norm, content.encode() if isinstance(content, str) else bytes(content)))
    return out


def _parent_dirs(names: Sequence[str]) -> list[str]:
    dirs: set[str] = set()
    for n in names:
        d = os.path.dirname(n)
        while d:
            dirs.add(d)
            d = os.path.dirname(d)
    return sorted(dirs, key=lambda d: (d.count("/"), d))


def _memfd(name: str, data: bytes) -> int:
    fd = os.memfd_create("cc-" + os.path.basename(name)[:200])
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def setpriv_argv(uid: int) -> list[str]:
    return [
        "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
        "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--",
    ]


def bwrap_args(view: View, files: list[tuple[str, bytes]], disk_mb: int,
               env_extra: Mapping[str, str] | None) -> tuple[list[str], list[int], tuple[str, ...]]:
    """bwrap's argv up to the capabilities and the command; the memfds of `files`;
    and the skeleton: the folders bwrap makes inside its tmpfs mounts to hold a
    bind (a venv under /tmp), which are root's and stay when the tmpfs is emptied."""
    size = str(disk_mb * MiB)
    a = [shutil.which("bwrap") or "bwrap",
         "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
         "--unshare-cgroup-try", "--hostname", "sandbox", "--die-with-parent", "--new-session"]
    for kind, src, dest in system_entries():
        a += ["--symlink", src, dest] if kind == "symlink" else ["--ro-bind", src, dest]
    a += ["--proc", "/proc", "--dev", "/dev"]
    for mode, path in TMPFS:
        a += ["--perms", mode, "--size", size, "--tmpfs", path]
    # The binds come after the tmpfs mounts: one below /tmp (a venv made in a
    # temporary folder) then lands on top of the fresh /tmp instead of under it.
    made = {"/", "/proc", "/dev"} | {path for _, path in TMPFS}
    skeleton = []
    entries = sorted([(p, None) for p in view.binds] + list(view.links))
    for p, target in entries:
        parents = []
        d = os.path.dirname(p)
        while d not in made:
            parents.append(d)
            d = os.path.dirname(d)
        for d in reversed(parents):  # world-traversable (bwrap would make them 0700)
            a += ["--perms", "0755", "--dir", d]
            made.add(d)
        a += ["--ro-bind", p, p] if target is None else ["--symlink", target, p]
        made.add(p)
        skeleton += [q for q in parents + [p]
                     if any(under(q, t) and q != t for _, t in TMPFS)]
    for d in _parent_dirs([n for n, _ in files]):
        a += ["--perms", "0777", "--dir", f"{SCRATCH}/{d}"]
    fds = []
    for name, data in files:
        fd = _memfd(name, data)
        fds.append(fd)
        a += ["--perms", "0666", "--file", str(fd), f"{SCRATCH}/{name}"]
    a += ["--chdir", SCRATCH, "--clearenv"]
    for k, v in sandbox_env(SCRATCH, view, env_extra).items():
        a += ["--setenv", k, v]
    return a, fds, tuple(skeleton)


class Mechanism:
    """Builds the command line that starts `cmd` and reads back how it went."""

    name: ClassVar[str]
    sweeps_uid: ClassVar[bool] = False  # programs run as the worker uid (sweep it)

    def problem(self) -> str | None:
        """None if this mechanism can be tried here, else why not."""
        return None

    def launch(self, cmd: list[str], files: list[tuple[str, bytes]], limits: SandboxLimits,
               uid: int, env: Mapping[str, str] | None, view: View) -> Launch:
        raise NotImplementedError

    def program_exit(self, raw: Raw) -> tuple[bool, int | None]:
        """(the program started, its exit code)."""
        return True, raw.returncode


class Bubblewrap(Mechanism):
    name = "bwrap"
    sweeps_uid = True

    def problem(self) -> str | None:
        if not shutil.which("bwrap"):
            return f"bwrap not found (install it: {BWRAP_HINT})"
        missing = [t for t in (["setpriv", "prlimit"] if is_root() else ["prlimit"])
                   if not shutil.which(t)]
        if missing:
            return f"missing {', '.join(missing)} (util-linux)"
        return None

    def launch(self, cmd, files, limits, uid, env, view) -> Launch:
        a, fds, _ = bwrap_args(view, files, limits.disk_mb, env)
        status_r, status_w = os.pipe()
        a += ["--json-status-fd", str(status_w)]
        if is_root():
            for cap in ONE_SHOT_CAPS:
                a += ["--cap-add", cap]
            a += ["--"] + prlimit_argv(limits) + setpriv_argv(uid)
        else:
            a += ["--"] + prlimit_argv(limits, nproc_extra=len(pids_of_uid(os.getuid())))
        return Launch(argv=a + DEFAULT_SIGNALS + cmd, env={}, cwd="/",
                      pass_fds=fds + [status_w], status_r=status_r)

    def program_exit(self, raw: Raw) -> tuple[bool, int | None]:
        code = None
        for line in raw.status_text.splitlines():
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if "exit-code" in doc:
                code = int(doc["exit-code"])
        return code is not None, code


class NoSandbox(Mechanism):
    name = "unsafe"

    def launch(self, cmd, files, limits, uid, env, view) -> Launch:
        staging = tempfile.mkdtemp(prefix="codecommons-unsafe-")
        for name, data in files:
            path = os.path.join(staging, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
        limit = prlimit_argv(limits) if shutil.which("prlimit") else []
        return Launch(argv=limit + DEFAULT_SIGNALS + cmd, env=sandbox_env(staging, view, env),
                      cwd=staging, staging=staging)


MECHANISMS: dict[str, Mechanism] = {m.name: m for m in (Bubblewrap(), NoSandbox())}


def get_mechanism(name: str) -> Mechanism:
    if name not in MECHANISMS:
        raise ValueError(f"unknown sandbox mechanism {name!r}; choose one of: "
                         f"{', '.join(MECHANISMS)}")
    return MECHANISMS[name]
