"""Where suggestions come from: the Backend interface and its HTTP implementation.

A Backend turns one FimRequest into suggestions. Cancellation is asyncio's: the
language server cancels the task awaiting `complete()` (a `$/cancelRequest`, or a
newer request for the same document), and the HTTP backend then closes its
connection mid-request, which `commons serve` notices and stops generating (it
polls for disconnects while a non-streamed completion runs).

    backend = HttpBackend("http://127.0.0.1:8000", api_key="")
    suggestions = await backend.complete(FimRequest(prefix="def f(", suffix="):\\n"))

Wire format: POST {url}/v1/completions, OpenAI's completion body with `suffix`
(fill-in-the-middle), plus our extensions `extra_context` ([{filename, text}],
placed by the server before the FIM prompt in the model's repository format) and
`path` (the document's path in its workspace). Choices may carry `attribution`
(the server runs with --index); `finish_reason: "content_filter"` marks a
suggestion the server withheld, which is never shown.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field

USER_AGENT = "commons-lsp"


class BackendError(RuntimeError):
    """The backend could not answer; the message says what to do."""


@dataclass
class FimRequest:
    prefix: str
    suffix: str | None = None  # None: plain left-to-right completion
    max_tokens: int = 128
    temperature: float = 0.0
    top_p: float | None = None
    n: int = 1
    stop: list[str] = field(default_factory=list)
    extra_context: list[dict] = field(default_factory=list)
    path: str | None = None
    seed: int | None = None
    # Per request overrides (llm-ls clients name the server and key in each request).
    url: str | None = None
    api_key: str | None = None

    def body(self) -> dict:
        body = {"prompt": self.prefix, "max_tokens": self.max_tokens,
                "temperature": self.temperature, "n": self.n, "stream": False}
        if self.suffix is not None:
            body["suffix"] = self.suffix
        if self.top_p is not None:
            body["top_p"] = self.top_p
        if self.stop:
            body["stop"] = self.stop[:4]  # OpenAI's limit
        if self.seed is not None:
            body["seed"] = self.seed
        if self.extra_context:
            body["extra_context"] = self.extra_context
        if self.path:
            body["path"] = self.path
        return body


@dataclass
class Suggestion:
    text: str
    finish_reason: str | None = None
    attribution: list[dict] = field(default_factory=list)  # matches in the code index


class Backend(abc.ABC):
    @abc.abstractmethod
    async def complete(self, request: FimRequest) -> list[Suggestion]:
        """Suggestions for one request, withheld ones (content_filter) left out.
        Cancel the awaiting task to cancel the generation."""

    async def close(self) -> None:
        """Release connections."""


class HttpBackend(Backend):
    """A `commons serve` (or any server speaking its /v1/completions) over HTTP,
    with kept-alive connections: one TCP+HTTP setup, not one per keystroke."""

    def __init__(self, url: str, api_key: str = "", timeout_s: float = 30.0) -> None:
        import httpx

        self.url, self.api_key = url.rstrip("/"), api_key
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(timeout_s, connect=5.0),
                                         headers={"User-Agent": USER_AGENT})

    async def complete(self, request: FimRequest) -> list[Suggestion]:
        import httpx

        url = (request.url or self.url).rstrip("/") + "/v1/completions"
        key = request.api_key if request.api_key is not None else self.api_key
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        try:
            r = await self._client.post(url, json=request.body(), headers=headers)
        except httpx.TimeoutException as e:
            raise BackendError(f"{url}: no answer in time ({type(e).__name__}); is the "
                               f"server overloaded? (see its /metrics)") from e
        except httpx.TransportError as e:
            raise BackendError(f"cannot reach {url} ({e or type(e).__name__}); start "
                               f"`commons serve` or point `commons lsp --url` at it") from e
        if r.status_code != 200:
            raise BackendError(f"{url}: HTTP {r.status_code}: {_error_message(r)}")
        return [Suggestion(c.get("text") or "", c.get("finish_reason"), c.get("attribution") or [])
                for c in r.json().get("choices", []) if c.get("finish_reason") != "content_filter"]

    async def close(self) -> None:
        await self._client.aclose()


def _error_message(r) -> str:
    """OpenAI's {"error": {"message"}}, FastAPI's {"detail"}, else the raw text."""
    try:
        body = r.json()
    except ValueError:
        return r.text[:200]
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return body["error"].get("message", "")
    return str(body.get("detail", body) if isinstance(body, dict) else body)[:200]


def _engine(cfg) -> Backend:
    from codecommons.lsp.engine_backend import EngineBackend

    return EngineBackend(cfg.model, cfg.n_ctx, cfg.threads)


# name -> factory(config) -> Backend: a `commons serve` over HTTP, or a model loaded in
# this process (`--model`, lsp/engine_backend.py).
BACKENDS = {
    "http": lambda cfg: HttpBackend(cfg.url, cfg.resolved_api_key(), cfg.timeout),
    "engine": _engine,
}
