"""GET /v1/status: the model, engine and context, queue, and latency figures read
from the server's own Prometheus registry.

    python -m pytest tests/serve/test_routes_status.py -q
"""

from __future__ import annotations

import httpx
import pytest

from codecommons.serve.routes_status import quantile


def test_status_reflects_the_metrics(server, gguf_spec):
    before = httpx.get(server + "/v1/status").json()
    assert before["model"]["id"] == gguf_spec.id and before["engine"] == "llama.cpp"
    assert before["n_ctx"] == 512 and before["queue"]["max"] == 16
    assert before["public_code"]["mode"] == "off" and before["dataset"] is None
    assert before["repo_context"] is None  # no --repo
    for _ in range(2):
        r = httpx.post(server + "/v1/completions", json={"prompt": "def f(x):\n    ", "max_tokens": 8,
                                                         "temperature": 0, "ignore_eos": True})
        assert r.status_code == 200
    s = httpx.get(server + "/v1/status").json()
    assert s["requests"] >= before["requests"] + 3  # two completions and the first status call
    assert s["tokens"]["generated"] - before["tokens"]["generated"] == 16
    ttft = s["time_to_first_token_s"]
    assert ttft["count"] == before["time_to_first_token_s"]["count"] + 2
    assert 0 < ttft["mean"] < 60 and 0 < ttft["p50"] <= ttft["p95"]
    assert s["decode_tokens_per_second"]["mean"] > 0
    assert s["queue"]["depth"] == 0 and s["uptime_s"] >= 0


def test_quantile_interpolates_in_buckets():
    buckets = [(0.1, 2.0), (0.2, 6.0), (0.4, 10.0), (float("inf"), 10.0)]
    assert quantile(0.5, buckets, 10) == pytest.approx(0.175)  # 5th of 10: 3/4 into (0.1, 0.2]
    assert quantile(0.1, buckets, 10) == pytest.approx(0.05)
    assert quantile(0.5, buckets, 0) is None
    assert quantile(0.99, [(1.0, 1.0), (float("inf"), 10.0)], 10) == 1.0  # past the last bound
