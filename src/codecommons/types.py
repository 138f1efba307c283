"""Small record types shared between subsystems (eval, serve, data).

Keep this module dependency-free and small: plain dataclasses only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ExecutionStatus = Literal["passed", "failed", "timeout", "error"]


@dataclass
class ExecutionResult:
    """The outcome of running one program in the eval sandbox.

    status: "passed" (exit code 0, and for `run_python` the program provably ran
        to its last line), "failed" (anything else the program did), "timeout"
        (wall-clock or CPU-time limit hit), "error" (the harness could not run
        the program at all, e.g. the sandbox failed to start).
    returncode: the program's exit code; 128+N when it was killed by signal N
        inside the sandbox, -N when killed by signal N without one; None when
        the program never ran or was killed by the harness on timeout.
    stdout: the first `output_bytes` of standard output (decoded, invalid UTF-8
        replaced); for `run_python` the completion token line is removed.
    stderr_tail: the last `output_bytes` of standard error.
    duration_s: wall-clock seconds from start to the end of the sandbox.
    truncated: whether stdout or stderr was longer than the cap.
    detail: a short human-readable reason for a non-pass ("" when passed).
    """

    status: ExecutionStatus
    returncode: int | None
    stdout: str
    stderr_tail: str
    duration_s: float
    truncated: bool = False
    detail: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "passed"
