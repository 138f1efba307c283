"""The two ways a program is started (sandbox/mechanisms.py) beyond the root +
bubblewrap path the spec tests cover: bubblewrap as an unprivileged user (a
developer's laptop), and no sandbox at all (--unsafe-no-sandbox), with what each
still guarantees.

    python -m pytest tests/eval/sandbox/test_mechanisms.py -q       (~10 s)
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from codecommons.eval.sandbox import SandboxLimits, SandboxUnavailable, run, run_python, runner
from tests.eval import needs

SRC = Path(__file__).resolve().parents[3] / "src"
NOBODY = 65534

NON_ROOT_HARNESS = r"""
import dataclasses, json, os, sys
from codecommons.eval import sandbox
mech = sandbox.detect_mechanism()
if mech is None:
    print(json.dumps({"unavailable": sandbox.detect_notes()}))
    raise SystemExit(0)
programs = {
    "who": "import os; print(os.getuid(), os.path.exists(%r))" % sys.argv[1],
    "early_exit": "import sys; sys.exit(0)\nassert False\n",
    "write_outside": "open(%r, 'w').write('x')" % (sys.argv[1] + "/canary"),
    "network": "import socket; socket.create_connection(('127.0.0.1', %s), timeout=2)"
               % sys.argv[2],
}
out = {"uid": os.getuid(), "mechanism": mech}
for name, program in programs.items():
    out[name] = dataclasses.asdict(sandbox.run_python(program))
out["shell"] = dataclasses.asdict(sandbox.run(["sh", "-c", "echo $HOME; id -u"]))
print(json.dumps(out))
"""


def non_root_python() -> list[str] | None:
    """argv prefix running Python as an unprivileged user, or None if impossible."""
    if os.geteuid() != 0:
        return [sys.executable]
    python = shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin")
    if python is None or shutil.which("setpriv") is None:
        return None
    readable = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}",
                               "--clear-groups", python, "-c",
                               f"import os; os.listdir({str(SRC)!r})"],
                              capture_output=True)
    if readable.returncode != 0:
        return None
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", python]


@needs.bwrap
def test_bubblewrap_as_an_unprivileged_user(tmp_path):
    """No root: bwrap makes a user namespace, the program keeps the caller's uid,
    every program is a one-shot run, and the sandbox still isolates it."""
    argv = non_root_python()
    if argv is None:
        pytest.skip("cannot run Python as an unprivileged user here (no system python3 "
                    "readable by nobody, or no setpriv)")
    host_dir = tmp_path / "host-only"
    host_dir.mkdir()
    host_dir.chmod(0o777)
    tmp_path.chmod(0o755)
    canary = socket.create_server(("127.0.0.1", 0))  # a host service on loopback
    canary.setblocking(False)
    port = canary.getsockname()[1]
    with canary:
        done = subprocess.run(argv + ["-c", NON_ROOT_HARNESS, str(host_dir), str(port)],
                              capture_output=True, text=True, timeout=120, cwd="/",
                              env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(SRC)})
        with pytest.raises(BlockingIOError):
            canary.accept()  # nobody connected
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout)
    if "unavailable" in out:
        pytest.skip(f"bubblewrap does not work for an unprivileged user here: {out['unavailable']}")
    assert out["uid"] != 0 and out["mechanism"] == "bwrap"
    assert out["who"]["status"] == "passed", out["who"]
    assert out["who"]["stdout"].split() == [str(out["uid"]), "False"]  # host folder not there
    assert out["early_exit"]["status"] == "failed"
    assert "did not run to its end" in out["early_exit"]["detail"]
    assert out["write_outside"]["status"] == "failed"
    assert not (host_dir / "canary").exists()
    assert out["network"]["status"] == "failed"
    assert out["shell"]["status"] == "passed"
    assert out["shell"]["stdout"].split() == ["/scratch", str(out["uid"])]


def test_unsafe_only_when_asked_and_keeps_its_limits(monkeypatch, tmp_path):
    """Where no sandbox works, nothing runs unless unsafe_no_sandbox is given; then
    the program still gets the completion-token rule, the wall-clock timeout, the
    rlimits and a scrubbed environment in a temp folder of its own."""
    monkeypatch.setattr(runner, "detect_mechanism", lambda: None)
    with pytest.raises(SandboxUnavailable, match="apt-get install -y bubblewrap"):
        run_python("print('hi')\n")
    with pytest.raises(SandboxUnavailable, match="--unsafe-no-sandbox"):
        run(["true"])
    res = run_python("print('hi')\n", unsafe_no_sandbox=True)
    assert (res.status, res.stdout) == ("passed", "hi\n"), res

    res = run_python("import sys\nsys.exit(0)\nassert False\n", unsafe_no_sandbox=True)
    assert res.status == "failed" and "did not run to its end" in res.detail

    limits = SandboxLimits(timeout_s=1.0, cpu_s=5)
    res = run_python("while True:\n    pass\n", limits, unsafe_no_sandbox=True)
    assert res.status == "timeout" and res.duration_s < 5

    res = run_python("x = bytearray(10**10)\n", unsafe_no_sandbox=True)  # RLIMIT_AS
    assert res.status == "failed" and "MemoryError" in res.stderr_tail

    secret = "sk-" + secrets.token_hex(16)
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    res = run(["sh", "-c", "env; pwd; cat data.txt"], {"data.txt": "given\n"},
              unsafe_no_sandbox=True)
    assert res.status == "passed", res
    assert secret not in res.stdout
    lines = res.stdout.splitlines()
    cwd = lines[-2]
    assert lines[-1] == "given" and f"HOME={cwd}" in lines and cwd != os.getcwd()
    assert not os.path.exists(cwd)  # its temp folder is gone afterwards
