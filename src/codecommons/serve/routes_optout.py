"""The opt-out request form's routes, under /v1/optout/requests.

    POST /v1/optout/requests {"name", "contact", "repos": [...], "authors": [...], "note"?}
         -> 201 {"request": {...}}: a *pending* request in the opt-out registry's queue
    GET  /v1/optout/requests                      -> pending requests      (administrators)
    POST /v1/optout/requests/{id}/approve|reject  -> decide one            (administrators)

Nothing is removed by the form: `commons optout pending` lists the queue and
`commons optout approve ID` applies a request to the registry, after which the
next curation run, `commons index remove-repo` and the next training run exclude
it. The queue is codecommons.optout.requests (submit / pending / approve /
reject; it validates every field and raises ValueError naming the bad one), in
the default registry ($COMMONS_HOME/optout.jsonl).

The form is open to whoever can reach the server (with `--api-key`, to whoever
has the key), so each client address may record at most RATE_LIMIT requests per
RATE_WINDOW_S (429 beyond, with Retry-After). The address is the TCP peer's:
behind a reverse proxy every client shares the proxy's address, and the limit
becomes global, the safe direction. Administrator routes need a server started
with `--api-key` (the key then guards every route); without one they answer 403
and point to the CLI.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import deque
from dataclasses import asdict, is_dataclass

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from codecommons.serve import protocol_openai
from codecommons.serve.generation import RequestError

router = APIRouter(prefix="/v1/optout/requests")
RATE_LIMIT = 5
RATE_WINDOW_S = 3600.0
MAX_ITEMS = 100  # repositories or authors in one request


class RateLimiter:
    """At most `limit` events per `window_s` per key (a sliding window)."""

    def __init__(self, limit: int = RATE_LIMIT, window_s: float = RATE_WINDOW_S) -> None:
        self.limit, self.window_s = limit, window_s
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, key: str, now: float | None = None) -> float:
        """Seconds until `key` may act again (0: now)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            q = self._events.get(key)
            while q and q[0] <= now - self.window_s:
                q.popleft()
            if not q:
                self._events.pop(key, None)
                return 0.0
            return 0.0 if len(q) < self.limit else q[0] + self.window_s - now

    def record(self, key: str, now: float | None = None) -> None:
        with self._lock:
            self._events.setdefault(key, deque()).append(time.monotonic() if now is None else now)


class OptOutForm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    contact: str = Field(min_length=3, max_length=320)
    repos: list[str] = Field(default_factory=list, max_length=MAX_ITEMS)
    authors: list[str] = Field(default_factory=list, max_length=MAX_ITEMS)
    note: str = Field("", max_length=2000)


def _queue():
    try:
        from codecommons.optout import requests
    except ImportError as e:
        raise RequestError(f"the opt-out queue is not available in this installation ({e})",
                           code="optout_unavailable", status=501) from e
    return requests


def _admin(request: Request) -> None:
    if not request.app.state.ui.optout_admin:
        raise RequestError("managing opt-out requests over HTTP needs a server started with "
                           "--api-key; or use `commons optout pending|approve ID|reject ID`",
                           code="admin_disabled", status=403)


@router.post("", status_code=201)
async def submit(form: OptOutForm, request: Request):
    limiter = request.app.state.ui.optout_limiter
    client = request.client.host if request.client else "unknown"
    wait = limiter.retry_after(client)
    if wait > 0:
        body = protocol_openai.error_body(
            f"at most {limiter.limit} opt-out requests per hour from one address; "
            f"try again in {math.ceil(wait / 60)} minutes", "rate_limit_error", code="rate_limited")
        return JSONResponse(body, status_code=429, headers={"Retry-After": str(math.ceil(wait))})
    queue = _queue()
    try:
        # the registry is a file under a lock: off the event loop
        req = await asyncio.to_thread(queue.submit, form.name, form.contact, form.repos,
                                      form.authors, form.note)
    except ValueError as e:
        raise RequestError(str(e), code="invalid_optout_request") from e
    limiter.record(client)
    return {"request": asdict(req)}


@router.get("")
async def pending(request: Request) -> dict:
    _admin(request)
    return {"requests": [asdict(r) for r in await asyncio.to_thread(_queue().pending)]}


@router.post("/{request_id}/{action}")
async def decide(request_id: str, action: str, request: Request) -> dict:
    _admin(request)
    if action not in ("approve", "reject"):
        raise RequestError(f"unknown action {action!r}: approve or reject", status=404)
    queue = _queue()
    try:
        result = await asyncio.to_thread(getattr(queue, action), request_id)
    except (KeyError, ValueError) as e:
        raise RequestError(str(e).strip("'\""), param="id", code="optout_request_not_found",
                           status=404) from e
    if action == "reject":
        return {"id": request_id, "status": "rejected", "message": f"Request {request_id} rejected."}
    entries = [asdict(e) if is_dataclass(e) else e for e in (result or [])]
    return {"id": request_id, "status": "approved", "entries": entries,
            "message": f"Request {request_id} approved: {len(entries)} registry entr"
                       f"{'y' if len(entries) == 1 else 'ies'} added. The next curation run "
                       "leaves them out; update an index with `commons index remove-repo REPO "
                       "--index INDEX`."}
