"""Skip markers for tests that need the sandbox, a toolchain or root.

Where bubblewrap or root is missing these tests are skipped with the reason (and
how to get it); where bubblewrap is installed but does not work, the tests that
use it fail with detection's reasons, since `commons eval` would not work either.
"""

from __future__ import annotations

import os
import shutil

import pytest

from codecommons.eval.sandbox import INSTALL_HINT
from codecommons.eval.sandbox.toolchains import INSTALL_HINTS

bwrap = pytest.mark.skipif(
    shutil.which("bwrap") is None,
    reason=f"bubblewrap is not installed, so no program can run sandboxed here ({INSTALL_HINT})")
root = pytest.mark.skipif(
    os.geteuid() != 0,
    reason="needs root: programs run as unprivileged per-worker uids (60000 + worker) and the "
           "fork server switches to them (CI runs as root)")


def tool(*names: str) -> pytest.MarkDecorator:
    """Skip unless every toolchain program in `names` is on PATH."""
    missing = [n for n in names if shutil.which(n) is None]
    hints = "; ".join(f"{n}: {INSTALL_HINTS.get(n, 'install it')}" for n in missing)
    return pytest.mark.skipif(bool(missing), reason=f"toolchain missing ({hints}); "
                                                    "`make test` installs it")


def task(cls):
    """Decorator: skip unless what `task_marks(cls)` names is here."""
    def decorate(f):
        for mark in task_marks(cls):
            f = mark(f)
        return f
    return decorate


def task_marks(cls) -> list[pytest.MarkDecorator]:
    """What running an eval task's checks needs: nothing for exact-match tasks, else
    the sandbox, the task's toolchain programs and its host files (a jar)."""
    if cls.metric == "exact_match":
        return []
    missing = {p: hint for p, hint in cls.host_files.items() if not os.path.exists(p)}
    files = pytest.mark.skipif(bool(missing), reason=f"missing {', '.join(missing)} "
                                                     f"({'; '.join(missing.values())})")
    return [bwrap, tool(*cls.tools), files]
