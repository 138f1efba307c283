"""Evaluation reports for the web UI: folders of `commons eval` output under
--reports, made here by the real execute and score stages.

    python -m pytest tests/serve/test_routes_reports.py -q
"""

from __future__ import annotations

import httpx
import pytest

from codecommons.serve.app import ServeOptions
from tests.serve.live import running_server
from tests.ui.data import XSS, eval_report


@pytest.fixture(scope="module")
def url(gguf_engine, tmp_path_factory):
    root = tmp_path_factory.mktemp("reports")
    eval_report(root / "run-a")
    (root / "broken").mkdir()
    (root / "broken" / "report.json").write_text("{not json")
    with running_server(gguf_engine, ServeOptions(reports=str(root))) as u:
        yield u


def test_leaderboard_lists_each_report(url):
    (r,) = httpx.get(url + "/v1/reports").json()["reports"]  # the broken one is left out
    assert (r["id"], r["task"], r["model"], r["mode"], r["n_problems"]) == (
        "run-a/humaneval", "humaneval", "planted-samples", "base", 3)
    assert r["metrics"] == {"pass@1": pytest.approx(2 / 3)} and r["chart"] and r["date"]
    assert r["commit"]


def test_detail_and_chart(url):
    d = httpx.get(url + "/v1/reports/detail", params={"id": "run-a/humaneval"}).json()
    assert d["statuses"] == {"passed": 2, "failed": 1} and d["markdown"].startswith("# humaneval")
    png = httpx.get(url + "/v1/reports/chart", params={"id": "run-a/humaneval"})
    assert png.headers["content-type"] == "image/png" and png.content[:4] == b"\x89PNG"


def test_problems_join_samples_and_results(url):
    r = httpx.get(url + "/v1/reports/problems", params={"id": "run-a/humaneval"}).json()
    assert r["total"] == 3
    ids = [s["task_id"] for s in r["samples"]]
    assert ids == ["HumanEval/0", "HumanEval/1", "HumanEval/2"]
    failed = httpx.get(url + "/v1/reports/problems", params={"id": "run-a/humaneval", "verdict": "failed"}).json()
    (f,) = failed["samples"]
    assert f["task_id"] == "HumanEval/1" and f["status"] == "failed" and f["stderr"]
    assert f["prompt"].startswith("from typing import List")
    passed = r["samples"][2]
    assert passed["passed"] and XSS in passed["completion"]


def test_ids_outside_the_folder_are_refused(url):
    for bad in ("../", "/etc", "run-a/../../", "nope"):
        r = httpx.get(url + "/v1/reports/detail", params={"id": bad})
        assert r.status_code == 404 and r.json()["error"]["code"] == "report_not_found"


def test_without_reports_folder(server):
    r = httpx.get(server + "/v1/reports")
    assert r.status_code == 404 and "--reports DIR" in r.json()["error"]["message"]
