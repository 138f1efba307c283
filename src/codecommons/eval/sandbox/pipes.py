"""A launched program's output: drained to the end, capped, and the process (tree)
waited for with the wall-clock timeout.

stdout and stderr are read as they come (so the program never blocks on a full
pipe), but only the first `output_bytes` of stdout, the last `output_bytes` of
stderr and the last _TOKEN_TAIL bytes of stdout (where run_python's completion
token must be) are kept.
"""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field

from codecommons.eval.sandbox.limits import SandboxLimits

EXIT_GRACE_S = 0.5  # after the main process exits, wait this long for pipe EOF
DRAIN_AFTER_KILL_S = 2.0
_TOKEN_TAIL = 4096  # bytes of stdout tail kept to find the completion token


class Head:
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


class Tail:
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
class Raw:
    """What came back from one run, before it is classified (result.py)."""

    returncode: int | None  # of the process we started (bwrap, the program, ...)
    out: Head
    err: Tail
    timed_out: bool
    duration_s: float
    status_text: str  # the mechanism's own report (bwrap --json-status-fd, ...)


class SpawnError(Exception):
    """The sandbox process could not be started at all."""


@dataclass
class Launch:
    """A command line ready to start, and what to clean up after it."""

    argv: list[str]
    env: dict[str, str] | None
    cwd: str | None
    pass_fds: list[int] = field(default_factory=list)  # handed to the child, then closed
    status_r: int | None = None  # read end of the mechanism's status pipe
    staging: str | None = None  # host temp dir to remove afterwards

    def close(self) -> None:
        for fd in self.pass_fds:
            os.close(fd)
        self.pass_fds = []
        if self.status_r is not None:
            os.close(self.status_r)
            self.status_r = None
        if self.staging:
            shutil.rmtree(self.staging, ignore_errors=True)
            self.staging = None


def read_all_nonblocking(fd: int) -> bytes:
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


def pump(sel, fd: int, sinks: dict) -> bool:
    """Move one read's worth from a program's pipe into its sink; at EOF stop
    watching the pipe and return False."""
    chunk = os.read(fd, 65536)
    if chunk:
        sinks[fd].feed(chunk)
        return True
    sel.unregister(fd)
    return False


def execute(launch: Launch, limits: SandboxLimits) -> Raw:
    """Start `launch`, collect its output until it ends or the timeout, then kill
    what is left of its process group (for bwrap: the namespace's init, and with
    it the whole namespace)."""
    out, err = Head(limits.output_bytes), Tail(limits.output_bytes)
    start = time.monotonic()
    deadline = start + limits.timeout_s
    try:
        proc = subprocess.Popen(
            launch.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=launch.env, cwd=launch.cwd, pass_fds=launch.pass_fds,
            start_new_session=True, close_fds=True,
        )
    except OSError as e:
        raise SpawnError(f"could not start {launch.argv[0]}: {e}") from e
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
            if exited_at is not None and (open_pipes == 0 or now - exited_at >= EXIT_GRACE_S):
                break
            if now >= deadline:
                timed_out = exited_at is None
                break
            wait = deadline - now
            if exited_at is not None:
                wait = min(wait, exited_at + EXIT_GRACE_S - now)
            for key, _ in sel.select(wait):
                if key.fd == pidfd:
                    exited_at = time.monotonic()
                    sel.unregister(pidfd)
                    continue
                if not pump(sel, key.fd, sinks):
                    open_pipes -= 1
        # Kill what is left of the process group before reaping (so the pid,
        # which is the group id, cannot have been reused).
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        if pidfd in sel.get_map():
            sel.unregister(pidfd)
        # Drain what is still buffered; the namespace dies within moments.
        drain_deadline = time.monotonic() + DRAIN_AFTER_KILL_S
        while sel.get_map() and time.monotonic() < drain_deadline:
            for key, _ in sel.select(max(0.0, drain_deadline - time.monotonic())):
                pump(sel, key.fd, sinks)
    finally:
        sel.close()
        os.close(pidfd)
        proc.stdout.close()
        proc.stderr.close()
        if proc.returncode is None:
            proc.kill()
            proc.wait()
    status_text = ""
    if launch.status_r is not None:
        status_text = read_all_nonblocking(launch.status_r).decode("utf-8", "replace")
    return Raw(returncode=proc.returncode, out=out, err=err, timed_out=timed_out,
               duration_s=time.monotonic() - start, status_text=status_text)
