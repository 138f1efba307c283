"""The unprivileged uid each worker's programs run as, one run at a time per uid,
and sweeping what a uid left behind.

The harness runs as root, and the kernel does not enforce RLIMIT_NPROC for root,
so a fork bomb is only bounded if the program runs as another user. Each
concurrent worker gets its own uid, 60000 + worker: RLIMIT_NPROC then counts
exactly that worker's processes, and leftovers can be swept by uid after each
run. A lock per uid (in-process, and a flock across processes when we are root)
serialises two runs that were given the same worker index.
"""

from __future__ import annotations

import fcntl
import os
import signal
import tempfile
import threading
import time
from contextlib import contextmanager
from typing import Iterator

UID_BASE = 60000
MAX_WORKERS = 5000  # uids 60000..64999, below nobody (65534)


def sandbox_uid(worker: int) -> int:
    """The host uid that worker `worker`'s programs run as (when we are root)."""
    if not 0 <= worker < MAX_WORKERS:
        raise ValueError(f"worker must be in [0, {MAX_WORKERS}), got {worker}")
    return UID_BASE + worker


def is_root() -> bool:
    return os.geteuid() == 0


def pids_of_uid(uid: int) -> list[int]:
    pids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat(follow_symlinks=False).st_uid == uid:
                    pids.append(int(entry.name))
            except (FileNotFoundError, ProcessLookupError):
                pass
    return pids


def sweep_uid(uid: int, timeout_s: float = 5.0) -> int:
    """SIGKILL every process of `uid` until none is left; returns how many were seen."""
    seen: set[int] = set()
    deadline = time.monotonic() + timeout_s
    while True:
        pids = pids_of_uid(uid)
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


def slot_lock(uid: int) -> threading.Lock:
    with _slot_guard:
        return _slot_locks.setdefault(uid, threading.Lock())


@contextmanager
def worker_slot(uid: int, sweep: bool = True) -> Iterator[None]:
    """One run at a time per sandbox uid, across threads and (as root) processes.
    `sweep`: kill what is left of the uid first (the fork server sweeps its own
    sandbox). Not root: programs keep our own uid, there is nothing to sweep and
    nothing another process could share, so the in-process lock is enough."""
    with slot_lock(uid):
        if not is_root():
            yield
            return
        path = os.path.join(tempfile.gettempdir(), f"codecommons-sandbox-{uid}.lock")
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if sweep:
                sweep_uid(uid)  # leftovers of a harness that died mid-run
            yield
        finally:
            os.close(fd)
