"""The fork server: `run_python`'s fast path (bubblewrap as root, the harness's own
interpreter). This is the harness's side; forkserver_program.py is the server.

A new bwrap sandbox plus a new interpreter cost ~43 ms per program, more than most
tests take to run. So each worker slot (uid U = 60000 + worker) keeps one
long-lived sandbox: bwrap exactly as a one-shot run has it (same binds, tmpfs
mounts, namespaces, environment), started from a keeper thread that lives as
long as the harness (--die-with-parent follows the starting *thread*), running
forkserver_program.py as root inside it with only CAP_SETUID, CAP_SETGID and
CAP_KILL, no_new_privs and an empty bounding set. It imports only cheap modules
(ctypes, resource, select, _socket) and takes one program at a time over a unix
socket (the harness passes the program's stdout/stderr pipes with SCM_RIGHTS).
Per program it:
- writes the files into /scratch (empty: checked after the previous program),
  then forks a child that calls setsid, puts the pipes on fds 1 and 2 (stdin stays
  /dev/null), closes every other fd, chdirs to /scratch, sets the rlimits (as a
  one-shot run, plus RLIMIT_MSGQUEUE=0), setgroups([]) + setresgid(U) +
  setresuid(U) (which clears every capability), no_new_privs, dumpable again (as
  an exec would), and runs the program as a fresh __main__ module (new globals,
  sys.argv = ["program.py"], compiled as "program.py") with the same completion
  token rule as a one-shot run; then it ends like an interpreter does (exit code
  of SystemExit or 1 after a traceback, non-daemon threads joined, atexit hooks,
  flush) with os._exit;
- waits for the child with the wall-clock timeout (then SIGKILL to its process
  group), then SIGKILLs every process of its PID namespace except bwrap's init
  and itself until none is left (all of them are the program's: a daemon, a
  double fork, setsid, a fork bomb), empties /scratch, /tmp and /dev/shm as U
  (but for the skeleton: root's folders holding a bind, e.g. a venv under /tmp)
  and checks that nothing else is left and that no SysV IPC object exists. If
  that fails, it answers "dirty" and exits, and the harness starts a new sandbox;
- answers with the exit status. The program cannot signal, ptrace or read the
  memory of the fork server (uid 0 vs U), and the fork server's socket is closed
  in the child. A fork server that dies, or does not answer within timeout_s +
  MARGIN_S, is killed with its whole namespace (that program: "failed" or
  "timeout") and replaced for the next program; one that was gone between
  programs is replaced and the program run there. Fork servers are reused across
  calls (one per worker index, used under that worker's slot lock), replaced when
  `env`, `disk_mb` or the view change, and stopped by `shutdown()`, which runs at
  exit.
"""

from __future__ import annotations

import array
import atexit
import functools
import marshal
import os
import queue
import resource
import select
import selectors
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import Future
from typing import Mapping

from codecommons.eval.sandbox.limits import SandboxLimits, rlimit_pairs
from codecommons.eval.sandbox.mechanisms import DEFAULT_SIGNALS, bwrap_args
from codecommons.eval.sandbox.pipes import (DRAIN_AFTER_KILL_S, EXIT_GRACE_S, Head, Raw,
                                            SpawnError, Tail, pump)
from codecommons.eval.sandbox.result import classify
from codecommons.eval.sandbox.uids import is_root, sandbox_uid, slot_lock, sweep_uid, worker_slot
from codecommons.eval.sandbox.view import SCRATCH, View
from codecommons.types import ExecutionResult

# Reply kinds of forkserver_program.py.
_READY, _EXITED, _SIGNALED, _TIMEOUT = 0, 1, 2, 3
_REPLY = struct.Struct("<iiii")
CAPS = ("CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP", "CAP_KILL")
START_S = 20.0  # for the sandbox and interpreter to start and say "ready"
MARGIN_S = 5.0  # beyond timeout_s for its answer, else it is killed
CLOSE_S = 2.0
MARKER = "codecommons-forkserver"  # the first line of its program (its argv)


@functools.lru_cache(maxsize=None)
def server_source() -> str:
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "forkserver_program.py")
    with open(path, encoding="utf-8") as f:
        return f.read()


class _Gone(Exception):
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


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


class Server:
    """The harness's handle on one fork server: bwrap (as root, same sandbox as a
    one-shot run) running forkserver_program.py, and the unix socket to it."""

    def __init__(self, uid: int, key: tuple, disk_mb: int, env: Mapping[str, str] | None,
                 view: View):
        self.uid, self.key, self.runs, self.owner = uid, key, 0, os.getpid()
        self.err = tempfile.TemporaryFile()  # its own stderr, for startup errors
        self.sock, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        a, _, skeleton = bwrap_args(view, [], disk_mb, env)
        for cap in CAPS:
            a += ["--cap-add", cap]
        # Programs are forked from this interpreter and so inherit its dispositions: it
        # starts from the default ones too, not from the harness's (nohup: SIGHUP ignored).
        a += ["--", *DEFAULT_SIGNALS, sys.executable, "-c", server_source(), str(child.fileno()),
              str(uid), SCRATCH, "\n".join(skeleton)]
        try:
            self.proc = _keeper.call(lambda: subprocess.Popen(
                a, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.err,
                env={}, cwd="/", pass_fds=[child.fileno()], start_new_session=True,
                close_fds=True))
        except OSError as e:
            self.sock.close()
            self.err.close()
            raise SpawnError(f"could not start the fork server (bwrap): {e}") from e
        finally:
            child.close()
        reply = self._startup_reply()
        if reply is None or reply[0] != _READY:
            why = self.stderr_tail()
            self.close(kill=True)
            raise SpawnError(f"the fork server did not start: {why or 'no answer'}")
        self.sock.settimeout(MARGIN_S)  # for sending; replies are select()ed

    def _startup_reply(self) -> tuple[int, ...] | None:
        buf = b""
        deadline = time.monotonic() + START_S
        while len(buf) < _REPLY.size:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.sock], [], [], left)[0]:
                return None
            b = self.sock.recv(_REPLY.size - len(buf))
            if not b:
                return None
            buf += b
        return _REPLY.unpack(buf)

    def stderr_tail(self) -> str:
        try:
            self.err.seek(0)
            return self.err.read()[-2000:].decode("utf-8", "replace").strip()
        except (OSError, ValueError):
            return ""

    def alive(self) -> bool:
        return self.proc.poll() is None and self.owner == os.getpid()

    def run(self, program: bytes, files: list[tuple[str, bytes]], limits: SandboxLimits,
            token: bytes) -> tuple[Raw, str | None]:
        """Run one program. Returns the raw result and, when the fork server failed
        (it is then killed), why: "died" or "no answer"; or "dirty" when it asked to
        be replaced (something of the program could not be cleaned up)."""
        rlimits = [tuple(p) for p in rlimit_pairs(limits)]
        rlimits.append((resource.RLIMIT_MSGQUEUE, 0, 0))  # no POSIX queues: they would outlive it
        payload = marshal.dumps((token, program, files, rlimits, float(limits.timeout_s)))
        out, err = Head(limits.output_bytes), Tail(limits.output_bytes)
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
                raise _Gone(str(e)) from e
            finally:
                os.close(out_w)
                os.close(err_w)
            self.runs += 1
            runs[self.uid] = runs.get(self.uid, 0) + 1
            reply, problem, end = self._collect(out_r, err_r, out, err,
                                                start + limits.timeout_s + MARGIN_S)
        finally:
            os.close(out_r)
            os.close(err_r)
        rc, timed_out, status_text = None, problem == "no answer", ""
        if reply is not None:
            kind, value, started, dirty = reply
            if kind == _EXITED:
                rc = value
            elif kind == _SIGNALED:
                rc = 128 + value  # as bwrap reports it for a one-shot run
            timed_out = kind == _TIMEOUT
            status_text = "started" if started else ""
            if dirty:
                problem = "dirty"
        raw = Raw(returncode=rc, out=out, err=err, timed_out=timed_out,
                  duration_s=end - start, status_text=status_text)
        return raw, problem

    def _collect(self, out_r: int, err_r: int, out: Head, err: Tail, deadline: float):
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
                if ended is not None and (not sel.get_map() or now >= ended + EXIT_GRACE_S):
                    break
                if ended is None and now >= deadline:
                    problem, ended = "no answer", now
                    sel.unregister(self.sock)
                    self.close(kill=True)
                    continue
                wait = deadline - now if ended is None else ended + EXIT_GRACE_S - now
                for key, _ in sel.select(max(wait, 0.0)):
                    if key.fileobj is self.sock:
                        b = self.sock.recv(_REPLY.size - len(buf))
                        if b:
                            buf += b
                        if len(buf) == _REPLY.size:
                            reply, ended = _REPLY.unpack(buf), time.monotonic()
                            sel.unregister(self.sock)
                        elif not b:  # EOF before the answer: it died
                            problem, ended = "died", time.monotonic()
                            sel.unregister(self.sock)
                            self.close(kill=True)
                        continue
                    pump(sel, key.fd, sinks)
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
                self.proc.wait(timeout=CLOSE_S)
            except subprocess.TimeoutExpired:
                kill = True
        if self.proc.poll() is None:
            # bwrap's child is the namespace's init: when it dies, the kernel kills
            # every process of the namespace before its exit completes.
            inits = []
            for pid in children(self.proc.pid):
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
                select.select([fd], [], [], DRAIN_AFTER_KILL_S)
                os.close(fd)
        self.sock.close()
        self.err.close()


servers: dict[int, Server] = {}  # by sandbox uid; used under that uid's slot lock
runs: dict[int, int] = {}  # programs handed to a fork server, by uid (tests)


def _drop(uid: int, kill: bool = False) -> None:
    """Stop uid's fork server and sweep the uid (call under the uid's worker slot)."""
    server = servers.pop(uid, None)
    if server is not None:
        server.close(kill=kill)
    if is_root():
        sweep_uid(uid)


def run(files: list[tuple[str, bytes]], program: bytes, limits: SandboxLimits, worker: int,
        env: Mapping[str, str] | None, token: bytes,
        view: View) -> tuple[ExecutionResult, Raw | None]:
    """Run `program` (files must hold it as program.py) in worker's fork server."""
    uid = sandbox_uid(worker)
    key = (limits.disk_mb, tuple(sorted((env or {}).items())), view)
    with worker_slot(uid, sweep=False):
        for _attempt in range(2):
            server = servers.get(uid)
            if server is not None and (server.key != key or not server.alive()):
                _drop(uid)
                server = None
            if server is None:
                if is_root():
                    sweep_uid(uid)
                try:
                    server = Server(uid, key, limits.disk_mb, env, view)
                except SpawnError as e:
                    return ExecutionResult("error", None, "", "", 0.0, False, str(e)), None
                servers[uid] = server
            try:
                raw, problem = server.run(program, files, limits, token)
            except _Gone:  # it died between programs: start a new one, once
                _drop(uid, kill=True)
                continue
            if problem is not None:
                _drop(uid, kill=problem != "dirty")
            result = classify(raw, raw.status_text == "started", raw.returncode, "forkserver")
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
    for uid in list(servers):
        lock = slot_lock(uid)
        got = lock.acquire(timeout=30)
        try:
            server = servers.pop(uid, None)
            if server is not None:
                server.close(kill=not got)
        finally:
            if got:
                lock.release()


def _forget_after_fork() -> None:
    """In a forked child of the harness (multiprocessing): the fork servers are the
    parent's; close our copies of the sockets (without shutting them down)."""
    for server in list(servers.values()):
        server.owner = -1
        try:
            server.sock.close()
        except OSError:
            pass
    servers.clear()


atexit.register(shutdown)
os.register_at_fork(after_in_child=_forget_after_fork)
