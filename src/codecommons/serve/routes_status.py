"""GET /v1/status: what the web UI's status page shows, from the server's own
Prometheus registry (serve/metrics.py) read in-process: the model, engine and
context size, queue depth, request and token counts, time to first token and
decode speed (mean, and p50/p95 interpolated in the histogram's buckets as
Prometheus' histogram_quantile does), and what the server checks.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Request

from codecommons import __version__
from codecommons.engines.base import DEFAULT_ENGINE_FOR_FORMAT
from codecommons.serve.state import ServerState

router = APIRouter()


def histogram(registry, name: str) -> dict:
    """{mean, p50, p95, count} of a Histogram (None where there is no observation)."""
    count = registry.get_sample_value(f"{name}_count") or 0.0
    total = registry.get_sample_value(f"{name}_sum") or 0.0
    buckets = []
    for metric in registry.collect():
        if metric.name == name:
            buckets = sorted((float(s.labels["le"]), s.value) for s in metric.samples
                             if s.name == f"{name}_bucket")
    return {"mean": total / count if count else None, "p50": quantile(0.5, buckets, count),
            "p95": quantile(0.95, buckets, count), "count": int(count)}


def quantile(q: float, buckets: list[tuple[float, float]], count: float) -> float | None:
    """Linear interpolation inside the bucket holding the q-th observation;
    above the last finite bound, that bound."""
    if not count:
        return None
    rank, lower, below = q * count, 0.0, 0.0
    for upper, cumulative in buckets:
        if cumulative >= rank:
            if upper == float("inf"):
                return lower
            inside = cumulative - below
            return lower + (upper - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = upper, cumulative
    return lower


@router.get("/v1/status")
async def status(request: Request) -> dict:
    st = ServerState.of(request)
    ui = request.app.state.ui
    reg = st.metrics.registry

    def value(name: str, **labels: str) -> float:
        return reg.get_sample_value(name, labels or None) or 0.0

    requests = sum(s.value for m in reg.collect() if m.name == "commons_requests"
                   for s in m.samples if s.name == "commons_requests_total")
    spec, policy, gen = st.engine.spec, st.public_code, st.generation
    return {
        "version": __version__,
        "model": {"id": spec.id, "family": spec.family, "license": spec.license,
                  "format": spec.format, "context_length": spec.context_length},
        "engine": "remote" if st.engine.remote else DEFAULT_ENGINE_FOR_FORMAT.get(spec.format, spec.format),
        "n_ctx": st.engine.n_ctx,
        "fim_context_tokens": gen.infill.context_tokens or None,  # the file's window (None: uncapped)
        "repo_context": {"mode": gen.repo_context, "tokens": gen.repo_context_tokens,
                         "repos": [str(r.root) for r in gen.repos]} if gen.repos else None,
        "queue": {"depth": st.scheduler.depth, "max": st.scheduler.max_queue},
        "requests": int(requests),
        "tokens": {"prompt": int(value("commons_prompt_tokens_total")),
                   "cached": int(value("commons_prompt_tokens_cached_total")),
                   "generated": int(value("commons_generated_tokens_total"))},
        "time_to_first_token_s": histogram(reg, "commons_time_to_first_token_seconds"),
        "decode_tokens_per_second": histogram(reg, "commons_decode_tokens_per_second"),
        "public_code": {"mode": policy.mode if policy else "off",
                        "matched": int(value("commons_public_code_suggestions_total", outcome="matched")),
                        "blocked": int(value("commons_public_code_suggestions_total", outcome="blocked")),
                        "min_chars": policy.min_chars if policy else None},
        "dataset": {"path": str(ui.dataset.root), "files": ui.dataset.n_files} if ui.dataset else None,
        "reports": str(ui.reports) if ui.reports else None,
        "optout_admin": ui.optout_admin,
        "api_key": ui.api_key,
        "uptime_s": round(time.time() - st.created, 1),
    }
