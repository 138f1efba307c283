"""Prometheus metrics for `/metrics` (text exposition format).

Each app has its own registry so tests and several apps in one process do not
share counters.
"""

from __future__ import annotations

from typing import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import CONTENT_TYPE_LATEST  # noqa: F401  (re-exported for app.py)

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 60.0)
RATE_BUCKETS = (1, 2, 5, 10, 20, 40, 80, 160, 320, 640)
TOKEN_BUCKETS = (0, 1, 4, 16, 64, 256, 1024, 4096, 16384)


class Metrics:
    def __init__(self, queue_depth: Callable[[], int]) -> None:
        r = self.registry = CollectorRegistry()
        self.requests = Counter("commons_requests", "HTTP requests by route and status",
                                ["route", "status"], registry=r)
        self.prompt_tokens = Counter("commons_prompt_tokens", "Prompt tokens", registry=r)
        self.cached_tokens = Counter("commons_prompt_tokens_cached",
                                     "Prompt tokens reused from the KV cache (common prefix)",
                                     registry=r)
        self.shifted_tokens = Counter("commons_prompt_tokens_shifted",
                                      "Prompt tokens reused from the KV cache at new positions",
                                      registry=r)
        self.evaluated_tokens = Counter("commons_prompt_tokens_evaluated",
                                        "Prompt tokens evaluated", registry=r)
        self.reused_per_request = Histogram("commons_prompt_tokens_reused_per_request",
                                            "Prompt tokens reused per request (prefix + shifted)",
                                            buckets=TOKEN_BUCKETS, registry=r)
        self.evaluated_per_request = Histogram("commons_prompt_tokens_evaluated_per_request",
                                               "Prompt tokens evaluated per request",
                                               buckets=TOKEN_BUCKETS, registry=r)
        self.generated_tokens = Counter("commons_generated_tokens", "Generated tokens", registry=r)
        self.ttft = Histogram("commons_time_to_first_token_seconds", "Time to first token",
                              buckets=LATENCY_BUCKETS, registry=r)
        self.duration = Histogram("commons_request_duration_seconds", "Generation time",
                                  buckets=LATENCY_BUCKETS, registry=r)
        self.tokens_per_second = Histogram("commons_decode_tokens_per_second",
                                           "Decode speed per request", buckets=RATE_BUCKETS,
                                           registry=r)
        self.scrubbed = Counter("commons_scrubbed_secrets", "Secrets redacted from generated text",
                                ["kind"], registry=r)
        self.public_code = Counter("commons_public_code_suggestions",
                                   "Suggestions that copy indexed code (--index), by outcome",
                                   ["outcome"], registry=r)
        depth = Gauge("commons_queue_depth", "Requests waiting or running", registry=r)
        depth.set_function(queue_depth)

    def observe_generation(self, n_prompt: int, n_cached: int, n_generated: int,
                           ttft: float | None, total: float, n_shifted: int = 0,
                           n_evaluated: int | None = None) -> None:
        n_evaluated = n_prompt - n_cached - n_shifted if n_evaluated is None else n_evaluated
        self.prompt_tokens.inc(n_prompt)
        self.cached_tokens.inc(n_cached)
        self.shifted_tokens.inc(n_shifted)
        self.evaluated_tokens.inc(n_evaluated)
        self.reused_per_request.observe(n_cached + n_shifted)
        self.evaluated_per_request.observe(n_evaluated)
        self.generated_tokens.inc(n_generated)
        self.duration.observe(total)
        if ttft is not None:
            self.ttft.observe(ttft)
            if n_generated > 1 and total > ttft:
                self.tokens_per_second.observe((n_generated - 1) / (total - ttft))

    def render(self) -> bytes:
        return generate_latest(self.registry)
