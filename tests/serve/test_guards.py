"""What protects the server: API keys, body limits, the bounded queue, disconnects.

    python -m pytest tests/serve/test_guards.py -q
"""

from __future__ import annotations

import socket
import threading
import time

import httpx
import openai
import pytest

from codecommons.serve.app import ServeOptions
from tests.serve.live import running_server

BODY = {"prompt": "def f(x):\n", "max_tokens": 4}


class SlowEngine:
    """Wraps a real engine: each token waits on a gate, and tokens are counted, so a
    test can hold generations open and see exactly when they stop."""

    def __init__(self, engine, delay: float = 0.05):
        self._engine, self.delay, self.tokens = engine, delay, 0
        self.gate = threading.Event()
        self.gate.set()

    def __getattr__(self, name):
        return getattr(self._engine, name)

    def generate(self, prompt, params, cancel, key="", stats=None):
        for tok in self._engine.generate(prompt, params, cancel, key, stats):
            self.gate.wait()
            time.sleep(self.delay)
            self.tokens += 1
            yield tok


def test_api_key_required_except_health(gguf_engine):
    with running_server(gguf_engine, ServeOptions(api_key="s3cret")) as url:
        assert httpx.get(url + "/health").status_code == 200
        r = httpx.post(url + "/v1/completions", json=BODY)
        assert r.status_code == 401
        assert r.json()["error"]["type"] == "authentication_error"
        r = httpx.post(url + "/generate", json={"inputs": "x"},
                       headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401 and r.json()["error_type"] == "authentication"
        assert httpx.get(url + "/metrics").status_code == 401
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=url + "/v1", api_key="wrong", max_retries=0).models.list()
        ok = openai.OpenAI(base_url=url + "/v1", api_key="s3cret", max_retries=0)
        assert ok.completions.create(model="", prompt="x", max_tokens=1).choices


def test_body_over_limit_is_413_even_without_content_length(gguf_engine):
    with running_server(gguf_engine, ServeOptions(max_body_bytes=1000)) as url:
        r = httpx.post(url + "/v1/completions", json={"prompt": "x" * 5000})
        assert r.status_code == 413 and "1000 bytes" in r.json()["error"]["message"]

        def chunks():  # chunked transfer: no Content-Length to trust
            for _ in range(10):
                yield b" " * 500

        r = httpx.post(url + "/v1/completions", content=chunks(),
                       headers={"content-type": "application/json"})
        assert r.status_code == 413
        r = httpx.post(url + "/generate", json={"inputs": "x" * 5000})
        assert r.status_code == 413 and r.json()["error_type"] == "validation"
        assert httpx.post(url + "/v1/completions", json=BODY).status_code == 200


def test_full_queue_is_503_openai_and_429_tgi(gguf_engine):
    slow = SlowEngine(gguf_engine)
    slow.gate.clear()  # hold the first generation
    with running_server(slow, ServeOptions(max_queue=1)) as url:
        first = threading.Thread(target=httpx.post, args=(url + "/v1/completions",),
                                 kwargs={"json": BODY, "timeout": 60})
        first.start()
        deadline = time.monotonic() + 10
        while "commons_queue_depth 1.0" not in httpx.get(url + "/metrics").text:
            assert time.monotonic() < deadline, "first request never admitted"
            time.sleep(0.02)
        r = httpx.post(url + "/v1/completions", json=BODY)
        assert r.status_code == 503 and r.json()["error"]["type"] == "server_overloaded"
        r = httpx.post(url + "/generate", json={"inputs": "x"})
        assert r.status_code == 429 and r.json()["error_type"] == "overloaded"
        r = httpx.post(url + "/v1/completions", json={**BODY, "stream": True})
        assert r.status_code == 503  # refused before the stream starts
        slow.gate.set()
        first.join(timeout=60)
        assert httpx.post(url + "/v1/completions", json=BODY).status_code == 200


@pytest.mark.parametrize("stream", [True, False])
def test_disconnect_cancels_generation_within_a_token_or_two(gguf_engine, stream):
    slow = SlowEngine(gguf_engine, delay=0.1)
    with running_server(slow, ServeOptions()) as url:
        port = int(url.rsplit(":", 1)[1])
        body = ('{"prompt": "import os\\n", "max_tokens": 200, "ignore_eos": true, '
                f'"stream": {"true" if stream else "false"}}}').encode()
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        deadline = time.monotonic() + 10
        while slow.tokens < 3:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        sock.close()
        at_close = slow.tokens
        time.sleep(1.0)  # ten tokens' worth of time
        assert slow.tokens - at_close <= 2
        assert httpx.post(url + "/v1/completions", json=BODY).status_code == 200
