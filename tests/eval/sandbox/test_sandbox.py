"""Tests for the eval sandbox (codecommons.eval.sandbox): the spec of its behaviour.

Each test runs one normal or hostile program through `run_python` (a few through
`run`) and checks one property: the verdict, and that the host is untouched. The
tests with a `path` argument run twice: through the worker's fork server (the
default) and with `fresh_interpreter=True` (a new sandbox per program).

Run:  python -m pytest tests/eval/sandbox/test_sandbox.py -q      (~30 s on 2 cores)

Needs root (as CI runs) and bubblewrap (`apt-get install -y bubblewrap`): without
either, every test is skipped with that reason. Where bubblewrap is installed but
does not work, they fail with detection's reasons.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pytest

from codecommons.eval import sandbox
from codecommons.eval.sandbox import (
    INSTALL_HINT,
    SandboxLimits,
    SandboxUnavailable,
    forkserver,
    run,
    run_python,
    runner,
    sandbox_uid,
)
from tests.eval import needs

pytestmark = [needs.root, needs.bwrap]

WORKER = 3
UID = sandbox_uid(WORKER)
LIMITS = SandboxLimits(
    timeout_s=3.0, cpu_s=5, memory_mb=256, max_procs=32, file_size_mb=8, disk_mb=16,
    output_bytes=65536,
)
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True, scope="module")
def _bwrap_sandbox_works():
    mechanism = sandbox.detect_mechanism()
    assert mechanism == "bwrap", (
        f"bubblewrap is installed but does not work here ({sandbox.detect_notes()}); "
        f"see {INSTALL_HINT}"
    )


# run_python's two ways of running a program under bubblewrap: a fork of the
# worker's fork server (the default) and a new sandbox + interpreter per program.
PATHS = ["forkserver", "fresh"]


_current = {"path": "forkserver"}


@pytest.fixture(params=PATHS)
def path(request):
    """Runs the test once per path: `py()` then uses that path."""
    _current["path"] = request.param
    yield request.param
    _current["path"] = "forkserver"


def py(program: str, limits: SandboxLimits = LIMITS, *, path: str | None = None,
       worker: int = WORKER, check_path: bool = True, **kw):
    path = path or _current["path"]
    uid = sandbox_uid(worker)
    before = forkserver.runs.get(uid, 0)
    res = run_python(textwrap.dedent(program), limits, worker=worker,
                     fresh_interpreter=path == "fresh", **kw)
    if check_path and path == "forkserver" and kw.get("mechanism") in (None, "bwrap") \
            and not kw.get("unsafe_no_sandbox"):
        assert forkserver.runs.get(uid, 0) == before + 1, "not run by the fork server"
    return res


def pgrep(*args: str) -> list[str]:
    out = subprocess.run(["pgrep", *args], capture_output=True, text=True)
    return out.stdout.split()


def host_process_count() -> int:
    return sum(1 for n in os.listdir("/proc") if n.isdigit())


# -- normal programs -------------------------------------------------------------


def test_passing_program_passes(path):
    res = py("""
        def add(a, b):
            return a + b
        assert add(2, 3) == 5
        print("hello")
    """)
    assert res.status == "passed", res
    assert res.returncode == 0
    assert res.stdout.strip() == "hello"  # the completion token line is removed


def test_failing_assert_fails(path):
    res = py("assert 1 + 1 == 3, 'wrong sum'\n")
    assert res.status == "failed"
    assert "AssertionError: wrong sum" in res.stderr_tail


def test_syntax_error_fails(path):
    res = py("def f(:\n    pass\n")
    assert res.status == "failed"
    assert "SyntaxError" in res.stderr_tail


def test_program_runs_as_unprivileged_worker_uid(path):
    res = py("""
        import os
        assert os.getuid() == os.geteuid() == %d, os.getuid()
        try:
            os.setuid(0)
        except PermissionError:
            pass
        else:
            raise SystemExit(3)
    """ % UID)
    assert res.status == "passed", res


def test_stdin_is_empty_and_no_fds_leak(path):
    res = py("""
        import os, sys
        assert sys.stdin.read() == ""
        fds = sorted(int(f) for f in os.listdir("/proc/self/fd"))
        assert fds[:3] == [0, 1, 2] and len(fds) <= 4, fds  # 4th: listdir's own
    """)
    assert res.status == "passed", res


def test_run_shell_script_with_files():
    """`run` takes any argv, e.g. a compile-then-run shell script."""
    res = run(["sh", "-c", "cat src/in.txt > out.txt && tr a-z A-Z < out.txt"],
              files={"src/in.txt": "shout\n"}, limits=LIMITS, worker=WORKER)
    assert res.status == "passed", res
    assert res.stdout == "SHOUT\n"


# -- time, processes --------------------------------------------------------------


def test_infinite_loop_times_out_and_is_killed(path):
    res = py("while True:\n    pass\n")
    assert res.status == "timeout"
    assert res.duration_s < LIMITS.timeout_s + 2
    assert pgrep("-u", str(UID)) == []


def test_cpu_limit_reports_timeout(path):
    res = py("while True:\n    pass\n", SandboxLimits(timeout_s=10.0, cpu_s=1))
    assert res.status == "timeout"
    assert "RLIMIT_CPU" in res.detail
    assert res.duration_s < 5


def test_sandbox_setup_failure_is_error():
    res = run(["true"], limits=LIMITS, worker=WORKER, ro_binds=["/nonexistent-cc-sandbox"])
    assert res.status == "error"
    assert "failed to start" in res.detail


def test_fork_bomb_is_contained(path):
    before = host_process_count()
    res = py("""
        import os
        while True:
            os.fork()
    """)
    assert res.status in ("failed", "timeout")
    assert pgrep("-u", str(UID)) == []
    assert host_process_count() <= before + 5


def test_daemon_does_not_outlive_run(path):
    tag = "ccdaemon" + secrets.token_hex(6)
    marker = Path(tempfile.gettempdir()) / tag
    res = py("""
        import os, sys, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.execv(sys.executable, [sys.executable, "-c",
                    "import sys, time; time.sleep(30); open(sys.argv[1], 'w').write('alive')",
                    %r, %r])
            os._exit(0)
        time.sleep(0.3)
        print("parent done")
    """ % (str(marker), tag))
    assert res.status == "passed", res
    assert res.duration_s < LIMITS.timeout_s
    time.sleep(1.0)
    assert pgrep("-f", tag) == []
    assert not marker.exists()


def test_cannot_kill_parent_or_host_processes(path):
    victim = subprocess.Popen(["sleep", "30"])
    try:
        res = py("""
            import os, signal
            for pid in (os.getppid(), 1, %d, %d):
                try:
                    os.kill(pid, signal.SIGKILL)
                    print("sent", pid)
                except OSError as e:
                    print("refused", pid, type(e).__name__)
        """ % (os.getpid(), victim.pid))
        assert res.status in ("passed", "failed")  # a result came back
        assert victim.poll() is None, "a host process was killed from the sandbox"
        os.kill(os.getpid(), 0)  # and we are obviously alive
    finally:
        victim.kill()
        victim.wait()


# -- memory, output, disk ----------------------------------------------------------


@pytest.mark.parametrize("program", [
    "x = bytearray(10**10)\n",
    "x = []\nwhile True:\n    x.append(bytearray(10**7))\n",
], ids=["one-huge-alloc", "growing-list"])
def test_memory_bomb_fails(program, path):
    res = py(program)
    assert res.status == "failed"
    assert "MemoryError" in res.stderr_tail
    assert res.duration_s < LIMITS.timeout_s


def test_output_flood_is_capped_and_drained(path):
    limits = SandboxLimits(timeout_s=20.0, cpu_s=20, memory_mb=256, max_procs=32)
    res = py("""
        import sys
        line = "x" * 1023 + "\\n"
        for _ in range(100 * 1024):   # 100 MiB
            sys.stdout.write(line)
    """, limits)
    assert res.status == "passed", res.detail  # exit 0 and the token found at the very end
    assert res.truncated
    assert len(res.stdout.encode()) <= limits.output_bytes
    assert res.duration_s < 10


@pytest.mark.parametrize("target", ["big.bin", "/tmp/big.bin", "many"])
def test_disk_fill_fails_and_leaves_nothing(target, path):
    tag = secrets.token_hex(6)
    before = {p: shutil.disk_usage(p).used for p in ("/", tempfile.gettempdir())}
    if target == "many":  # under the per-file limit, over the tmpfs size
        body = """
            chunk = b"\\0" * (1 << 20)
            for i in range(100):
                with open(f"part{i}_%s.bin", "wb") as f:
                    for _ in range(4):
                        f.write(chunk)
        """ % tag
    else:  # 1 GiB in one file
        body = """
            chunk = b"\\0" * (1 << 20)
            with open(%r, "wb") as f:
                for _ in range(1024):
                    f.write(chunk)
        """ % (target.replace("big", "big_" + tag),)
    res = py(body)
    assert res.status == "failed"
    assert ("File too large" in res.stderr_tail) or ("No space left" in res.stderr_tail), res
    limit = LIMITS.disk_mb * 1024 * 1024
    for p, used in before.items():
        assert shutil.disk_usage(p).used - used < limit
    hits = subprocess.run(["find", "/tmp", "/root", "/work", "-xdev", "-name", f"*{tag}*"],
                          capture_output=True, text=True).stdout
    assert hits == ""


@pytest.mark.parametrize("where", ["/root", "/etc", "/usr", "/", "repo"])
def test_write_outside_scratch_fails(where, path):
    base = str(REPO) if where == "repo" else where
    path = os.path.join(base, f"canary_{secrets.token_hex(6)}")
    res = py("open(%r, 'w').write('escaped')\n" % path)
    assert res.status == "failed"
    assert not os.path.exists(path)


# -- network, environment ------------------------------------------------------------


class CanaryServer:
    """A TCP listener on 127.0.0.1 that counts connections."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.connections += 1
            conn.close()

    def close(self):
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def canary():
    server = CanaryServer()
    yield server
    server.close()


def test_network_is_unreachable(canary, path):
    res = py("""
        import socket
        socket.create_connection(("127.0.0.1", %d), timeout=2).sendall(b"hi")
    """ % canary.port)
    assert res.status == "failed"
    time.sleep(0.2)
    assert canary.connections == 0
    socket.create_connection(("127.0.0.1", canary.port), timeout=2).close()  # canary works
    deadline = time.monotonic() + 2
    while canary.connections == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert canary.connections == 1


def test_environment_is_scrubbed(monkeypatch, path):
    secret = "sk-" + secrets.token_hex(16)
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    res = py("import json, os\nprint(json.dumps(dict(os.environ)))\n")
    assert res.status == "passed", res
    env = json.loads(res.stdout)
    assert secret not in res.stdout
    allowed = {"PATH", "LANG", "HOME", "TMPDIR", "PYTHONDONTWRITEBYTECODE", "PYTHONHASHSEED",
               "PWD"}  # PWD: bwrap --chdir sets it
    assert set(env) <= allowed, set(env) - allowed
    assert env["HOME"] == env["TMPDIR"] == "/scratch"
    assert env["PYTHONHASHSEED"] == "0" and env["LANG"] == "C.UTF-8"


# -- "ran to its end" --------------------------------------------------------------


@pytest.mark.parametrize("early_exit", [
    "import sys\nsys.exit(0)\n",
    "import os\nos._exit(0)\n",
    "raise SystemExit\n",
    "quit()\n",
    "exit(0)\n",
    "import atexit, os\natexit.register(os._exit, 0)\n",
], ids=["sys.exit", "os._exit", "SystemExit", "quit", "exit", "atexit-os._exit"])
def test_early_exit_fails(early_exit, path):
    res = py(early_exit + "assert False, 'the tests fail'\n")
    assert res.returncode == 0  # the exit code alone would have said "passed"
    assert res.status == "failed"
    assert "did not run to its end" in res.detail


def test_completion_token_is_not_in_argv_env_or_files(path):
    res = py("""
        import os, re
        hexes = re.compile(rb"[0-9a-f]{32}")
        blobs = [open("/proc/self/cmdline", "rb").read(), open("/proc/self/environ", "rb").read()]
        for root, _, names in os.walk("."):
            blobs += [open(os.path.join(root, n), "rb").read() for n in names]
        assert not any(hexes.search(b) for b in blobs)
    """)
    assert res.status == "passed", res


# -- the fork server (run_python's default) and what both paths share ----------------------


def zygote_host_pid(uid: int = UID) -> int:
    """Host pid of uid's fork server process (python, under bwrap and bwrap's init)."""
    zy = forkserver.servers[uid]
    (init,) = forkserver.children(zy.proc.pid)
    (pid,) = forkserver.children(init)
    return pid


def zygote_processes() -> list[str]:
    """Fork server processes (bwrap and python) started by this process (another
    harness on the machine, e.g. a `commons eval run`, may have its own)."""
    def ours(pid: int) -> bool:
        while pid > 1:
            if pid == os.getpid():
                return True
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                return False
            pid = int(stat.rsplit(")", 1)[1].split()[1])
        return False

    return [p for p in pgrep("-f", forkserver.MARKER) if ours(int(p))]


def test_program_has_no_capabilities_and_no_new_privs(path):
    res = py("""
        status = dict(line.split(":", 1) for line in open("/proc/self/status"))
        for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
            assert int(status[k], 16) == 0, (k, status[k])
        assert status["NoNewPrivs"].strip() == "1"
        assert status["Groups"].strip() == ""
    """)
    assert res.status == "passed", res


def test_fresh_main_module_argv_and_globals(path):
    res = py("""
        import sys
        assert __name__ == "__main__" and sys.modules["__main__"].__dict__ is globals()
        assert sys.argv == ["program.py"] and __file__ == "program.py", (sys.argv, __file__)
        assert set(globals()) <= {"__name__", "__doc__", "__package__", "__loader__", "__spec__",
                                  "__file__", "__builtins__", "__warningregistry__", "sys"}, \\
            sorted(globals())
        def f():
            return 1 / 0
        f()
    """)
    assert res.status == "failed"
    assert 'File "program.py", line 10, in <module>' in res.stderr_tail, res.stderr_tail
    assert "ZeroDivisionError" in res.stderr_tail


def test_each_program_gets_fresh_process_and_scratch(path):
    """Leftovers of one program (files in scratch, /tmp, /dev/shm, even unreadable
    directories) are gone for the next; every program is a new process."""
    leave = py("""
        import os
        os.makedirs("a/b/c")
        open("a/b/c/f", "w").write("x")
        os.chmod("a/b", 0)
        os.chmod("a", 0o500)
        open("/tmp/left", "w").write("x")
        os.mkdir("/tmp/locked", 0)
        open("/dev/shm/left", "w").write("x")
        os.mkfifo("fifo")
        os.symlink("/etc/passwd", "link")
        print(os.getpid())
    """)
    assert leave.status == "passed", leave
    # What the view binds below /tmp (an interpreter's venv there, as in a clone under
    # /tmp) shows as its top folder; nothing else may be left.
    from codecommons.eval.sandbox.view import make_view

    bound = {top: sorted({Path(b).relative_to(top).parts[0] for b in make_view().binds
                          if b.startswith(top + "/")}) for top in ("/tmp", "/dev/shm")}
    check = py(f"""
        import os
        assert os.listdir(".") == ["program.py"], os.listdir(".")
        assert sorted(os.listdir("/tmp")) == {bound["/tmp"]!r}, os.listdir("/tmp")
        assert sorted(os.listdir("/dev/shm")) == {bound["/dev/shm"]!r}, os.listdir("/dev/shm")
        print(os.getpid())
    """)
    assert check.status == "passed", check
    if path == "forkserver":
        assert leave.stdout != check.stdout  # two processes


@pytest.mark.parametrize("harness_sighup", [signal.SIG_DFL, signal.SIG_IGN])
def test_signal_state_of_a_fresh_interpreter(path, harness_sighup):
    """A program starts with a fresh interpreter's signal state, whatever the
    harness ignores (run under nohup, it ignores SIGHUP)."""
    before = signal.signal(signal.SIGHUP, harness_sighup)
    try:
        res = py("""
            import signal
            status = dict(line.split(":", 1) for line in open("/proc/self/status"))
            assert int(status["SigBlk"], 16) == 0, status["SigBlk"]
            changed = {s.name: signal.getsignal(s) for s in signal.Signals
                       if signal.getsignal(s) not in (signal.SIG_DFL, None)}
            assert changed == {"SIGINT": signal.default_int_handler, "SIGPIPE": signal.SIG_IGN,
                               "SIGXFSZ": signal.SIG_IGN}, changed
        """)
    finally:
        signal.signal(signal.SIGHUP, before)
    assert res.status == "passed", res


def test_extra_files_and_env(path):
    res = py("""
        import os
        print(open("data/in.txt").read(), os.environ["CC_EXTRA"], sorted(os.listdir(".")))
    """, files={"data/in.txt": "hi"}, env={"CC_EXTRA": "yes"})
    assert res.status == "passed", res
    assert res.stdout == "hi yes ['data', 'program.py']\n"
    res = py("import os\nprint(sorted(os.listdir('.')), os.environ.get('CC_EXTRA'))\n")
    assert res.stdout == "['program.py'] None\n"


def test_random_state_differs_between_programs(path):
    prog = "import os, random\nprint(random.random(), os.urandom(8).hex())\n"
    a, b = py(prog), py(prog)
    assert a.status == b.status == "passed"
    assert a.stdout.split()[0] != b.stdout.split()[0]
    assert a.stdout.split()[1] != b.stdout.split()[1]


@pytest.mark.parametrize("after_end", [
    "import atexit\natexit.register(print, 'late')\n",
    "import threading, time\n"
    "threading.Thread(target=lambda: (time.sleep(0.2), print('late'))).start()\n",
], ids=["atexit-print", "thread-print"])
def test_output_after_the_end_fails(after_end, path):
    res = py(after_end + "print('last line')\n")
    assert res.returncode == 0
    assert res.status == "failed"
    assert "did not run to its end" in res.detail
    assert res.stdout.rstrip().endswith("late")


def test_exit_status_and_message_like_an_interpreter(path):
    res = py("import sys\nsys.exit('bad input')\n")
    assert (res.status, res.returncode) == ("failed", 1)
    assert "bad input" in res.stderr_tail
    res = py("raise SystemExit(3)\n")
    assert (res.status, res.returncode) == ("failed", 3)


def test_fork_server_is_reused_and_survives_hostile_programs():
    py("pass\n")
    zy, host_pid = forkserver.servers[UID], zygote_host_pid()
    hostile = [
        # signal it, signal everything, read its memory and environment
        """
        import os, signal
        parent = os.getppid()
        for pid in (parent, 1):
            try:
                os.kill(pid, signal.SIGKILL)
                raise SystemExit("killed %d" % pid)
            except PermissionError:
                pass
        try:
            os.kill(-1, signal.SIGKILL)  # every process it may signal, but itself
        except ProcessLookupError:
            pass
        for name in ("mem", "environ", "fd/0"):
            try:
                open("/proc/%d/%s" % (parent, name), "rb").read(1)
                raise SystemExit("read " + name)
            except PermissionError:
                pass
        print("ok")
        """,
        "while True:\n    pass\n",  # a timeout (0.5 s here)
        "import os\nwhile True:\n    os.fork()\n",  # a fork bomb
        "x = bytearray(10**10)\n",  # a memory bomb
        "import os\nos._exit(3)\n",
    ]
    short = SandboxLimits(timeout_s=0.5, cpu_s=5, memory_mb=256, max_procs=32, file_size_mb=8,
                          disk_mb=LIMITS.disk_mb)  # same fork server: only disk_mb and env count
    statuses = []
    for program in hostile:
        statuses.append(py(program, short).status)
        assert forkserver.servers[UID] is zy and zygote_host_pid() == host_pid
        assert pgrep("-u", str(UID)) == []
    assert statuses[:2] == ["passed", "timeout"] and statuses[3:] == ["failed", "failed"]
    res = py("print('still fine')\n")
    assert res.status == "passed" and res.stdout == "still fine\n"
    assert forkserver.servers[UID] is zy


def test_sysv_ipc_left_behind_gets_a_new_fork_server():
    py("pass\n")
    first = zygote_host_pid()
    res = py("""
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        assert libc.shmget(0, 4096, 0o1000 | 0o666) >= 0  # IPC_PRIVATE, IPC_CREAT
    """)
    assert res.status == "passed", res
    res = py("print(len(open('/proc/sysvipc/shm').read().splitlines()))\n")
    assert res.stdout == "1\n"  # the header line only
    assert zygote_host_pid() != first


def test_posix_message_queues_cannot_be_created():
    """They would outlive the program in the fork server's IPC namespace."""
    res = py("""
        import ctypes, os
        rt = ctypes.CDLL("librt.so.1", use_errno=True)
        assert rt.mq_open(b"/cc", os.O_CREAT | os.O_RDWR, 0o600, None) == -1
    """)
    assert res.status == "passed", res


def test_killed_fork_server_fails_that_program_and_is_replaced():
    py("pass\n")
    victim = zygote_host_pid()
    killer = threading.Timer(0.5, os.kill, (victim, 9))
    killer.start()
    try:
        res = py("import time\ntime.sleep(3)\nprint('done')\n")
    finally:
        killer.join()
    assert res.status == "failed" and "fork server died" in res.detail, res
    assert pgrep("-u", str(UID)) == []
    res = py("print('next')\n")
    assert res.status == "passed" and res.stdout == "next\n"
    assert zygote_host_pid() != victim


def test_stuck_fork_server_is_killed_and_replaced(monkeypatch):
    monkeypatch.setattr(forkserver, "MARGIN_S", 1.0)
    limits = SandboxLimits(timeout_s=1.0, cpu_s=5, memory_mb=256, max_procs=32,
                           file_size_mb=8, disk_mb=16)
    py("pass\n", limits)
    victim = zygote_host_pid()
    stopper = threading.Timer(0.2, os.kill, (victim, 19))  # SIGSTOP
    stopper.start()
    try:
        start = time.monotonic()
        res = py("import time\ntime.sleep(0.5)\n", limits)
    finally:
        stopper.join()
    assert res.status == "timeout" and "did not answer" in res.detail, res
    assert time.monotonic() - start < limits.timeout_s + 1.0 + 2.0
    assert not os.path.exists(f"/proc/{victim}")
    assert pgrep("-u", str(UID)) == []
    res = py("print('next')\n", limits)
    assert res.status == "passed", res


def test_concurrent_workers_each_have_one_fork_server():
    """execute() runs W threads with their own worker index; a worker index shared by
    two threads is serialised by its slot lock. Outputs never mix."""
    workers = [WORKER, WORKER + 1, WORKER + 1]
    results: list[tuple[int, int, object]] = []
    before = {w: forkserver.runs.get(sandbox_uid(w), 0) for w in workers}

    def job(t: int, worker: int):
        for i in range(8):
            res = py(f"print({t * 100 + i})\n", worker=worker, check_path=False)
            results.append((t * 100 + i, worker, res))

    threads = [threading.Thread(target=job, args=(t, w)) for t, w in enumerate(workers)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(results) == 24
    for expected, _, res in results:
        assert res.status == "passed" and res.stdout == f"{expected}\n", res
    assert {sandbox_uid(w) for w in workers} <= set(forkserver.servers)
    for w in set(workers):
        runs = forkserver.runs.get(sandbox_uid(w), 0) - before[w]
        assert runs == 8 * workers.count(w)  # all of them went through the fork server


def test_shutdown_leaves_no_process():
    tag = "ccdaemon" + secrets.token_hex(6)
    daemon = """
        import os, sys
        if os.fork() == 0:
            os.setsid()
            os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(30)", %r])
        print("started")
    """ % tag
    for worker in (WORKER, WORKER + 1):
        assert py(daemon, worker=worker).status == "passed"
    assert zygote_processes() != []
    sandbox.shutdown()
    assert forkserver.servers == {}
    assert zygote_processes() == []
    assert pgrep("-f", tag) == []
    for worker in (WORKER, WORKER + 1):
        assert pgrep("-u", str(sandbox_uid(worker))) == []
    res = py("print('again')\n")  # a new fork server on demand
    assert res.status == "passed" and res.stdout == "again\n"


def test_fresh_interpreter_path_starts_no_fork_server():
    sandbox.shutdown()
    res = py("print('one-shot')\n", path="fresh")
    assert res.status == "passed" and res.stdout == "one-shot\n"
    assert forkserver.servers == {} and zygote_processes() == []


def test_fork_server_is_faster_than_fresh_interpreter():
    def per_run(path: str) -> float:
        py("pass\n", path=path)
        start = time.monotonic()
        for _ in range(10):
            assert py("assert sum(range(10)) == 45\n", path=path).status == "passed"
        return (time.monotonic() - start) / 10

    assert per_run("forkserver") < per_run("fresh") / 2


def test_fork_server_start_failure_is_error(monkeypatch):
    sandbox.shutdown()
    monkeypatch.setattr(forkserver, "server_source",
                        lambda: "raise SystemExit('no zygote today')")
    res = py("print('hi')\n", check_path=False)
    assert res.status == "error"
    assert "fork server did not start" in res.detail and "no zygote today" in res.detail
    assert forkserver.servers == {} and zygote_processes() == []
