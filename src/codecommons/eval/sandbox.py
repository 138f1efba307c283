"""
Sandboxed execution of untrusted programs (model completions) for the
execution-based evaluation harness (pass@k).

`run(cmd, files)` writes `files` into a fresh scratch folder, runs `cmd` there
inside a sandbox and returns an `ExecutionResult` (passed / failed / timeout /
error, exit code, capped stdout, tail of stderr, duration). `run_python(program)`
runs a Python program and passes it only when it provably ran to its last line.
A compile-then-run language is one `run` call with a shell script as the
command, e.g. `["sh", "-c", "javac Main.java && java -Xmx256m Main"]`.

Mechanism (detected once per process by really running `true`, then cached):

1. bubblewrap (`bwrap`, Debian package `bubblewrap`: `apt-get install -y
   bubblewrap`). The program sees a new root: read-only binds of /usr and /etc
   (and /bin, /lib*, /sbin as the symlinks or binds the host has), the running
   Python's prefix and, when present, ~/.cargo and ~/.rustup (rustc, cargo),
   each read-only and at its host path; nothing else of the host (no /root,
   /home, /work, /var, /run, /opt, /sys). /proc is a fresh procfs of its own PID
   namespace, /dev a minimal one (null, zero, random, urandom, tty, pts).
   Writable places are tmpfs mounts with a size cap: /scratch (the scratch
   folder: cwd, HOME and TMPDIR; `files` are copied in by bwrap `--file` from
   memfds, so nothing touches the host disk and there is no host folder to
   clean up), /tmp and /dev/shm. It runs with
   `--unshare-net --unshare-pid --unshare-ipc --unshare-uts --die-with-parent
   --new-session`, a cleared environment and stdin from /dev/null.

   The unprivileged uid. The harness runs as root, and the kernel does not
   enforce RLIMIT_NPROC for root, so a fork bomb is only bounded if the program
   runs as another user. We give each concurrent worker its own uid,
   60000 + worker, and switch to it *inside* the sandbox: bwrap runs as root
   (so it can bind paths under /root, such as a pyenv Python or ~/.cargo,
   which is mode 0700 and which an unprivileged bwrap could not even
   traverse), keeps only CAP_SETUID/CAP_SETGID/CAP_SETPCAP, and its command
   is `prlimit ... -- setpriv --reuid=U --regid=U --clear-groups
   --inh-caps=-all --bounding-set=-all --no-new-privs -- cmd`. After setpriv
   the program has no capabilities, an empty bounding set and
   no_new_privs (setuid binaries cannot raise it back), and it is a real
   unprivileged host uid, so RLIMIT_NPROC counts exactly this worker's
   processes. `--unshare-user --uid U` was rejected: as root that maps U in
   the namespace to host uid 0, which RLIMIT_NPROC does not limit. Setting the
   uid before exec'ing bwrap was rejected for the /root traversal reason above.
   Distinct uids per worker let us sweep leftovers by uid after each run, and a
   lock per uid (in-process and a flock) serialises two runs that were given
   the same worker index.

2. Fallback where bwrap is missing or fails: util-linux `unshare --net --pid
   --ipc --uts --mount --fork --kill-child --mount-proc` (root only), a small
   root shell step that mounts size-capped tmpfs on /tmp (the scratch folder is
   /tmp/scratch), /var/tmp, /dev/shm, /run/lock, hides ~ (root's home) behind
   a tmpfs with the toolchains re-bound read-only, then the same prlimit +
   setpriv chain. That root shell stays the namespace's init (pid 1), and
   `setpriv --pdeathsig=KILL` + `--kill-child` make the namespace die with the
   harness. The files are staged in a host temp dir (0700, removed afterwards)
   and copied into the tmpfs. The rest of the host file system stays visible,
   read-only through file permissions only (the uid owns nothing there).

3. Neither works: `run` raises `SandboxUnavailable` unless the caller passes
   `unsafe_no_sandbox=True` (CLI `--unsafe-no-sandbox`), which runs the program
   directly with the rlimits, scrubbed environment, temp dir and timeout only.

Fork server (`run_python`'s default with bubblewrap as root and the harness's own
interpreter; `run_python(..., fresh_interpreter=True)` and `run` are one-shot):
a new bwrap sandbox plus a new interpreter cost ~43 ms per program, more than
most tests take to run. So each worker slot (uid U = 60000 + worker) keeps one
long-lived sandbox: bwrap exactly as above (same binds, tmpfs mounts, namespaces,
environment), started from a keeper thread that lives as long as the harness
(--die-with-parent follows the starting *thread*), running forkserver.py as root
inside it with only CAP_SETUID, CAP_SETGID and CAP_KILL, no_new_privs and an
empty bounding set. It imports only cheap modules (ctypes, resource, select,
_socket) and takes one program at a time over a unix socket (the harness passes
the program's stdout/stderr pipes with SCM_RIGHTS). Per program it:
- writes the files into /scratch (empty: checked after the previous program),
  then forks a child that calls setsid, puts the pipes on fds 1 and 2 (stdin stays
  /dev/null), closes every other fd, chdirs to /scratch, sets the rlimits (as
  above, plus RLIMIT_MSGQUEUE=0), setgroups([]) + setresgid(U) + setresuid(U)
  (which clears every capability), no_new_privs, dumpable again (as an exec
  would), and runs the program as a fresh __main__ module (new globals,
  sys.argv = ["program.py"], compiled as "program.py") with the same completion
  token rule as a one-shot run; then it ends like an interpreter does (exit code
  of SystemExit or 1 after a traceback, non-daemon threads joined, atexit hooks,
  flush) with os._exit;
- waits for the child with the wall-clock timeout (then SIGKILL to its process
  group), then SIGKILLs every process of its PID namespace except bwrap's init
  and itself until none is left (all of them are the program's: a daemon, a
  double fork, setsid, a fork bomb), empties /scratch, /tmp and /dev/shm as U
  and checks that they are empty and that no SysV IPC object exists. If that
  fails, it answers "dirty" and exits, and the harness starts a new sandbox;
- answers with the exit status. The program cannot signal, ptrace or read the
  memory of the fork server (uid 0 vs U), and the fork server's socket is closed
  in the child. A fork server that dies, or does not answer within timeout_s +
  5 s, is killed with its whole namespace (that program: "failed" or "timeout")
  and replaced for the next program; one that was gone between programs is
  replaced and the program run there. Fork servers are reused across calls (one
  per worker index, used under that worker's slot lock), replaced when `env` or
  `disk_mb` change, and stopped by `shutdown()`, which runs at exit.
What a fork-server run does not have that a one-shot run has:
- Its own namespaces: a worker's programs share, one after another, the fork
  server's PID, network, IPC, UTS and mount namespaces and tmpfs mounts. What a
  program could leave there is removed or checked after it (processes, files,
  SysV IPC); POSIX message queues cannot be created (RLIMIT_MSGQUEUE=0); sockets
  and locks go with the killed processes (a loopback port a program used may
  still be in TIME_WAIT for the next). The per-uid kernel keyring is shared by
  a worker's programs in both modes.
- A fresh interpreter: the child is a fork of the fork server. sys.modules also
  holds what it imported (ctypes, _ctypes, _socket, select, resource and what
  site imports anyway), sys.path_importer_cache its finders (except the cwd's),
  and its memory the fork server's code and state, the current request included
  (so the token is in the program's memory: the same caveat as below).
  /proc/self/cmdline and sys.orig_argv show `python -c <forkserver.py> ...`.
  random reseeds itself in a forked child, hashing uses PYTHONHASHSEED=0 in both.
- A real interpreter exit: no module teardown, no final garbage collection and
  no __del__ of what is still alive; files the program left open and unflushed
  are not flushed (they are in the scratch folder that is emptied anyway).
- Tracebacks show the program's frames only (a one-shot run also shows the
  wrapper's), the program's parent is the fork server (not bwrap's init), it
  leads its own session and process group, and duration_s does not include a
  sandbox start. Signal dispositions and mask are a fresh interpreter's (the
  fork server changes none).
- The harness does not sweep uid U on the host after every run (the fork server
  sweeps its namespace, where all of this harness's uid-U processes are), only
  when it starts a fork server.

What is covered:
- Each program runs in a fresh process tree in its own PID namespace; when
  the program ends, or on timeout, the whole tree is killed (the namespace's
  init exits or is SIGKILLed), and any process still owned by the worker's uid
  is swept (before and after each run), so no daemon, double-fork or fork bomb
  outlives `run`. If the harness itself dies, bwrap's --die-with-parent takes
  the sandbox with it. (Fork server: a fresh forked process in the worker's
  long-lived namespace, whose other processes are all killed after each program.)
- Its own scratch folder, new for every run and gone afterwards (a tmpfs of the
  sandbox's mount namespace: nothing is written to the host disk).
- Scrubbed environment: only PATH, LANG=C.UTF-8, HOME=TMPDIR=scratch,
  PYTHONDONTWRITEBYTECODE=1, PYTHONHASHSEED=0, CARGO_HOME/RUSTUP_HOME when
  those toolchains exist, and PWD (bwrap --chdir sets it), plus what the
  caller passes in `env`. No secret of
  the harness (API keys, tokens) reaches the program.
- No stdin (/dev/null); no network (an empty network namespace with only
  loopback: not even the host's 127.0.0.1 services are reachable).
- No writes to the host file system outside the size-capped tmpfs mounts
  (read-only binds, and the program's uid owns nothing there anyway).
- Cannot signal host processes: they are not in its PID namespace, and the
  namespace's init is root-owned.
- Resource limits (rlimits, per process) and why each default has its value:
  - timeout_s=10 (wall clock, whole tree): benchmark tests run in well under a
    second; 10 s leaves room for a slow CI core, for javac/rustc compile steps,
    and bounds what an infinite loop costs (a sleep loop uses no CPU time, so
    this, not cpu_s, is what stops it).
  - cpu_s=10 (RLIMIT_CPU, SIGXCPU then SIGKILL a second later): a backstop that
    equals the wall clock; reported as "timeout".
  - memory_mb=1024 (RLIMIT_AS and RLIMIT_DATA): generous for test code (numpy
    included) while 2 workers on a 24 GiB machine stay far from the OOM killer.
    The JVM reserves gigabytes of address space it never touches and does
    not start under a 1 GiB RLIMIT_AS (pthread_create EAGAIN): for Java set
    address_space_mb=0 (no RLIMIT_AS), which keeps memory_mb as the
    RLIMIT_DATA cap (it counts only writable private memory, so a Python
    bytearray(10**10) still fails). g++, rustc and node run under the default.
  - max_procs=64 (RLIMIT_NPROC, counts threads too): a JVM starts ~20-30
    threads, rustc ~16 plus the linker; a fork bomb cannot exceed 64.
  - file_size_mb=16 (RLIMIT_FSIZE): the largest file a test step writes is a
    debug rustc binary (a few MB); EFBIG stops a disk-fill at the first file.
  - disk_mb=64 (size of each tmpfs: scratch, /tmp, /dev/shm): many small files
    end with ENOSPC; tmpfs is RAM, so this also bounds the memory they take.
  - open_files=256 (RLIMIT_NOFILE): no test needs more; bounds fd exhaustion.
  - core dumps 0 (RLIMIT_CORE): a crash does not write a core file.
  - output_bytes=65536: stdout and stderr are drained to the end so the program
    never blocks on a full pipe, but only the first 64 KiB of stdout and the
    last 64 KiB of stderr are kept (enough for any test output and a traceback).
- `run_python`: a pass needs exit code 0 AND a per-run random token (32 hex
  chars, made by the harness) as the last line of stdout. The wrapper reads the
  token from an inherited pipe and closes it before the program starts (it is
  not in argv, the environment or any file), runs the program as __main__, and
  prints the token only after the program's last line returned. So sys.exit(0),
  os._exit(0), raise SystemExit, quit(), exit(), an atexit hook calling
  os._exit(0) after a failing assert, a killed or crashed interpreter: all fail.
  So does a program that writes to stdout after its end (an atexit hook, a
  leftover thread or child): the token must be the last line.

What is not covered:
- A program that deliberately hunts for the token can forge a pass: it is in
  the wrapper's (or the forked fork server's) memory while the program runs
  (e.g. sys._getframe().f_back, gc.get_objects()). This guards against
  completions that exit early by accident or by "reward hacking" habit, not
  against an adversary.
- Memory is limited per process: a program may fork up to max_procs processes
  of memory_mb each, so the worst case is max_procs x memory_mb (64 GiB with
  the defaults). A memory cgroup per sandbox would close this; not done.
- Kernel attack surface: no seccomp filter, the program can make any syscall a
  normal user can (a kernel exploit escapes the sandbox). Not a VM.
- Read access: /usr and /etc are readable (world-readable files only; the uid
  owns nothing). The fallback mechanism leaves the whole host file system
  readable where permissions allow (e.g. /work): use bwrap.
- CPU: two sandboxes compete for cores like any processes; timing-sensitive
  tests can flake under load (the timeout is wall clock).
- Timing side channels, /proc/meminfo, /proc/cpuinfo, kernel version: visible.
- unsafe_no_sandbox=True: none of the above except rlimits, timeout (for the
  process group only: a program that calls setsid can outlive it), scrubbed
  environment and the temp dir; as root RLIMIT_NPROC does not apply.
- Running as non-root (not exercised by the tests, which need root): bwrap
  then makes a user namespace and the program keeps the caller's uid, so
  RLIMIT_NPROC is raised by the caller's current process count, no by-uid sweep
  is done (the PID namespace still kills the tree), and toolchains under a
  private home (e.g. /root) cannot be bound.
- The unshare fallback needs root, and leaves the host file system readable
  (see above).
"""

from __future__ import annotations

import array
import atexit
import fcntl
import functools
import json
import marshal
import os
import queue
import resource
import secrets
import select
import selectors
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Mapping, Sequence

from codecommons.types import ExecutionResult

__all__ = [
    "INSTALL_HINT",
    "SandboxLimits",
    "SandboxUnavailable",
    "detect_mechanism",
    "run",
    "run_python",
    "sandbox_uid",
    "shutdown",
]

INSTALL_HINT = "apt-get install -y bubblewrap"
UID_BASE = 60000
MAX_WORKERS = 5000  # uids 60000..64999, below nobody (65534)
BWRAP_SCRATCH = "/scratch"
UNSHARE_SCRATCH = "/tmp/scratch"
BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_EXIT_GRACE_S = 0.5  # after the main process exits, wait this long for pipe EOF
_DRAIN_AFTER_KILL_S = 2.0
_TOKEN_TAIL = 4096  # bytes of stdout tail kept to find the completion token
_MiB = 1024 * 1024


class SandboxUnavailable(RuntimeError):
    """No working sandbox mechanism and unsafe_no_sandbox was not given."""


@dataclass(frozen=True)
class SandboxLimits:
    """Per-run limits; see the module docstring for why each default is what it is."""

    timeout_s: float = 10.0
    cpu_s: int = 10
    memory_mb: int = 1024
    # RLIMIT_AS in MiB: None = memory_mb; 0 = no address-space limit (needed by the JVM).
    address_space_mb: int | None = None
    max_procs: int = 64
    file_size_mb: int = 16
    open_files: int = 256
    output_bytes: int = 65536
    disk_mb: int = 64


DEFAULT_LIMITS = SandboxLimits()


def sandbox_uid(worker: int) -> int:
    """The host uid that worker `worker`'s programs run as (when we are root)."""
    if not 0 <= worker < MAX_WORKERS:
        raise ValueError(f"worker must be in [0, {MAX_WORKERS}), got {worker}")
    return UID_BASE + worker


# -- what the sandbox sees ------------------------------------------------------


@dataclass(frozen=True)
class _Toolchains:
    system: tuple[tuple[str, str, str], ...]  # ("bind"|"symlink", src, dest)
    extra_ro: tuple[str, ...]  # host dirs bound read-only at the same path
    path: str
    env: tuple[tuple[str, str], ...]


def _under(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


@functools.lru_cache(maxsize=None)
def _toolchains() -> _Toolchains:
    system: list[tuple[str, str, str]] = []
    for top in ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            system.append(("symlink", os.readlink(top), top))
        elif os.path.isdir(top):
            system.append(("bind", top, top))
    extra: list[str] = []
    env: list[tuple[str, str]] = []
    path_dirs: list[str] = []
    home = os.path.expanduser("~")
    cargo = os.environ.get("CARGO_HOME") or os.path.join(home, ".cargo")
    rustup = os.environ.get("RUSTUP_HOME") or os.path.join(home, ".rustup")
    if os.path.isdir(cargo):
        cargo = os.path.realpath(cargo)
        extra.append(cargo)
        env.append(("CARGO_HOME", cargo))
        if os.path.isdir(os.path.join(cargo, "bin")):
            path_dirs.append(os.path.join(cargo, "bin"))
    if os.path.isdir(rustup):
        rustup = os.path.realpath(rustup)
        extra.append(rustup)
        env.append(("RUSTUP_HOME", rustup))
    # The running Python (pyenv, venv, conda...): its prefixes, read-only.
    for p in {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}:
        p = os.path.realpath(p)
        if not any(_under(p, t) for t in ("/usr", "/etc")) and os.path.isdir(p):
            extra.append(p)
    exe_dir = os.path.dirname(os.path.abspath(sys.executable))
    if exe_dir not in BASE_PATH.split(":"):
        path_dirs.append(exe_dir)
    # Drop nested duplicates (a venv inside a bound prefix, ...).
    extra = sorted(set(extra))
    extra = [p for p in extra if not any(q != p and _under(p, q) for q in extra)]
    return _Toolchains(
        system=tuple(system),
        extra_ro=tuple(extra),
        path=":".join(path_dirs + [BASE_PATH]),
        env=tuple(env),
    )


def _sandbox_env(scratch: str, extra: Mapping[str, str] | None) -> dict[str, str]:
    tc = _toolchains()
    env = {
        "PATH": tc.path,
        "LANG": "C.UTF-8",
        "HOME": scratch,
        "TMPDIR": scratch,
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
    }
    env.update(dict(tc.env))
    if extra:
        env.update(extra)
    return env


def _check_files(files: Mapping[str, str | bytes]) -> list[tuple[str, bytes]]:
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


# -- limits and uid ---------------------------------------------------------------


def _rlimit_pairs(limits: SandboxLimits, nproc_extra: int = 0) -> list[tuple[int, int, int]]:
    """(resource, soft, hard), hard clamped to what we are allowed to set."""
    inf = resource.RLIM_INFINITY
    as_mb = limits.memory_mb if limits.address_space_mb is None else limits.address_space_mb
    wanted = [
        (resource.RLIMIT_CPU, limits.cpu_s, limits.cpu_s + 1),
        (resource.RLIMIT_AS, as_mb * _MiB if as_mb else inf, as_mb * _MiB if as_mb else inf),
        (resource.RLIMIT_DATA, limits.memory_mb * _MiB, limits.memory_mb * _MiB),
        (resource.RLIMIT_NPROC, limits.max_procs + nproc_extra, limits.max_procs + nproc_extra),
        (resource.RLIMIT_FSIZE, limits.file_size_mb * _MiB, limits.file_size_mb * _MiB),
        (resource.RLIMIT_NOFILE, limits.open_files, limits.open_files),
        (resource.RLIMIT_CORE, 0, 0),
    ]
    out = []
    for res, soft, hard in wanted:
        _, cur_hard = resource.getrlimit(res)
        if cur_hard != inf:
            hard = cur_hard if hard == inf else min(hard, cur_hard)
            soft = hard if soft == inf else min(soft, hard)
        out.append((res, soft, hard))
    return out


_PRLIMIT_NAMES = {
    resource.RLIMIT_CPU: "cpu",
    resource.RLIMIT_AS: "as",
    resource.RLIMIT_DATA: "data",
    resource.RLIMIT_NPROC: "nproc",
    resource.RLIMIT_FSIZE: "fsize",
    resource.RLIMIT_NOFILE: "nofile",
    resource.RLIMIT_CORE: "core",
}


def _prlimit_argv(limits: SandboxLimits, nproc_extra: int = 0) -> list[str]:
    def fmt(v: int) -> str:
        return "unlimited" if v == resource.RLIM_INFINITY else str(v)

    argv = ["prlimit"]
    for res, soft, hard in _rlimit_pairs(limits, nproc_extra):
        argv.append(f"--{_PRLIMIT_NAMES[res]}={fmt(soft)}:{fmt(hard)}")
    return argv + ["--"]


# Signals the caller ignores stay ignored across exec (a harness run under nohup
# ignores SIGHUP): coreutils' env resets every disposition, so each program starts
# with a fresh interpreter's signal state whatever launched the harness.
_DEFAULT_SIGNALS = ["env", "--default-signal", "--"]


def _setpriv_argv(uid: int) -> list[str]:
    return [
        "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
        "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--",
    ]


def _is_root() -> bool:
    return os.geteuid() == 0


def _pids_of_uid(uid: int) -> list[int]:
    pids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat(follow_symlinks=False).st_uid == uid:
                    pids.append(int(entry.name))
            except (FileNotFoundError, ProcessLookupError):
                pass
    return pids


def _sweep_uid(uid: int, timeout_s: float = 5.0) -> int:
    """SIGKILL every process of `uid` until none is left; returns how many were seen."""
    seen: set[int] = set()
    deadline = time.monotonic() + timeout_s
    while True:
        pids = _pids_of_uid(uid)
        if not pids:
            return len(seen)
        seen.update(pids)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"processes of sandbox uid {uid} survive SIGKILL: {pids}")
        time.sleep(0.01)


_slot_guard = threading.Lock()
_slot_locks: dict[int, threading.Lock] = {}


def _slot_lock(uid: int) -> threading.Lock:
    with _slot_guard:
        return _slot_locks.setdefault(uid, threading.Lock())


@contextmanager
def _worker_slot(uid: int, sweep: bool = True) -> Iterator[None]:
    """One run at a time per sandbox uid, across threads and processes. `sweep`:
    kill what is left of the uid first (the fork server sweeps its own sandbox)."""
    with _slot_lock(uid):
        path = os.path.join(tempfile.gettempdir(), f"codecommons-sandbox-{uid}.lock")
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if sweep and _is_root():
                _sweep_uid(uid)  # leftovers of a harness that died mid-run
            yield
        finally:
            os.close(fd)


# -- building the command line per mechanism ---------------------------------------


@dataclass
class _Launch:
    argv: list[str]
    env: dict[str, str] | None
    cwd: str | None
    pass_fds: list[int]
    scratch: str
    staging: str | None = None  # host temp dir to remove afterwards


def _memfd(name: str, data: bytes) -> int:
    fd = os.memfd_create("cc-" + os.path.basename(name)[:200])
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _bwrap_sandbox_args(files, disk_mb, env_extra, ro_binds) -> tuple[list[str], list[int]]:
    """bwrap's argv up to the capabilities and the command, and the memfds of `files`."""
    tc = _toolchains()
    size = str(disk_mb * _MiB)
    a = [shutil.which("bwrap") or "bwrap",
         "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
         "--unshare-cgroup-try", "--hostname", "sandbox", "--die-with-parent", "--new-session"]
    for kind, src, dest in tc.system:
        a += ["--symlink", src, dest] if kind == "symlink" else ["--ro-bind", src, dest]
    made: set[str] = {"/"}
    for p in list(tc.extra_ro) + [os.path.realpath(p) for p in ro_binds]:
        if any(_under(p, t) for kind, _, t in tc.system if kind == "bind"):
            continue
        # Parent dirs created world-traversable (bwrap would copy /root's 0700).
        parents = []
        d = os.path.dirname(p)
        while d not in made:
            parents.append(d)
            d = os.path.dirname(d)
        for d in reversed(parents):
            a += ["--perms", "0755", "--dir", d]
            made.add(d)
        a += ["--ro-bind", p, p]
        made.add(p)
    a += ["--proc", "/proc", "--dev", "/dev",
          "--perms", "1777", "--size", size, "--tmpfs", "/dev/shm",
          "--perms", "1777", "--size", size, "--tmpfs", "/tmp",
          "--perms", "0777", "--size", size, "--tmpfs", BWRAP_SCRATCH]
    for d in _parent_dirs([n for n, _ in files]):
        a += ["--perms", "0777", "--dir", f"{BWRAP_SCRATCH}/{d}"]
    fds = []
    for name, data in files:
        fd = _memfd(name, data)
        fds.append(fd)
        a += ["--perms", "0666", "--file", str(fd), f"{BWRAP_SCRATCH}/{name}"]
    a += ["--chdir", BWRAP_SCRATCH, "--clearenv"]
    for k, v in _sandbox_env(BWRAP_SCRATCH, env_extra).items():
        a += ["--setenv", k, v]
    return a, fds


def _bwrap_launch(cmd, files, limits, uid, env_extra, ro_binds, status_w) -> _Launch:
    a, fds = _bwrap_sandbox_args(files, limits.disk_mb, env_extra, ro_binds)
    a += ["--json-status-fd", str(status_w)]
    if _is_root():
        a += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
              "--cap-add", "CAP_SETPCAP", "--"]
        a += _prlimit_argv(limits) + _setpriv_argv(uid)
    else:
        a += ["--"] + _prlimit_argv(limits, nproc_extra=len(_pids_of_uid(os.getuid())))
    a += _DEFAULT_SIGNALS + list(cmd)
    return _Launch(argv=a, env={}, cwd="/", pass_fds=fds + [status_w],
                   scratch=BWRAP_SCRATCH)


_UNSHARE_SCRIPT = r"""
set -e
size="$1"; staging="$2"; shift 2
# cwd keeps a handle on the host staging dir after /tmp is covered below
cd "$staging"
mount -t tmpfs -o "size=$size,mode=1777,nosuid,nodev" tmpfs /tmp
mkdir -m 0777 /tmp/scratch
cp -R in/. /tmp/scratch/
chmod -R a+rwX /tmp/scratch
for d in /var/tmp /dev/shm /run/lock; do
  if [ -d "$d" ]; then mount -t tmpfs -o "size=$size,mode=1777,nosuid,nodev" tmpfs "$d"; fi
done
%(hide_home)s
: > ready
cd /tmp/scratch
# Not exec: this root shell stays the namespace's init (pid 1), so the program
# gets normal signal semantics (SIGXCPU kills it) and its exit ends the namespace.
"$@"
"""


def _unshare_launch(cmd, files, limits, uid, env_extra, ro_binds) -> _Launch:
    tc = _toolchains()
    staging = tempfile.mkdtemp(prefix="codecommons-sandbox-")
    os.makedirs(os.path.join(staging, "in"))
    for name, data in files:
        path = os.path.join(staging, "in", name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    # Hide the harness user's home (root's /root) behind a tmpfs, re-binding
    # the toolchains that live there read-only at the same path.
    home = os.path.realpath(os.path.expanduser("~"))
    under_home = [p for p in list(tc.extra_ro) + [os.path.realpath(p) for p in ro_binds]
                  if _under(p, home) and p != home]
    hide = ""
    if home not in ("/", "") and os.path.isdir(home):
        q = shlex.quote
        lines = ["mkdir /tmp/.cc-home", f"mount --rbind {q(home)} /tmp/.cc-home",
                 f"mount -t tmpfs -o size=1m,mode=0755,nosuid,nodev tmpfs {q(home)}"]
        for p in under_home:
            rel = os.path.relpath(p, home)
            lines += [f"mkdir -p {q(p)}",
                      f"mount --rbind -o ro {q('/tmp/.cc-home/' + rel)} {q(p)}",
                      f"mount -o remount,bind,ro {q(p)}"]
        lines += ["umount -l /tmp/.cc-home", "rmdir /tmp/.cc-home"]
        hide = "\n".join(lines)
    script = _UNSHARE_SCRIPT % {"hide_home": hide}
    env = _sandbox_env(UNSHARE_SCRATCH, env_extra)
    # setpriv --pdeathsig: unshare dies with the harness, and --kill-child takes
    # the namespace's init (and so the namespace) with it.
    a = ["setpriv", "--pdeathsig=KILL", "--",
         "unshare", "--net", "--pid", "--ipc", "--uts", "--mount", "--propagation", "private",
         "--fork", "--kill-child", "--mount-proc", "--",
         "sh", "-c", script, "sh", str(limits.disk_mb * _MiB), staging]
    a += _prlimit_argv(limits) + _setpriv_argv(uid) + _DEFAULT_SIGNALS + list(cmd)
    return _Launch(argv=a, env=env, cwd="/", pass_fds=[],
                   scratch=UNSHARE_SCRATCH, staging=staging)


def _unsafe_launch(cmd, files, limits, env_extra) -> _Launch:
    staging = tempfile.mkdtemp(prefix="codecommons-unsafe-")
    for name, data in files:
        path = os.path.join(staging, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    env = _sandbox_env(staging, env_extra)
    argv = (_prlimit_argv(limits) if shutil.which("prlimit") else []) + _DEFAULT_SIGNALS + list(cmd)
    return _Launch(argv=argv, env=env, cwd=staging, pass_fds=[],
                   scratch=staging, staging=staging)


# -- running and collecting output ------------------------------------------------------


class _Head:
    """Keeps the first `cap` bytes and the last _TOKEN_TAIL bytes."""

    def __init__(self, cap: int):
        self.cap, self.buf, self.tail, self.total = cap, bytearray(), bytearray(), 0

    def feed(self, b: bytes) -> None:
        self.total += len(b)
        if len(self.buf) < self.cap:
            self.buf += b[: self.cap - len(self.buf)]
        self.tail += b
        if len(self.tail) > 2 * _TOKEN_TAIL:
            del self.tail[:-_TOKEN_TAIL]


class _Tail:
    """Keeps the last `cap` bytes."""

    def __init__(self, cap: int):
        self.cap, self.buf, self.total = cap, bytearray(), 0

    def feed(self, b: bytes) -> None:
        self.total += len(b)
        self.buf += b
        if len(self.buf) > 2 * self.cap:
            del self.buf[: -self.cap]

    def value(self) -> bytes:
        return bytes(self.buf[-self.cap:]) if self.cap else b""


@dataclass
class _Raw:
    returncode: int | None
    out: _Head
    err: _Tail
    timed_out: bool
    duration_s: float
    status_text: str


class _SpawnError(Exception):
    pass


def _read_all_nonblocking(fd: int) -> bytes:
    os.set_blocking(fd, False)
    chunks = []
    while True:
        try:
            b = os.read(fd, 65536)
        except BlockingIOError:
            break
        if not b:
            break
        chunks.append(b)
    return b"".join(chunks)


def _pump(sel, fd: int, sinks: dict) -> bool:
    """Move one read's worth from a program's pipe into its sink; at EOF stop
    watching the pipe and return False."""
    chunk = os.read(fd, 65536)
    if chunk:
        sinks[fd].feed(chunk)
        return True
    sel.unregister(fd)
    return False


def _execute(launch: _Launch, limits: SandboxLimits, status_r: int | None) -> _Raw:
    out, err = _Head(limits.output_bytes), _Tail(limits.output_bytes)
    start = time.monotonic()
    deadline = start + limits.timeout_s
    try:
        proc = subprocess.Popen(
            launch.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=launch.env, cwd=launch.cwd, pass_fds=launch.pass_fds,
            start_new_session=True, close_fds=True,
        )
    except OSError as e:
        raise _SpawnError(f"could not start {launch.argv[0]}: {e}") from e
    for fd in launch.pass_fds:
        os.close(fd)
    launch.pass_fds = []
    timed_out = False
    sel = selectors.DefaultSelector()
    pidfd = os.pidfd_open(proc.pid)
    try:
        sinks = {proc.stdout.fileno(): out, proc.stderr.fileno(): err}
        for fd in sinks:
            sel.register(fd, selectors.EVENT_READ)
        sel.register(pidfd, selectors.EVENT_READ)
        open_pipes = len(sinks)
        exited_at: float | None = None
        while True:
            now = time.monotonic()
            if exited_at is not None and (open_pipes == 0 or now - exited_at >= _EXIT_GRACE_S):
                break
            if now >= deadline:
                timed_out = exited_at is None
                break
            wait = deadline - now
            if exited_at is not None:
                wait = min(wait, exited_at + _EXIT_GRACE_S - now)
            for key, _ in sel.select(wait):
                if key.fd == pidfd:
                    exited_at = time.monotonic()
                    sel.unregister(pidfd)
                    continue
                if not _pump(sel, key.fd, sinks):
                    open_pipes -= 1
        # Kill what is left of the process group before reaping (so the pid,
        # which is the group id, cannot have been reused). For bwrap/unshare
        # this kills the namespace's init, and with it the whole namespace.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        if pidfd in sel.get_map():
            sel.unregister(pidfd)
        # Drain what is still buffered; the namespace dies within moments.
        drain_deadline = time.monotonic() + _DRAIN_AFTER_KILL_S
        while sel.get_map() and time.monotonic() < drain_deadline:
            for key, _ in sel.select(max(0.0, drain_deadline - time.monotonic())):
                _pump(sel, key.fd, sinks)
    finally:
        sel.close()
        os.close(pidfd)
        proc.stdout.close()
        proc.stderr.close()
        if proc.returncode is None:
            proc.kill()
            proc.wait()
    status_text = ""
    if status_r is not None:
        status_text = _read_all_nonblocking(status_r).decode("utf-8", "replace")
    return _Raw(
        returncode=proc.returncode, out=out, err=err, timed_out=timed_out,
        duration_s=time.monotonic() - start, status_text=status_text,
    )


def _program_exit(raw: _Raw, mechanism: str) -> tuple[bool, int | None]:
    """(the program started, its exit code as the mechanism reports it)."""
    if mechanism == "bwrap":
        code = None
        for line in raw.status_text.splitlines():
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if "exit-code" in doc:
                code = int(doc["exit-code"])
        return code is not None, code
    if mechanism == "forkserver":
        return raw.status_text == "started", raw.returncode
    if mechanism == "unshare":
        started = "ready" in raw.status_text
        rc = raw.returncode
        if rc is not None and rc < 0:  # unshare re-raises the child's signal
            rc = 128 - rc
        return started, rc
    return True, raw.returncode


def _classify(raw: _Raw, mechanism: str) -> ExecutionResult:
    stdout = bytes(raw.out.buf).decode("utf-8", "replace")
    stderr = raw.err.value().decode("utf-8", "replace")
    truncated = raw.out.total > raw.out.cap or raw.err.total > raw.err.cap
    if raw.timed_out:
        return ExecutionResult("timeout", None, stdout, stderr, raw.duration_s, truncated,
                               "wall-clock timeout: the process tree was killed")
    started, rc = _program_exit(raw, mechanism)
    if not started:
        return ExecutionResult("error", raw.returncode, stdout, stderr, raw.duration_s, truncated,
                               f"the {mechanism} sandbox failed to start the program")
    xcpu = int(signal.SIGXCPU)
    if rc in (128 + xcpu, -xcpu):
        return ExecutionResult("timeout", rc, stdout, stderr, raw.duration_s, truncated,
                               "CPU time limit (RLIMIT_CPU)")
    if rc == 0:
        return ExecutionResult("passed", 0, stdout, stderr, raw.duration_s, truncated, "")
    return ExecutionResult("failed", rc, stdout, stderr, raw.duration_s, truncated,
                           f"exit code {rc}")


_SECRET_FD = object()  # placeholder in cmd for the fd number of the secret pipe


def _run(cmd, files, limits, worker, unsafe_no_sandbox, env, ro_binds, mechanism,
         secret: bytes | None) -> tuple[ExecutionResult, _Raw | None]:
    checked = _check_files(files or {})
    uid = sandbox_uid(worker)
    if mechanism is None:
        mechanism = detect_mechanism()
    if mechanism is None:
        if not unsafe_no_sandbox:
            raise SandboxUnavailable(_unavailable_message())
        mechanism = "unsafe"
    elif mechanism not in ("bwrap", "unshare", "unsafe"):
        raise ValueError(f"unknown sandbox mechanism {mechanism!r}")

    secret_r = None
    if secret is not None:
        secret_r, secret_w = os.pipe()
        os.write(secret_w, secret)
        os.close(secret_w)
    argv_cmd = [str(secret_r) if c is _SECRET_FD else c for c in cmd]
    status_r = status_w = None
    launch = None
    try:
        with _worker_slot(uid):
            if mechanism == "bwrap":
                status_r, status_w = os.pipe()
                launch = _bwrap_launch(argv_cmd, checked, limits, uid, env, ro_binds, status_w)
                status_w = None  # now owned by launch.pass_fds
            elif mechanism == "unshare":
                launch = _unshare_launch(argv_cmd, checked, limits, uid, env, ro_binds)
            else:
                launch = _unsafe_launch(argv_cmd, checked, limits, env)
            if secret_r is not None:
                launch.pass_fds.append(secret_r)
                secret_r = None
            try:
                raw = _execute(launch, limits, status_r)
                if mechanism == "unshare":
                    ready = os.path.exists(os.path.join(launch.staging, "ready"))
                    raw.status_text = "ready" if ready else ""
            except _SpawnError as e:
                return ExecutionResult("error", None, "", "", 0.0, False, str(e)), None
            finally:
                for fd in launch.pass_fds:
                    os.close(fd)
                if mechanism in ("bwrap", "unshare") and _is_root():
                    _sweep_uid(uid)
        return _classify(raw, mechanism), raw
    finally:
        for fd in (secret_r, status_r, status_w):
            if fd is not None:
                os.close(fd)
        if launch is not None and launch.staging:
            shutil.rmtree(launch.staging, ignore_errors=True)


def run(
    cmd: Sequence[str],
    files: Mapping[str, str | bytes] | None = None,
    limits: SandboxLimits = DEFAULT_LIMITS,
    worker: int = 0,
    unsafe_no_sandbox: bool = False,
    *,
    env: Mapping[str, str] | None = None,
    ro_binds: Sequence[str] = (),
    mechanism: str | None = None,
) -> ExecutionResult:
    """Run `cmd` (argv; cwd = a fresh scratch folder holding `files`) in the sandbox.

    `files` maps relative paths to contents. `worker` picks the sandbox uid
    (60000 + worker): give each concurrent caller its own. `env` adds
    variables to the scrubbed environment; `ro_binds` adds host directories,
    read-only at the same path (e.g. a Node install under /opt). `mechanism`
    forces "bwrap", "unshare" or "unsafe" (tests); by default the detected one.
    Raises SandboxUnavailable when there is no working sandbox and
    `unsafe_no_sandbox` is false.
    """
    result, _ = _run(list(cmd), files, limits, worker, unsafe_no_sandbox, env, ro_binds,
                     mechanism, None)
    return result


# The wrapper run as `python -c WRAPPER FD PROGRAM`. It reads the completion
# token from the inherited pipe FD and closes it, runs PROGRAM as __main__, and
# writes the token as the last line of stdout only if PROGRAM's last line returned.
_PY_WRAPPER = r"""
import os, sys, types
def _cc_run(fd, path):
    f = os.fdopen(int(fd), "rb")
    token = f.read().strip()
    f.close()
    with open(path, "rb") as f:
        code = compile(f.read(), path, "exec", dont_inherit=True)
    mod = types.ModuleType("__main__")
    mod.__file__ = path
    mod.__builtins__ = __builtins__
    sys.modules["__main__"] = mod
    sys.argv[:] = [path]
    exec(code, mod.__dict__)
    for s in (sys.stdout, sys.__stdout__):
        try:
            s.flush()
        except Exception:
            pass
    os.write(1, b"\n" + token + b"\n")
_cc_run(sys.argv[1], sys.argv[2])
"""

PROGRAM_FILE = "program.py"


def run_python(
    program: str,
    limits: SandboxLimits = DEFAULT_LIMITS,
    worker: int = 0,
    unsafe_no_sandbox: bool = False,
    *,
    files: Mapping[str, str | bytes] | None = None,
    python: str | None = None,
    env: Mapping[str, str] | None = None,
    mechanism: str | None = None,
    fresh_interpreter: bool = False,
) -> ExecutionResult:
    """Run a Python program (e.g. completion + tests) and pass it only if it exited 0
    AND provably ran to its last line (the per-run token is the last stdout line).

    The program is the file program.py in the scratch folder; `files` adds
    others. `python` is the interpreter (default: the one running the harness).
    With bubblewrap as root and the harness's own interpreter, the program runs
    in a fork of the worker's fork server (see "Fork server" in the module
    docstring); `fresh_interpreter=True` runs it in a new sandbox and a new
    interpreter instead (~40 ms more per program).
    """
    token = secrets.token_hex(16)
    all_files = dict(files or {})
    all_files[PROGRAM_FILE] = program
    mech = mechanism if mechanism is not None else detect_mechanism()
    if not fresh_interpreter and mech == "bwrap" and _is_root() and _is_own_python(python):
        result, raw = _run_forkserver(all_files, limits, worker, env, token.encode())
    else:
        cmd = [python or sys.executable, "-c", _PY_WRAPPER, _SECRET_FD, PROGRAM_FILE]
        result, raw = _run(cmd, all_files, limits, worker, unsafe_no_sandbox, env, (),
                           mechanism, token.encode())
    if raw is None:
        return result
    marker = "\n" + token + "\n"
    tail = bytes(raw.out.tail).decode("utf-8", "replace")
    completed = tail.endswith(marker)
    stdout = result.stdout
    if completed and stdout.endswith(marker):
        stdout = stdout[: -len(marker)]
    stdout = stdout.replace(token, "<token>")  # never hand the token on
    result.stdout = stdout
    if result.status == "passed" and not completed:
        result.status = "failed"
        result.detail = ("exit code 0 but the program did not run to its end "
                         "(no completion token: sys.exit, os._exit, quit or similar)")
    return result


def _is_own_python(python: str | None) -> bool:
    if python is None:
        return True
    found = shutil.which(python)
    return found is not None and os.path.realpath(found) == os.path.realpath(sys.executable)


# -- the fork server (run_python's fast path) ------------------------------------------

# Reply kinds of forkserver.py.
_Z_READY, _Z_EXITED, _Z_SIGNALED, _Z_TIMEOUT = 0, 1, 2, 3
_Z_REPLY = struct.Struct("<iiii")
_ZYGOTE_CAPS = ("CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP", "CAP_KILL")
_ZYGOTE_START_S = 20.0  # for the sandbox and interpreter to start and say "ready"
_ZYGOTE_MARGIN_S = 5.0  # beyond timeout_s for its answer, else it is killed
_ZYGOTE_CLOSE_S = 2.0
ZYGOTE_MARKER = "codecommons-forkserver"  # the first line of its program (its argv)


@functools.lru_cache(maxsize=None)
def _zygote_source() -> str:
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "forkserver.py")
    with open(path, encoding="utf-8") as f:
        return f.read()


class _ZygoteGone(Exception):
    """The fork server was not there to take a request (the program did not run)."""


class _Keeper:
    """Starts the fork servers from one thread that lives as long as the process:
    bwrap's --die-with-parent (PR_SET_PDEATHSIG) fires when the *thread* that
    started it ends, and execute()'s worker threads end with every call."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def call(self, fn):
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, daemon=True,
                                                name="codecommons-sandbox-keeper")
                self._thread.start()
        fut: Future = Future()
        self._queue.put((fn, fut))
        return fut.result()

    def _loop(self) -> None:
        while True:
            fn, fut = self._queue.get()
            try:
                fut.set_result(fn())
            except BaseException as e:  # noqa: BLE001 - handed to the caller
                fut.set_exception(e)


_keeper = _Keeper()


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


class _Zygote:
    """The harness's handle on one fork server: bwrap (as root, same sandbox as a
    one-shot run) running forkserver.py, and the unix socket to it."""

    def __init__(self, uid: int, key: tuple, disk_mb: int, env: Mapping[str, str] | None):
        self.uid, self.key, self.runs, self.owner = uid, key, 0, os.getpid()
        self.err = tempfile.TemporaryFile()  # its own stderr, for startup errors
        self.sock, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        a, _ = _bwrap_sandbox_args([], disk_mb, env, ())
        for cap in _ZYGOTE_CAPS:
            a += ["--cap-add", cap]
        a += ["--", sys.executable, "-c", _zygote_source(), str(child.fileno()), str(uid),
              BWRAP_SCRATCH]
        try:
            self.proc = _keeper.call(lambda: subprocess.Popen(
                a, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.err,
                env={}, cwd="/", pass_fds=[child.fileno()], start_new_session=True,
                close_fds=True))
        except OSError as e:
            self.sock.close()
            self.err.close()
            raise _SpawnError(f"could not start the fork server (bwrap): {e}") from e
        finally:
            child.close()
        reply = self._startup_reply()
        if reply is None or reply[0] != _Z_READY:
            why = self.stderr_tail()
            self.close(kill=True)
            raise _SpawnError(f"the fork server did not start: {why or 'no answer'}")
        self.sock.settimeout(_ZYGOTE_MARGIN_S)  # for sending; replies are select()ed

    def _startup_reply(self) -> tuple[int, ...] | None:
        buf = b""
        deadline = time.monotonic() + _ZYGOTE_START_S
        while len(buf) < _Z_REPLY.size:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.sock], [], [], left)[0]:
                return None
            b = self.sock.recv(_Z_REPLY.size - len(buf))
            if not b:
                return None
            buf += b
        return _Z_REPLY.unpack(buf)

    def stderr_tail(self) -> str:
        try:
            self.err.seek(0)
            return self.err.read()[-2000:].decode("utf-8", "replace").strip()
        except (OSError, ValueError):
            return ""

    def alive(self) -> bool:
        return self.proc.poll() is None and self.owner == os.getpid()

    def run(self, program: bytes, files: list[tuple[str, bytes]], limits: SandboxLimits,
            token: bytes) -> tuple[_Raw, str | None]:
        """Run one program. Returns the raw result and, when the fork server failed
        (it is then killed), why: "died" or "no answer"; or "dirty" when it asked to
        be replaced (something of the program could not be cleaned up)."""
        rlimits = [tuple(p) for p in _rlimit_pairs(limits)]
        rlimits.append((resource.RLIMIT_MSGQUEUE, 0, 0))  # no POSIX queues: they would outlive it
        payload = marshal.dumps((token, program, files, rlimits, float(limits.timeout_s)))
        out, err = _Head(limits.output_bytes), _Tail(limits.output_bytes)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            start = time.monotonic()
            try:
                self.sock.sendmsg([len(payload).to_bytes(8, "little")],
                                  [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                    array.array("i", [out_w, err_w]))])
                self.sock.sendall(payload)
            except OSError as e:  # dead, or too stuck to take it (timeout)
                raise _ZygoteGone(str(e)) from e
            finally:
                os.close(out_w)
                os.close(err_w)
            self.runs += 1
            _forkserver_runs[self.uid] = _forkserver_runs.get(self.uid, 0) + 1
            reply, problem, end = self._collect(out_r, err_r, out, err,
                                                start + limits.timeout_s + _ZYGOTE_MARGIN_S)
        finally:
            os.close(out_r)
            os.close(err_r)
        rc, timed_out, status_text = None, problem == "no answer", ""
        if reply is not None:
            kind, value, started, dirty = reply
            if kind == _Z_EXITED:
                rc = value
            elif kind == _Z_SIGNALED:
                rc = 128 + value  # as bwrap reports it for a one-shot run
            timed_out = kind == _Z_TIMEOUT
            status_text = "started" if started else ""
            if dirty:
                problem = "dirty"
        raw = _Raw(returncode=rc, out=out, err=err, timed_out=timed_out,
                   duration_s=end - start, status_text=status_text)
        return raw, problem

    def _collect(self, out_r: int, err_r: int, out: _Head, err: _Tail, deadline: float):
        """Read the program's output and the fork server's reply until both pipes are
        closed after the reply, or the deadline (then kill the fork server)."""
        sel = selectors.DefaultSelector()
        sinks = {out_r: out, err_r: err}
        buf, reply, problem, ended = b"", None, None, None
        try:
            for fd in sinks:
                sel.register(fd, selectors.EVENT_READ)
            sel.register(self.sock, selectors.EVENT_READ)
            while True:
                now = time.monotonic()
                if ended is not None and (not sel.get_map() or now >= ended + _EXIT_GRACE_S):
                    break
                if ended is None and now >= deadline:
                    problem, ended = "no answer", now
                    sel.unregister(self.sock)
                    self.close(kill=True)
                    continue
                wait = deadline - now if ended is None else ended + _EXIT_GRACE_S - now
                for key, _ in sel.select(max(wait, 0.0)):
                    if key.fileobj is self.sock:
                        b = self.sock.recv(_Z_REPLY.size - len(buf))
                        if b:
                            buf += b
                        if len(buf) == _Z_REPLY.size:
                            reply, ended = _Z_REPLY.unpack(buf), time.monotonic()
                            sel.unregister(self.sock)
                        elif not b:  # EOF before the answer: it died
                            problem, ended = "died", time.monotonic()
                            sel.unregister(self.sock)
                            self.close(kill=True)
                        continue
                    _pump(sel, key.fd, sinks)
        finally:
            sel.close()
        return reply, problem, (ended if ended is not None else time.monotonic())

    def close(self, kill: bool = False) -> None:
        """Stop it: close the socket (it exits), or SIGKILL the sandbox; either way
        wait until every process of its sandbox is gone."""
        if self.owner != os.getpid():  # inherited through fork(): not ours to stop
            self.sock.close()
            return
        if not kill and self.proc.poll() is None:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                self.proc.wait(timeout=_ZYGOTE_CLOSE_S)
            except subprocess.TimeoutExpired:
                kill = True
        if self.proc.poll() is None:
            # bwrap's child is the namespace's init: when it dies, the kernel kills
            # every process of the namespace before its exit completes.
            inits = []
            for pid in _children(self.proc.pid):
                try:
                    inits.append(os.pidfd_open(pid))
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            self.proc.wait()
            for fd in inits:
                select.select([fd], [], [], _DRAIN_AFTER_KILL_S)
                os.close(fd)
        self.sock.close()
        self.err.close()


_zygotes: dict[int, _Zygote] = {}  # by sandbox uid; used under that uid's slot lock
_forkserver_runs: dict[int, int] = {}  # programs handed to a fork server, by uid (tests)


def _drop_zygote(uid: int, kill: bool = False) -> None:
    """Stop uid's fork server and sweep the uid (call under the uid's worker slot)."""
    zy = _zygotes.pop(uid, None)
    if zy is not None:
        zy.close(kill=kill)
    if _is_root():
        _sweep_uid(uid)


def _run_forkserver(files, limits, worker, env, token) -> tuple[ExecutionResult, _Raw | None]:
    checked = _check_files(files)
    program = dict(checked)[PROGRAM_FILE]
    uid = sandbox_uid(worker)
    key = (limits.disk_mb, tuple(sorted((env or {}).items())))
    with _worker_slot(uid, sweep=False):
        for _attempt in range(2):
            zy = _zygotes.get(uid)
            if zy is not None and (zy.key != key or not zy.alive()):
                _drop_zygote(uid)
                zy = None
            if zy is None:
                if _is_root():
                    _sweep_uid(uid)
                try:
                    zy = _Zygote(uid, key, limits.disk_mb, env)
                except _SpawnError as e:
                    return ExecutionResult("error", None, "", "", 0.0, False, str(e)), None
                _zygotes[uid] = zy
            try:
                raw, problem = zy.run(program, checked, limits, token)
            except _ZygoteGone:  # it died between programs: start a new one, once
                _drop_zygote(uid, kill=True)
                continue
            if problem is not None:
                _drop_zygote(uid, kill=problem != "dirty")
            result = _classify(raw, "forkserver")
            if problem in ("died", "no answer"):
                died = problem == "died"
                result.status = "failed" if died else "timeout"
                result.returncode = None
                result.detail = (f"the fork server {'died' if died else 'did not answer'} while "
                                 "running the program; it was killed and is restarted")
            return result, raw
    return ExecutionResult("error", None, "", "", 0.0, False,
                           "the fork server died twice before taking the program"), None


def shutdown() -> None:
    """Stop every fork server of this process (also run at exit). Waits for a run in
    flight (up to 30 s) and returns when none of their processes is left."""
    for uid in list(_zygotes):
        lock = _slot_lock(uid)
        got = lock.acquire(timeout=30)
        try:
            zy = _zygotes.pop(uid, None)
            if zy is not None:
                zy.close(kill=not got)
        finally:
            if got:
                lock.release()


def _forget_zygotes_after_fork() -> None:
    """In a forked child of the harness (multiprocessing): the fork servers are the
    parent's; close our copies of the sockets (without shutting them down)."""
    for zy in list(_zygotes.values()):
        zy.owner = -1
        try:
            zy.sock.close()
        except OSError:
            pass
    _zygotes.clear()


atexit.register(shutdown)
os.register_at_fork(after_in_child=_forget_zygotes_after_fork)


# -- detection ---------------------------------------------------------------------------

_detect_notes: list[str] = []


def _probe(mechanism: str) -> str | None:
    """None if `mechanism` runs a trivial command, else why not."""
    if mechanism == "bwrap" and not shutil.which("bwrap"):
        return f"bwrap not found (install it: {INSTALL_HINT})"
    if mechanism == "unshare":
        if not _is_root():
            return "the unshare fallback needs root"
        missing = [t for t in ("unshare", "setpriv", "prlimit", "mount") if not shutil.which(t)]
        if missing:
            return f"missing {', '.join(missing)} (util-linux, mount)"
    if mechanism == "bwrap" and _is_root():
        missing = [t for t in ("setpriv", "prlimit") if not shutil.which(t)]
        if missing:
            return f"missing {', '.join(missing)} (util-linux)"
    try:
        res, _ = _run(["true"], {}, SandboxLimits(timeout_s=20), 0, False, None, (),
                      mechanism, None)
    except Exception as e:  # noqa: BLE001 - report any failure as "does not work"
        return f"{type(e).__name__}: {e}"
    if res.status != "passed":
        return f"{res.status}: {res.detail}; {res.stderr_tail.strip()[-500:]}"
    return None


@functools.lru_cache(maxsize=None)
def detect_mechanism() -> str | None:
    """Return "bwrap", "unshare" or None; decided once per process by running `true`."""
    _detect_notes.clear()
    for mech in ("bwrap", "unshare"):
        why = _probe(mech)
        if why is None:
            return mech
        _detect_notes.append(f"{mech}: {why}")
    return None


def _unavailable_message() -> str:
    notes = "; ".join(_detect_notes) or "detection did not run"
    return (
        "No working sandbox for untrusted code: install bubblewrap "
        f"(`{INSTALL_HINT}`), or run as root with util-linux unshare/setpriv. "
        f"Details: {notes}. To run model output WITHOUT isolation anyway pass "
        "unsafe_no_sandbox=True (CLI: --unsafe-no-sandbox)."
    )
