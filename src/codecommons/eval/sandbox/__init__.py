"""
Sandboxed execution of untrusted programs (model completions) for the
execution-based evaluation harness (pass@k).

`run(cmd, files, tools=...)` writes `files` into a fresh scratch folder, runs `cmd`
there inside a sandbox and returns an `ExecutionResult` (passed / failed / timeout
/ error, exit code, capped stdout, tail of stderr, duration). `run_python(program)`
runs a Python program and passes it only when it provably ran to its last line.
A compile-then-run language is one `run` call with a shell script as the command,
e.g. `run(["sh", "-c", "javac Main.java && java -ea Main"], files,
tools=("javac", "java"))`; `find_tools` checks that a run's tools exist before
anything runs (ToolchainMissing names each missing one and how to install it).

The parts, one file each:
  limits.py      SandboxLimits, why each default has its value, the rlimits
  uids.py        the unprivileged uid per worker, slot locks, sweeping by uid
  toolchains.py  the interpreter and toolchains found wherever they are installed
  view.py        what a program sees of the host: read-only binds, PATH, environment
  mechanisms.py  how a program is started: bubblewrap, or no sandbox (unsafe)
  pipes.py       output capture (head / tail), the wall-clock timeout
  result.py      passed / failed / timeout / error, the completion-token rule
  forkserver.py  run_python's fast path: one long-lived sandbox per worker
  forkserver_program.py  the fork server's own program (runs in the sandbox)
  runner.py      run, run_python, mechanism detection

Mechanism (detected once per process by really running `true`, then cached):
bubblewrap (`apt-get install -y bubblewrap`); where it does not work, `run`
raises SandboxUnavailable unless the caller passes `unsafe_no_sandbox=True` (CLI
`--unsafe-no-sandbox`), which runs the program directly with the rlimits, scrubbed
environment, temp dir and timeout only (mechanisms.py says how each is built).

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
  /proc/self/cmdline and sys.orig_argv show `python -c <forkserver_program.py> ...`.
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
- As root (as CI runs): the program is an unprivileged host uid of its own per
  worker (60000 + worker) with no capabilities and no_new_privs, so RLIMIT_NPROC
  bounds a fork bomb and leftovers are swept by uid.
- Its own scratch folder, new for every run and gone afterwards (a tmpfs of the
  sandbox's mount namespace: nothing is written to the host disk).
- Of the host it sees only /usr, /etc (and /bin, /lib*, /sbin), its interpreter
  (the harness's venv and base installation, wherever they live: under /tmp, /opt
  or a home folder) and the toolchains the run names (found on the host's PATH,
  their install folders bound), all read-only at their host paths: no /root,
  /home, /work, /var, /run, /sys, nor the rest of /opt or the host's /tmp.
- Scrubbed environment: only PATH (the toolchains' folders, then the system's),
  LANG=C.UTF-8, HOME=TMPDIR=scratch, PYTHONDONTWRITEBYTECODE=1, PYTHONHASHSEED=0
  and PWD (bwrap --chdir sets it), plus what the caller passes in `env`. No
  secret of the harness (API keys, tokens) reaches the program.
- No stdin (/dev/null); no network (an empty network namespace with only
  loopback: not even the host's 127.0.0.1 services are reachable).
- No writes to the host file system outside the size-capped tmpfs mounts
  (read-only binds, and the program's uid owns nothing there anyway).
- Cannot signal host processes: they are not in its PID namespace, and the
  namespace's init is root-owned.
- Resource limits per process (limits.py says why each default has its value):
  wall clock 10 s, CPU 10 s, memory 1 GiB (address space and data; the JVM gets
  no address-space cap), 64 processes, 16 MiB per file, 64 MiB per tmpfs, 256
  open files, no core dumps, 64 KiB of stdout and of stderr kept.
- `run_python`: a pass needs exit code 0 AND a per-run random token (32 hex
  chars, made by the harness) as the last line of stdout. The wrapper reads the
  token from an inherited pipe and closes it before the program starts (it is
  not in argv, the environment or any file), runs the program as __main__, and
  prints the token only after the program's last line returned. So sys.exit(0),
  os._exit(0), raise SystemExit, quit(), exit(), an atexit hook calling
  os._exit(0) after a failing assert, a killed or crashed interpreter: all fail.
  So does a program that writes to stdout after its end (an atexit hook, a
  leftover thread or child): the token must be the last line.
- A missing toolchain is an error before anything runs (ToolchainMissing), never
  a run of failures.

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
  owns nothing), and so are the bound interpreter and toolchain folders (a venv
  under /work is visible at its path, as are an nvm or rustup toolchain folder).
- A toolchain whose launcher is a wrapper script that runs files outside its
  install folder (pyenv shims, some version managers' shims) is bound but may not
  run: put the real tool's folder first on PATH.
- CPU: two sandboxes compete for cores like any processes; timing-sensitive
  tests can flake under load (the timeout is wall clock).
- Timing side channels, /proc/meminfo, /proc/cpuinfo, kernel version: visible.
- unsafe_no_sandbox=True: none of the above except rlimits, timeout (for the
  process group only: a program that calls setsid can outlive it), scrubbed
  environment and the temp dir; as root RLIMIT_NPROC does not apply.
- Running as non-root (tests/eval/test_sandbox_nonroot.py runs it): bwrap then
  makes a user namespace and the program keeps the caller's uid, so RLIMIT_NPROC
  is raised by the caller's current process count, no by-uid sweep is done (the
  PID namespace still kills the tree), there is no fork server (every program is
  a one-shot run), and toolchains under another user's private home (e.g. /root)
  cannot be bound.
"""

from codecommons.eval.sandbox.forkserver import shutdown
from codecommons.eval.sandbox.limits import DEFAULT_LIMITS, SandboxLimits
from codecommons.eval.sandbox.runner import (
    INSTALL_HINT,
    PROGRAM_FILE,
    SandboxUnavailable,
    detect_mechanism,
    detect_notes,
    run,
    run_python,
)
from codecommons.eval.sandbox.toolchains import Tool, ToolchainMissing, find_tools
from codecommons.eval.sandbox.uids import sandbox_uid

__all__ = [
    "DEFAULT_LIMITS",
    "INSTALL_HINT",
    "PROGRAM_FILE",
    "SandboxLimits",
    "SandboxUnavailable",
    "Tool",
    "ToolchainMissing",
    "detect_mechanism",
    "detect_notes",
    "find_tools",
    "run",
    "run_python",
    "sandbox_uid",
    "shutdown",
]
