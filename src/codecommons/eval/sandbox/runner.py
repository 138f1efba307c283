"""`run` and `run_python`: one program in a sandbox, and the mechanism detection.

`run(cmd, files, tools=...)` writes `files` into a fresh scratch folder, runs `cmd`
there in a new bubblewrap sandbox and returns an ExecutionResult. `run_python`
runs a Python program through the worker's fork server (forkserver.py) or, with
`fresh_interpreter=True` or another interpreter, through `run` with a small
wrapper that prints the completion token after the program's last line.
"""

from __future__ import annotations

import functools
import os
import secrets
from typing import Mapping, Sequence

from codecommons.eval.sandbox import forkserver
from codecommons.eval.sandbox.limits import DEFAULT_LIMITS, SandboxLimits
from codecommons.eval.sandbox.mechanisms import BWRAP_HINT, check_files, get_mechanism
from codecommons.eval.sandbox.pipes import Raw, SpawnError, execute
from codecommons.eval.sandbox.result import classify, python_verdict
from codecommons.eval.sandbox.toolchains import find_tools, interpreter, is_own_python
from codecommons.eval.sandbox.uids import is_root, sandbox_uid, sweep_uid, worker_slot
from codecommons.eval.sandbox.view import View, make_view
from codecommons.types import ExecutionResult

INSTALL_HINT = BWRAP_HINT
PROGRAM_FILE = "program.py"


class SandboxUnavailable(RuntimeError):
    """No working sandbox mechanism and unsafe_no_sandbox was not given."""


# -- detection ---------------------------------------------------------------------------

_detect_notes: list[str] = []


def _probe(name: str) -> str | None:
    """None if mechanism `name` runs a trivial command, else why not."""
    why = get_mechanism(name).problem()
    if why is not None:
        return why
    try:
        res, _ = _run(["true"], {}, SandboxLimits(timeout_s=20), 0, False, None, make_view(),
                      name, None)
    except Exception as e:  # noqa: BLE001 - report any failure as "does not work"
        return f"{type(e).__name__}: {e}"
    if res.status != "passed":
        return f"{res.status}: {res.detail}; {res.stderr_tail.strip()[-500:]}"
    return None


@functools.lru_cache(maxsize=None)
def detect_mechanism() -> str | None:
    """"bwrap" when bubblewrap runs a trivial command here, else None (decided once
    per process; the reasons are kept for the error message)."""
    _detect_notes.clear()
    why = _probe("bwrap")
    if why is None:
        return "bwrap"
    _detect_notes.append(f"bwrap: {why}")
    return None


def detect_notes() -> list[str]:
    """Why detection found no sandbox (empty when it found one or did not run)."""
    return list(_detect_notes)


def _unavailable_message() -> str:
    notes = "; ".join(_detect_notes) or "detection did not run"
    return (f"No working sandbox for untrusted code: install bubblewrap (`{INSTALL_HINT}`). "
            f"Details: {notes}. To run model output WITHOUT isolation anyway pass "
            "unsafe_no_sandbox=True (CLI: --unsafe-no-sandbox).")


# -- one program --------------------------------------------------------------------------

_SECRET_FD = object()  # placeholder in cmd for the fd number of the secret pipe


def _choose(mechanism: str | None, unsafe_no_sandbox: bool) -> str:
    if mechanism is None:
        mechanism = detect_mechanism()
    if mechanism is None:
        if not unsafe_no_sandbox:
            raise SandboxUnavailable(_unavailable_message())
        mechanism = "unsafe"
    return mechanism


def _run(cmd, files, limits, worker, unsafe_no_sandbox, env, view: View, mechanism,
         secret: bytes | None) -> tuple[ExecutionResult, Raw | None]:
    checked = check_files(files or {})
    uid = sandbox_uid(worker)
    mech = get_mechanism(_choose(mechanism, unsafe_no_sandbox))
    secret_r = None
    if secret is not None:
        secret_r, secret_w = os.pipe()
        os.write(secret_w, secret)
        os.close(secret_w)
    argv_cmd = [str(secret_r) if c is _SECRET_FD else c for c in cmd]
    try:
        with worker_slot(uid):
            launch = mech.launch(argv_cmd, checked, limits, uid, env, view)
            if secret_r is not None:
                launch.pass_fds.append(secret_r)
                secret_r = None
            try:
                raw = execute(launch, limits)
            except SpawnError as e:
                return ExecutionResult("error", None, "", "", 0.0, False, str(e)), None
            finally:
                launch.close()
                if mech.sweeps_uid and is_root():
                    sweep_uid(uid)
    finally:
        if secret_r is not None:
            os.close(secret_r)
    started, rc = mech.program_exit(raw)
    return classify(raw, started, rc, mech.name), raw


def run(
    cmd: Sequence[str],
    files: Mapping[str, str | bytes] | None = None,
    limits: SandboxLimits = DEFAULT_LIMITS,
    worker: int = 0,
    unsafe_no_sandbox: bool = False,
    *,
    tools: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    ro_binds: Sequence[str] = (),
    mechanism: str | None = None,
) -> ExecutionResult:
    """Run `cmd` (argv; cwd = a fresh scratch folder holding `files`) in the sandbox.

    `files` maps relative paths to contents. `worker` picks the sandbox uid
    (60000 + worker): give each concurrent caller its own. `tools` names the
    programs `cmd` needs (e.g. ("javac", "java")): each is looked up on the host's
    PATH and bound read-only wherever it is installed (toolchains.py); a missing
    one raises ToolchainMissing before anything runs. `env` adds variables to the
    scrubbed environment; `ro_binds` adds host paths, read-only at the same path.
    `mechanism` forces "bwrap" or "unsafe" (tests); by default the detected one.
    Raises SandboxUnavailable when there is no working sandbox and
    `unsafe_no_sandbox` is false.
    """
    view = make_view(find_tools(tools), ro_binds)
    result, _ = _run(list(cmd), files, limits, worker, unsafe_no_sandbox, env, view,
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
    others. `python` is the interpreter (a name on PATH or a path; default: the
    one running the harness). With bubblewrap as root and the harness's own
    interpreter, the program runs in a fork of the worker's fork server
    (forkserver.py); `fresh_interpreter=True` runs it in a new sandbox and a new
    interpreter instead (~40 ms more per program).
    """
    token = secrets.token_hex(16)
    all_files = dict(files or {})
    all_files[PROGRAM_FILE] = program
    mech = mechanism if mechanism is not None else detect_mechanism()
    if not fresh_interpreter and mech == "bwrap" and is_root() and is_own_python(python):
        checked = check_files(all_files)
        result, raw = forkserver.run(checked, dict(checked)[PROGRAM_FILE], limits, worker, env,
                                     token.encode(), make_view())
    else:
        tool = interpreter(python)
        cmd = [tool.path, "-c", _PY_WRAPPER, _SECRET_FD, PROGRAM_FILE]
        result, raw = _run(cmd, all_files, limits, worker, unsafe_no_sandbox, env,
                           make_view((tool,)), mechanism, token.encode())
    if raw is None:
        return result
    return python_verdict(result, raw, token)
