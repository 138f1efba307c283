"""What every route shares: the engine, its queue, the metrics, and the sample loop."""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from typing import AsyncIterator

from fastapi import Request

from codecommons.engines.base import Engine, SamplingParams
from codecommons.serve.generation import Delta, Done, Generation, Prepared, RequestError
from codecommons.serve.metrics import Metrics
from codecommons.serve.public_code import PublicCodePolicy
from codecommons.serve.scheduler import Scheduler

DISCONNECT_POLL_S = 0.05


@dataclass
class ServerState:
    engine: Engine
    generation: Generation
    scheduler: Scheduler
    metrics: Metrics
    created: int
    stream_interval_s: float = 0.05
    public_code: PublicCodePolicy | None = None  # --index: the code index and its policy
    max_prompts: int = 64  # prompts x n per request

    @classmethod
    def of(cls, request: Request) -> "ServerState":
        return request.app.state.commons

    @property
    def model_id(self) -> str:
        return self.engine.spec.id

    def check_model(self, name: str | None) -> None:
        """OpenAI clients must name the model; an unknown name is a 404."""
        if name and name not in (self.model_id, self.engine.spec.path):
            raise RequestError(f"The model `{name}` does not exist; this server serves "
                               f"`{self.model_id}` (see GET /v1/models)",
                               param="model", code="model_not_found", status=404)

    def stop_all(self) -> None:
        """Shutdown: cancel every generation, queued or running."""
        self.scheduler.cancel_all()
        self.engine.cancel_all()

    def check_fanout(self, n_prompts: int, n: int) -> None:
        """prompts x n is bounded (--max-prompts): each is a generation of its own."""
        if n_prompts * n > self.max_prompts:
            raise RequestError(f"{n_prompts} prompts x n={n} asks for {n_prompts * n} "
                               f"generations; this server takes at most {self.max_prompts} per "
                               f"request (--max-prompts)", param="prompt", code="too_many_prompts")

    @staticmethod
    def document_key(request: Request, path: str | None) -> str:
        """Which document a request completes, per client: a newer request for it
        supersedes an older one, and its KV cache is kept apart from other documents'.
        Without a `path` requests are not grouped."""
        if not path:
            return ""
        client = request.client.host if request.client else ""
        auth = request.headers.get("authorization", "")
        return f"{client}|{hash(auth)}|{path}"

    def sample(self, prep: Prepared, params: SamplingParams, stream: bool = True,
               key: str = "") -> AsyncIterator[Delta | Done]:
        """Queue one generation (raises QueueFull now) and record its metrics.
        Streams get their text at most `stream_interval_s` late; others at the end.
        `key` names the document: a newer request for it cancels this one, and the
        engine keeps its cache apart from other documents'."""
        t0 = time.perf_counter()
        flush_s = self.stream_interval_s if stream else math.inf
        job = self.scheduler.start(lambda cancel: self.generation.run(prep, params, cancel, key),
                                   flush_s, key)

        async def events() -> AsyncIterator[Delta | Done]:
            ttft = None
            async for ev in job:
                if ttft is None and isinstance(ev, Delta):
                    ttft = time.perf_counter() - t0
                if isinstance(ev, Done):
                    ev.ttft_s, ev.total_s = ttft, time.perf_counter() - t0
                    self.metrics.observe_generation(ev.n_prompt, ev.n_cached, ev.n_generated,
                                                    ttft, time.perf_counter() - t0,
                                                    ev.stats.n_shifted, ev.stats.n_evaluated)
                    for kind, n in ev.scrubbed.items():
                        self.metrics.scrubbed.labels(kind).inc(n)
                    if ev.attribution:
                        self.metrics.public_code.labels("blocked" if ev.blocked else "matched").inc()
                yield ev

        return events()


async def collect(request: Request, events: AsyncIterator[Delta | Done]) -> tuple[str, Done]:
    """Gather a whole sample for a non-streaming response, cancelling it if the
    client disconnects while we wait."""

    async def gather() -> tuple[str, Done]:
        text, done = [], None
        async for ev in events:
            if isinstance(ev, Delta):
                text.append(ev.text)
            else:
                done = ev
        return "".join(text), done

    task = asyncio.ensure_future(gather())
    try:
        while not task.done():
            await asyncio.wait({task}, timeout=DISCONNECT_POLL_S)
            if not task.done() and await request.is_disconnected():
                task.cancel()
        return task.result()
    finally:
        if not task.done():
            task.cancel()
