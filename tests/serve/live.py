"""Run the real app under uvicorn on a free loopback port, in a thread."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import httpx

from codecommons.engines.base import Token
from codecommons.serve.app import ServeOptions, build_app
from codecommons.serve.http import HttpLimits, server as http_server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(engine, opts: ServeOptions | None = None, wrap=None, limits: HttpLimits | None = None):
    """`wrap(app) -> ASGI app` puts middleware in front (e.g. to record requests)."""
    port = free_port()
    app = build_app(engine, opts)
    stop_all = app.state.commons.stop_all
    app = wrap(app) if wrap else app
    server = http_server(app, "127.0.0.1", port, limits, log_level="warning", on_shutdown=stop_all)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.05)
    else:
        raise RuntimeError("test server did not start within 30 s")
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=30)


class ScriptedEngine:
    """Wraps a real engine but generates a fixed text, token by token (a model
    that has memorised a credential)."""

    def __init__(self, engine, text: str, *more: str):
        self._engine, self.texts, self.calls = engine, [text, *more], 0

    def __getattr__(self, name):
        return getattr(self._engine, name)

    def generate(self, prompt, params, cancel: threading.Event, key="", stats=None):
        """Texts in turn, one per call; the last one repeats."""
        text = self.texts[min(self.calls, len(self.texts) - 1)]
        self.calls += 1
        for i in range(0, len(text), 4):
            yield Token(-1, text[i:i + 4])

    def chat(self, messages, params, cancel, key="", stats=None):
        return self.generate(None, params, cancel)
