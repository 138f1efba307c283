"""A run's verdict: passed / failed / timeout / error, from what came back.

  - timeout: the wall clock ran out (the whole tree was killed), or RLIMIT_CPU
    killed the program (SIGXCPU);
  - error: the sandbox did not start the program at all (nothing was measured);
  - passed: exit code 0; for `run_python`, also the per-run completion token as
    the last line of stdout, printed only after the program's last line returned
    (so sys.exit(0), os._exit(0), quit() before the tests, or output written after
    the end by an atexit hook or a leftover thread, all fail);
  - failed: anything else.
"""

from __future__ import annotations

import signal

from codecommons.eval.sandbox.pipes import Raw
from codecommons.types import ExecutionResult


def classify(raw: Raw, started: bool, rc: int | None, where: str) -> ExecutionResult:
    """`started`/`rc`: whether the program started and its exit code, as the
    mechanism `where` ("bwrap", "forkserver", "unsafe") reports them."""
    stdout = bytes(raw.out.buf).decode("utf-8", "replace")
    stderr = raw.err.value().decode("utf-8", "replace")
    truncated = raw.out.total > raw.out.cap or raw.err.total > raw.err.cap
    if raw.timed_out:
        return ExecutionResult("timeout", None, stdout, stderr, raw.duration_s, truncated,
                               "wall-clock timeout: the process tree was killed")
    if not started:
        return ExecutionResult("error", raw.returncode, stdout, stderr, raw.duration_s, truncated,
                               f"the {where} sandbox failed to start the program")
    xcpu = int(signal.SIGXCPU)
    if rc in (128 + xcpu, -xcpu):
        return ExecutionResult("timeout", rc, stdout, stderr, raw.duration_s, truncated,
                               "CPU time limit (RLIMIT_CPU)")
    if rc == 0:
        return ExecutionResult("passed", 0, stdout, stderr, raw.duration_s, truncated, "")
    return ExecutionResult("failed", rc, stdout, stderr, raw.duration_s, truncated,
                           f"exit code {rc}")


def python_verdict(result: ExecutionResult, raw: Raw, token: str) -> ExecutionResult:
    """run_python's rule: a pass also needs `token` as the last line of stdout. The
    token line is removed from stdout, and the token never handed on."""
    marker = "\n" + token + "\n"
    completed = bytes(raw.out.tail).decode("utf-8", "replace").endswith(marker)
    stdout = result.stdout
    if completed and stdout.endswith(marker):
        stdout = stdout[: -len(marker)]
    result.stdout = stdout.replace(token, "<token>")
    if result.status == "passed" and not completed:
        result.status = "failed"
        result.detail = ("exit code 0 but the program did not run to its end "
                         "(no completion token: sys.exit, os._exit, quit or similar)")
    return result
