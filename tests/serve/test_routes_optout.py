"""The opt-out form's routes: validation, the pending queue, the per-address rate
limit, and administrator actions only with an API key. Runs against
codecommons.optout.requests, or its stand-in while that module is not merged.

    python -m pytest tests/serve/test_routes_optout.py -q
"""

from __future__ import annotations

import httpx
import pytest

from codecommons.serve.app import ServeOptions
from codecommons.serve.routes_optout import RateLimiter
from tests.serve.live import running_server
from tests.ui import optout_standin

FORM = {"name": "Jane Doe", "contact": "jane@example.org", "repos": ["github.com/jane/widgets"],
        "authors": ["jane@example.org"], "note": "please"}
KEY = {"Authorization": "Bearer sesame"}


@pytest.fixture
def queue(monkeypatch, tmp_path):
    monkeypatch.setenv("COMMONS_HOME", str(tmp_path))
    return optout_standin.install(monkeypatch)


@pytest.fixture
def open_url(gguf_engine, queue):
    with running_server(gguf_engine) as u:  # a fresh app: a fresh rate limiter
        yield u


@pytest.fixture
def keyed_url(gguf_engine, queue):
    with running_server(gguf_engine, ServeOptions(api_key="sesame")) as u:
        yield u


def test_submit_records_a_pending_request(open_url, queue):
    r = httpx.post(open_url + "/v1/optout/requests", json=FORM)
    assert r.status_code == 201
    req = r.json()["request"]
    assert req["status"] == "pending" and req["repos"] == ["github.com/jane/widgets"]
    assert [p.id for p in queue.pending()] == [req["id"]]


@pytest.mark.parametrize("change, field", [
    ({"contact": "not-an-email"}, "contact"),
    ({"repos": [], "authors": []}, "repo"),
    ({"authors": ["nobody"]}, "authors"),
])
def test_invalid_input_is_a_400_naming_the_field(open_url, queue, change, field):
    r = httpx.post(open_url + "/v1/optout/requests", json={**FORM, **change})
    assert r.status_code == 400 and field in r.json()["error"]["message"]
    assert queue.pending() == []


@pytest.mark.parametrize("body", [{**FORM, "name": ""}, {**FORM, "note": "x" * 5000},
                                  {**FORM, "repos": ["r"] * 101}, {**FORM, "extra": 1}])
def test_bounds_checked_before_the_queue(open_url, queue, body):
    assert httpx.post(open_url + "/v1/optout/requests", json=body).status_code == 400
    assert queue.pending() == []


def test_rate_limited_per_address(open_url, queue):
    for _ in range(5):
        assert httpx.post(open_url + "/v1/optout/requests", json=FORM).status_code == 201
    r = httpx.post(open_url + "/v1/optout/requests", json=FORM)
    assert r.status_code == 429 and r.json()["error"]["type"] == "rate_limit_error"
    assert 0 < int(r.headers["retry-after"]) <= 3600
    assert len(queue.pending()) == 5


def test_rate_limiter_window():
    lim = RateLimiter(limit=2, window_s=10)
    lim.record("a", now=0)
    lim.record("a", now=1)
    assert lim.retry_after("a", now=2) == 8 and lim.retry_after("b", now=2) == 0
    assert lim.retry_after("a", now=10.5) == 0  # the first one left the window


def test_admin_routes_need_a_server_with_a_key(open_url):
    r = httpx.get(open_url + "/v1/optout/requests")
    assert r.status_code == 403 and "--api-key" in r.json()["error"]["message"]
    assert httpx.post(open_url + "/v1/optout/requests/abc/approve").status_code == 403


def test_admin_lists_approves_and_rejects(keyed_url, queue):
    assert httpx.post(keyed_url + "/v1/optout/requests", json=FORM).status_code == 401
    ids = [httpx.post(keyed_url + "/v1/optout/requests", json=FORM, headers=KEY).json()["request"]["id"]
           for _ in range(2)]
    listed = httpx.get(keyed_url + "/v1/optout/requests", headers=KEY).json()["requests"]
    assert [r["id"] for r in listed] == ids
    r = httpx.post(keyed_url + f"/v1/optout/requests/{ids[0]}/approve", headers=KEY).json()
    assert r["status"] == "approved" and "commons index remove-repo" in r["message"]
    assert {e["value"] for e in r["entries"]} >= {"github.com/jane/widgets"}
    assert httpx.post(keyed_url + f"/v1/optout/requests/{ids[1]}/reject", headers=KEY).json()["status"] == "rejected"
    assert queue.pending() == []
    r = httpx.post(keyed_url + f"/v1/optout/requests/{ids[1]}/approve", headers=KEY)
    assert r.status_code == 404
