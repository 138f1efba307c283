"""Evaluation reports for the web UI (`commons serve --reports DIR`), under /v1/reports.

Every folder below DIR holding a report.json (what `commons eval run|score`
writes, beside samples.jsonl and results.jsonl) is a report; DIR is scanned on
each listing, so new runs show without a restart. A report's id is its folder
relative to DIR; ids that leave DIR are refused.

    GET /v1/reports                          -> leaderboard rows: model, task, pass@k, mode, date, commit
    GET /v1/reports/detail?id=ID             -> report.json (less per-problem rows) and report.md
    GET /v1/reports/problems?id=ID&verdict=failed&offset=0&limit=50
                                             -> samples joined with their results: prompt,
                                                completion, verdict, stderr
    GET /v1/reports/chart?id=ID              -> report.png
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from pathlib import Path

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from codecommons.serve.generation import RequestError

log = logging.getLogger("codecommons.serve")
router = APIRouter(prefix="/v1/reports")
MAX_REPORTS = 1000


def reports_root(request: Request) -> Path:
    root = request.app.state.ui.reports
    if root is None:
        raise RequestError("this server has no reports folder: start it with `commons serve "
                           "--reports DIR` (the --out folder of `commons eval run`)",
                           code="reports_not_configured", status=404)
    return root


def report_dir(request: Request, report_id: str) -> Path:
    root = reports_root(request).resolve()
    d = (root / report_id).resolve()
    if not d.is_relative_to(root) or not (d / "report.json").is_file():
        raise RequestError(f"no report {report_id!r} under the reports folder", param="id",
                           code="report_not_found", status=404)
    return d


def summary(root: Path, d: Path, report: dict) -> dict:
    model = report.get("model")
    date = report.get("date") or dt.datetime.fromtimestamp(
        (d / "report.json").stat().st_mtime, dt.timezone.utc).isoformat(timespec="seconds")
    return {"id": d.relative_to(root).as_posix() or ".", "task": report.get("task", d.name),
            "model": (model or {}).get("id", "") if isinstance(model, dict) else str(model or ""),
            "metric": report.get("metric", ""), "metrics": report.get("metrics", {}),
            "mode": report.get("mode", ""), "n_problems": report.get("n_problems", 0),
            "n_samples": report.get("n_samples", 0), "date": date,
            "commit": report.get("git_commit", "") or "", "chart": (d / "report.png").is_file()}


@router.get("")
async def reports(request: Request) -> dict:
    root = reports_root(request).resolve()
    out = []
    for f in sorted(root.rglob("report.json"))[:MAX_REPORTS]:
        try:
            out.append(summary(root, f.parent, json.loads(f.read_text())))
        except (OSError, ValueError, AttributeError) as e:  # being written, or not ours
            log.warning("reports: %s not listed: %s", f, e)
    # best first within each task (the first metric: pass@1 or exact_match)
    out.sort(key=lambda r: (r["task"], -next(iter(r["metrics"].values()), 0), r["model"]))
    return {"reports": out}


@router.get("/detail")
async def detail(request: Request, id: str = Query(max_length=1000)) -> dict:
    d = report_dir(request, id)
    report = json.loads((d / "report.json").read_text())
    md = d / "report.md"
    return {**summary(reports_root(request).resolve(), d, report),
            "statuses": report.get("statuses", {}), "sampling": report.get("sampling", {}),
            "model_info": report.get("model", {}) if isinstance(report.get("model"), dict) else {},
            "markdown": md.read_text() if md.is_file() else ""}


@router.get("/problems")
async def problems(request: Request, id: str = Query(max_length=1000),
                   verdict: str = Query("all", pattern="^(all|passed|failed)$"),
                   offset: int = Query(0, ge=0), limit: int = Query(50, ge=1, le=500)) -> dict:
    d = report_dir(request, id)
    samples = {(r["task_id"], r.get("sample", 0)): r for r in _jsonl(d / "samples.jsonl")}
    rows = []
    for r in _jsonl(d / "results.jsonl"):
        if verdict != "all" and bool(r.get("passed")) != (verdict == "passed"):
            continue
        s = samples.get((r["task_id"], r.get("sample", 0)), {})
        rows.append({"task_id": r["task_id"], "sample": r.get("sample", 0),
                     "prompt": s.get("prompt"), "completion": s.get("completion", ""),
                     "passed": bool(r.get("passed")), "status": r.get("status", ""),
                     "stderr": r.get("stderr", "") or "", "duration": r.get("duration")})
    rows.sort(key=lambda r: (_natural(r["task_id"]), r["sample"]))  # results come in finishing order
    return {"total": len(rows), "samples": rows[offset:offset + limit]}


@router.get("/chart")
async def chart(request: Request, id: str = Query(max_length=1000)) -> Response:
    png = report_dir(request, id) / "report.png"
    if not png.is_file():
        raise RequestError(f"report {id!r} has no report.png", param="id", status=404)
    return Response(png.read_bytes(), media_type="image/png")


def _natural(task_id: str) -> list:
    """HumanEval/9 before HumanEval/10."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", task_id)]


def _jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a torn last line of a run still writing
    return rows
