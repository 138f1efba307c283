"""`commons serve` as a user starts it: a subprocess on a free loopback port.

    python -m pytest tests/serve/test_cli.py -q
"""

from __future__ import annotations

import subprocess
import sys
import time

import httpx

from tests.serve.live import free_port


def test_commons_serve_starts_serves_and_stops(tiny_gguf):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "codecommons", "serve", "--model",
                             str(tiny_gguf), "--port", str(port), "--api-key", "k",
                             "--threads", "1"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read()
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.2)
        r = httpx.post(url + "/v1/completions", headers={"Authorization": "Bearer k"},
                       json={"prompt": "def f():\n    ", "suffix": "\n", "max_tokens": 4})
        assert r.status_code == 200 and r.json()["object"] == "text_completion"
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    # uvicorn shuts down gracefully, then re-raises the SIGTERM it caught.
    assert proc.returncode in (0, -15), out
    assert "Finished server process" in out
    assert f"http://127.0.0.1:{port}" in out  # bound to loopback by default
