# codecommons-forkserver
"""The fork server ("zygote") that `codecommons.eval.sandbox.run_python` uses.

This file is NOT imported by the harness: its text is the program of one
long-lived process per worker slot, run inside the bubblewrap sandbox as
`python -c <this file> CTL_FD UID SCRATCH SKELETON` (see forkserver.py for the
design and the package docstring for what it covers). It runs as root inside the
sandbox with only CAP_SETUID, CAP_SETGID and CAP_KILL, no_new_privs and an empty
bounding set, and serves requests from the harness on the unix socket CTL_FD,
one at a time:

  request (harness -> here): an 8-byte little-endian length with two fds attached
      (SCM_RIGHTS: the write ends of the program's stdout and stderr pipes), then
      that many bytes of marshal data (token, program, files, rlimits, timeout_s);
  reply (here -> harness): four little-endian int32 (kind, value, started, dirty),
      kind READY (value = our pid) once at start, then one of EXITED (value =
      exit code), SIGNALED (value = signal number), TIMEOUT per request.

For each request it writes the files into the (empty) scratch folder, forks a
child that drops to UID with the rlimits and runs the program as __main__, waits
for it (wall-clock timeout: SIGKILL to its process group), kills every other
process of the sandbox (everything but pid 1 and us: only programs run there),
empties the scratch folder, /tmp and /dev/shm as UID and checks that nothing is
left but the SKELETON (newline-separated paths: root's folders that bwrap made in
those tmpfs mounts to hold a read-only bind, such as a venv under /tmp) and that
no SysV IPC object is left; if not, it answers dirty=1 and exits, so the harness
starts a fresh sandbox for the next program. It exits when the harness closes
the socket.

Only the standard library, and only modules that are cheap and stateless: the
child inherits them in sys.modules (see the package docstring for the
differences from a fresh interpreter).
"""

import ctypes
import marshal
import os
import resource
import select
import sys
import time

import _socket

READY, EXITED, SIGNALED, TIMEOUT = 0, 1, 2, 3
PROGRAM_FILE = "program.py"
WIPE = ("/tmp", "/dev/shm")  # plus the scratch folder (argv[3])
SYSVIPC = ("/proc/sysvipc/shm", "/proc/sysvipc/msg", "/proc/sysvipc/sem")
SWEEP_LIMIT_S = 5.0

PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
CAP_KILL, CAP_SETGID, CAP_SETUID = 5, 6, 7
LINUX_CAPABILITY_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4
    libc.prctl.restype = ctypes.c_int
    libc.capset.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    libc.capset.restype = ctypes.c_int
    return libc


def _check(rc, what):
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, "%s: %s" % (what, os.strerror(err)))


def _drop_own_privileges(libc):
    """no_new_privs, an empty bounding set, and only the capabilities we use:
    SETUID/SETGID (to become the worker uid) and KILL (to sweep its processes)."""
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS")
    with open("/proc/sys/kernel/cap_last_cap") as f:
        last = int(f.read())
    for cap in range(last + 1):
        _check(libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), "PR_CAPBSET_DROP")
    keep = (1 << CAP_KILL) | (1 << CAP_SETGID) | (1 << CAP_SETUID)
    header = _CapHeader(LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)(_CapData(keep, keep, 0), _CapData(0, 0, 0))
    _check(libc.capset(ctypes.byref(header), data), "capset")


# -- talking to the harness -----------------------------------------------------------


def _reply(sock, kind, value, started=0, dirty=0):
    sock.sendall(b"".join(int(v).to_bytes(4, "little", signed=True)
                          for v in (kind, value, started, dirty)))


def _recv_exact(sock, n):
    chunks = []
    while n:
        b = sock.recv(min(n, 1 << 20))
        if not b:
            raise EOFError("the harness closed the socket mid-request")
        chunks.append(b)
        n -= len(b)
    return b"".join(chunks)


def _recv_request(sock):
    """(request tuple, [fds]) or None when the harness closed the socket."""
    data, anc, flags, _ = sock.recvmsg(8, _socket.CMSG_SPACE(4 * 4), _socket.MSG_CMSG_CLOEXEC)
    fds = []
    for level, kind, blob in anc:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            n = len(blob) - len(blob) % 4
            fds += [int.from_bytes(blob[i:i + 4], sys.byteorder, signed=True)
                    for i in range(0, n, 4)]
    if not data:
        for fd in fds:
            os.close(fd)
        return None
    if len(fds) != 2 or flags & _socket.MSG_CTRUNC:
        raise RuntimeError("bad request: expected 2 fds, got %d" % len(fds))
    data += _recv_exact(sock, 8 - len(data))
    payload = _recv_exact(sock, int.from_bytes(data, "little"))
    return marshal.loads(payload), fds


# -- the program's process --------------------------------------------------------------


def _exit_status(exc):
    """The exit status the interpreter gives an uncaught SystemExit (and prints its message)."""
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    try:
        print(code, file=sys.stderr)
    except Exception:
        pass
    return 1


def _flush_std():
    ok = True
    for s in (sys.stdout, sys.__stdout__, sys.stderr, sys.__stderr__):
        try:
            if s is not None:
                s.flush()
        except Exception:
            ok = False
    return ok


def _run_program(program, token, write):
    """Run `program` like `python program.py` ends: returns the exit status. The token
    line goes to stdout only when the program's last line returned."""
    mod = type(sys)("__main__")
    mod.__file__ = PROGRAM_FILE
    mod.__builtins__ = sys.modules["builtins"]
    sys.modules["__main__"] = mod
    sys.argv[:] = [PROGRAM_FILE]
    sys.path_importer_cache.pop("", None)  # the cwd's listing cached in the zygote
    status = 0
    try:
        code = compile(program, PROGRAM_FILE, "exec", dont_inherit=True)
        del program
        exec(code, mod.__dict__)
    except SystemExit as e:
        status = _exit_status(e)
    except BaseException as e:  # noqa: BLE001 - like an uncaught exception at top level
        tb = e.__traceback__
        tb = tb.tb_next if tb is not None else None  # drop our own frame
        try:
            sys.excepthook(type(e), e.with_traceback(tb), tb)
        except BaseException:
            pass
        status = 130 if isinstance(e, KeyboardInterrupt) else 1
    else:
        _flush_std()
        write(1, b"\n" + token + b"\n")
    del token
    # What the interpreter does at exit: join non-daemon threads, atexit hooks, flush.
    try:
        threading = sys.modules.get("threading")
        if threading is not None:
            threading._shutdown()
    except BaseException:
        pass
    try:
        import atexit
        atexit._run_exitfuncs()
    except BaseException:
        pass
    if not _flush_std() and status == 0:
        status = 120
    return status


def _child(req, out_w, err_w, ok_w, uid, scratch, libc):
    """In the forked child: become the program's process, then run it. Never returns."""
    _exit, write = os._exit, os.write  # the program may replace os attributes
    status = 126
    try:
        try:
            token, program, _files, rlimits, _timeout = req
            os.setsid()
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            if ok_w != 3:
                os.dup2(ok_w, 3)
            os.closerange(4, 1 << 30)  # the control socket and anything else of ours
            os.chdir(scratch)
            for res, soft, hard in rlimits:
                resource.setrlimit(res, (soft, hard))
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)  # clears every capability
            _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS")
            # A uid change makes the process non-dumpable (its /proc files root's):
            # set it back, as exec'ing a fresh interpreter would.
            _check(libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), "PR_SET_DUMPABLE")
            if os.getresuid() != (uid, uid, uid) or os.getresgid() != (uid, uid, uid):
                raise RuntimeError("uid switch failed")
            write(3, b"1")
            os.close(3)
            atexit = sys.modules.get("atexit")
            if atexit is not None:
                atexit._clear()  # nothing of the zygote's runs at the program's exit
        except BaseException as e:
            write(2, ("fork server: could not start the program: %r\n" % (e,)).encode())
            status = 126
        else:
            status = _run_program(program, token, write)
    finally:
        _exit(status & 0xFF)


# -- after each program ---------------------------------------------------------------


def _sweep(me):
    """SIGKILL every process of the sandbox but pid 1 (bwrap) and us, until none is
    left. True when that happened within SWEEP_LIMIT_S."""
    deadline = time.monotonic() + SWEEP_LIMIT_S
    while True:
        pids = [int(n) for n in os.listdir("/proc") if n.isdigit() and int(n) not in (1, me)]
        if not pids:
            return True
        for pid in pids:
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        try:  # our own child, if it is the one left
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            pass
        if time.monotonic() > deadline:
            return False
        time.sleep(0.0005)


def _empty(path, keep=frozenset()):
    """Remove what is in `path` but the paths in `keep` (we run as the program's
    uid here). True if nothing else is left."""
    try:
        entries = list(os.scandir(path))
    except PermissionError:
        os.chmod(path, 0o700)
        entries = list(os.scandir(path))
    for e in entries:
        if e.path in keep:
            continue  # root's: the program could not change it
        try:
            if e.is_dir(follow_symlinks=False):
                try:
                    os.chmod(e.path, 0o700)
                except OSError:
                    pass
                _empty(e.path)
                os.rmdir(e.path)
            else:
                os.unlink(e.path)
        except OSError:
            pass
    return all(os.path.join(path, n) in keep for n in os.listdir(path))


def _clean(uid, scratch, keep):
    """Empty the writable places as `uid` (the owner of what the program made). True if
    they are all empty and no SysV IPC object is left (those would be shared with the
    next program: the IPC namespace is the zygote's)."""
    clean = True
    os.setresuid(-1, uid, -1)
    try:
        for d in (scratch,) + WIPE:
            try:
                clean = _empty(d, keep) and clean
            except (OSError, RecursionError):
                clean = False
    finally:
        os.setresuid(-1, 0, -1)
    for path in SYSVIPC:
        try:
            with open(path) as f:
                if len(f.read().splitlines()) > 1:
                    clean = False
        except FileNotFoundError:
            pass
    return clean


def _write_files(files, scratch):
    for name, data in files:
        path = os.path.join(scratch, name)
        parent = os.path.dirname(path)
        made = []
        while not os.path.isdir(parent):
            made.append(parent)
            parent = os.path.dirname(parent)
        for d in reversed(made):
            os.mkdir(d)
            os.chmod(d, 0o777)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o666)
        try:
            os.fchmod(fd, 0o666)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)


def _serve(sock, req, fds, uid, scratch, keep, me, libc):
    """Run one program; returns (kind, value, started, dirty)."""
    out_w, err_w = fds
    token, program, files, rlimits, timeout_s = req
    _write_files(files, scratch)
    ok_r, ok_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        _exit = os._exit
        try:
            _child(req, out_w, err_w, ok_w, uid, scratch, libc)
        finally:
            _exit(127)  # never back into this loop, whatever the program did
    os.close(out_w)
    os.close(err_w)
    os.close(ok_w)
    del req, token, program, files
    pidfd = os.pidfd_open(pid)
    try:
        deadline = time.monotonic() + timeout_s
        kind = None
        while kind is None:
            left = deadline - time.monotonic()
            if left <= 0:
                kind = TIMEOUT
                break
            ready, _, _ = select.select([pidfd, sock], [], [], left)
            if sock in ready:  # the harness went away or gave up on us
                try:
                    os.killpg(pid, 9)
                except OSError:
                    pass
                _sweep(me)
                sys.exit(0)
            if pidfd in ready:
                kind = EXITED
        if kind == TIMEOUT:
            try:
                os.killpg(pid, 9)
            except OSError:
                pass
            os.kill(pid, 9)
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(pidfd)
    value = 0
    if kind != TIMEOUT:
        if os.WIFSIGNALED(status):
            kind, value = SIGNALED, os.WTERMSIG(status)
        else:
            value = os.waitstatus_to_exitcode(status)
    swept = _sweep(me)
    os.set_blocking(ok_r, False)
    try:
        started = os.read(ok_r, 1) == b"1"
    except BlockingIOError:
        started = False
    os.close(ok_r)
    clean = swept and _clean(uid, scratch, keep)
    return kind, value, int(started), int(not clean)


def main():
    ctl_fd, uid, scratch = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    keep = frozenset(p for p in sys.argv[4].split("\n") if p)
    sock = _socket.socket(fileno=ctl_fd)
    libc = _libc()
    _drop_own_privileges(libc)
    me = os.getpid()
    _reply(sock, READY, me, 1, 0)
    while True:
        got = _recv_request(sock)
        if got is None:
            return
        req, fds = got
        kind, value, started, dirty = _serve(sock, req, fds, uid, scratch, keep, me, libc)
        _reply(sock, kind, value, started, dirty)
        if dirty:
            return  # the harness starts a fresh sandbox for the next program


if __name__ == "__main__":
    main()
