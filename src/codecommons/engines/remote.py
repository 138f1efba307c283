"""Remote engine: forward generation to any OpenAI-compatible server.

vLLM, TGI (with its OpenAI routes), llama.cpp's server and Ollama all speak
`/v1/completions` and `/v1/chat/completions`. A team that outgrows one machine runs
the model there and keeps everything this server adds on top: FIM formatting and
context fitting, infill stopping, metrics, keys, attribution.

Tokens. The remote server owns the tokenizer. Where it has a `/tokenize` route
(llama.cpp's server, vLLM, Code Commons) token counts are exact; elsewhere they are
estimated (code averages about 3 to 4 characters per BPE token; we assume 3, erring
towards cutting context rather than overflowing it). The remote server still enforces
its limits and its errors are passed on.

Sampling. Every field of `SamplingParams` is forwarded: the OpenAI fields by their
names, the rest under the names the common servers read (`top_k`; `repetition_penalty`
for vLLM and Code Commons, `repeat_penalty` for llama.cpp and Ollama; `ignore_eos`).
Token-id stops cannot be forwarded (the ids are the remote tokenizer's, unknown here):
a request that sets them is refused (`PromptError`, a 400), never silently dropped.

Errors. An upstream 4xx is passed on with its status; 429 and 503 (overloaded) stay
retryable; any other upstream failure is a 502, an unreachable upstream a 502 and a
timeout a 504, each with a message naming the upstream.
"""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from typing import Iterator

from codecommons.engines.base import Engine, PromptStats, SamplingParams, Token
from codecommons.engines.infill import PromptError
from codecommons.models.registry import ModelSpec
from codecommons.tokenizer.fim import FAMILY_TEMPLATE, REPO_FORMATS, TEMPLATES, FimTemplate, Segment

CHARS_PER_TOKEN = 3
PASSED_ON = {400, 401, 403, 404, 413, 422, 429, 503}  # upstream statuses a client can act on


class RemoteError(RuntimeError):
    """The remote server refused or failed a request; carries the status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class RemoteEngine(Engine):
    remote = True
    max_concurrency = 16  # the upstream schedules; this many streams may be open at once

    def __init__(self, spec: ModelSpec, base_url: str = "", api_key: str = "",
                 timeout: float = 600.0, **_: object) -> None:
        import httpx

        self._httpx = httpx
        super().__init__(spec, spec.context_length or 4096)
        base = (base_url or spec.path).rstrip("/")
        self.base = base[:-3] if base.endswith("/v1") else base
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.Client(base_url=self.base, headers=headers, timeout=timeout)
        self._tokenize_route: bool | None = None  # unknown until first asked
        self._server_infill: bool | None = None

    # -- tokens -------------------------------------------------------------
    def tokenize(self, text: str, special: bool = False) -> list[int]:
        ids = self._remote_tokenize(text)
        if ids is None:
            raise NotImplementedError(f"{self.base} has no /tokenize route; use count_tokens")
        return ids

    def count_tokens(self, text: str) -> int:
        ids = self._remote_tokenize(text)
        return len(ids) if ids is not None else len(text) // CHARS_PER_TOKEN + 1

    def _remote_tokenize(self, text: str) -> list[int] | None:
        """The upstream's token ids for `text`, as plain text (no BOS, no special tokens
        parsed), or None where it has no tokenize route. The body carries both field
        names: llama.cpp's server reads `content`, vLLM `prompt`."""
        if self._tokenize_route is False:
            return None
        if not text:
            return []
        body = {"content": text, "prompt": text, "model": self.spec.id, "add_special": False,
                "add_special_tokens": False, "parse_special": False}
        try:
            r = self.client.post("/tokenize", json=body, timeout=30)
        except self._httpx.HTTPError as e:
            raise self._transport_error("/tokenize", e) from e
        if r.status_code in (404, 405):
            self._tokenize_route = False
            return None
        if r.status_code >= 400:
            raise self._status_error("/tokenize", r.status_code, r.text)
        self._tokenize_route = True
        return list(r.json()["tokens"])

    def detokenize(self, ids: list[int]) -> str:
        try:
            r = self.client.post("/detokenize", json={"tokens": ids, "model": self.spec.id},
                                 timeout=30)
        except self._httpx.HTTPError as e:
            raise self._transport_error("/detokenize", e) from e
        if r.status_code >= 400:
            raise self._status_error("/detokenize", r.status_code, r.text)
        data = r.json()
        return data.get("content", data.get("prompt", ""))

    def vocab_size(self) -> int:
        return 1 << 31  # unknown here: the remote server checks ids itself

    def encode(self, prompt: list[Segment]) -> list[int]:
        raise NotImplementedError("a remote engine sends text, not token ids")

    def special_token_id(self, text: str) -> int | None:
        return None

    def eos_token_ids(self) -> set[int]:
        return set()

    def chat_template(self) -> str | None:
        return None

    def fim_template(self) -> FimTemplate | None:
        """The family's template (and its first repository format: the remote server's
        tokenizer cannot be asked which special tokens it has)."""
        name = FAMILY_TEMPLATE.get(self.spec.family)
        if not name:
            return None
        t = TEMPLATES[name]
        return replace(t, repo=REPO_FORMATS[t.repo_formats[0]]) if t.repo_formats else t

    # -- errors -------------------------------------------------------------
    def _status_error(self, route: str, status: int, text: str) -> RemoteError:
        mapped = status if status in PASSED_ON else 502
        return RemoteError(mapped, f"remote server {self.base}{route}: {status} {text[:500]}")

    def _transport_error(self, route: str, e: Exception) -> RemoteError:
        if isinstance(e, self._httpx.TimeoutException):
            return RemoteError(504, f"remote server {self.base}{route} timed out ({type(e).__name__})")
        return RemoteError(502, f"remote server {self.base}{route} unreachable: {e}")

    # -- generation ---------------------------------------------------------
    def _stream(self, route: str, body: dict, cancel: threading.Event) -> Iterator[Token]:
        body = {**body, "model": self.spec.id, "stream": True}
        try:
            with self.client.stream("POST", route, json=body) as resp:
                if resp.status_code >= 400:
                    resp.read()
                    raise self._status_error(route, resp.status_code, resp.text)
                for line in resp.iter_lines():
                    if cancel.is_set():
                        return
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    event = json.loads(data)
                    if "error" in event:  # an error after the 200 (OpenAI, TGI, llama.cpp)
                        err = event["error"]
                        msg = err.get("message", str(err)) if isinstance(err, dict) else str(err)
                        raise RemoteError(502, f"remote server {self.base}{route}: {msg}")
                    for choice in event.get("choices", []):
                        text = choice.get("text")
                        if text is None:
                            text = (choice.get("delta") or {}).get("content") or ""
                        if text:
                            yield Token(-1, text)
        except self._httpx.HTTPError as e:
            raise self._transport_error(route, e) from e

    @staticmethod
    def _sampling(params: SamplingParams) -> dict:
        if params.logprobs is not None or params.prompt_logprobs:
            raise PromptError("log-probabilities are not forwarded to a remote server",
                              param="logprobs")
        if params.stop_token_ids:
            raise PromptError("stop token ids cannot be forwarded to a remote server (its "
                              "token ids are unknown here); use stop strings", param="stop_token_ids")
        body = {"max_tokens": params.max_tokens, "temperature": params.temperature,
                "top_p": params.top_p}
        if params.presence_penalty:
            body["presence_penalty"] = params.presence_penalty
        if params.frequency_penalty:
            body["frequency_penalty"] = params.frequency_penalty
        if params.logit_bias:
            body["logit_bias"] = {str(t): b for t, b in params.logit_bias}
        if params.seed is not None:
            body["seed"] = params.seed
        if params.top_k:
            body["top_k"] = params.top_k
        if params.repetition_penalty != 1.0:
            body["repetition_penalty"] = body["repeat_penalty"] = params.repetition_penalty
        if params.ignore_eos:
            body["ignore_eos"] = True
        return body

    @property
    def server_infill(self) -> bool:
        """Whether the upstream is a Code Commons server, which applies the infill policy
        itself (engines/infill.py) when given `suffix`: then FIM requests go to it as
        prefix + suffix, so an evaluation through it measures what its editors get."""
        if self._server_infill is None:
            try:
                r = self.client.get("/info", timeout=10)
                self._server_infill = r.status_code == 200 and r.json().get("router") == "codecommons"
            except (self._httpx.HTTPError, ValueError):
                self._server_infill = False
        return self._server_infill

    def infill(self, prefix: str, suffix: str, params: SamplingParams, stops: list[str],
               cancel: threading.Event) -> Iterator[Token]:
        """A FIM completion by the upstream's own infill policy (see server_infill)."""
        body = {"prompt": prefix, "suffix": suffix, "stop": stops or None, **self._sampling(params)}
        return self._stream("/v1/completions", body, cancel)

    def generate(self, prompt: list[Segment], params: SamplingParams, cancel: threading.Event,
                 key: str = "", stats: PromptStats | None = None) -> Iterator[Token]:
        body = prompt if prompt and isinstance(prompt[0], int) else "".join(s.text for s in prompt)
        return self._stream("/v1/completions", {"prompt": body, **self._sampling(params)}, cancel)

    def chat(self, messages: list[dict], params: SamplingParams, cancel: threading.Event,
             key: str = "", stats: PromptStats | None = None) -> Iterator[Token]:
        return self._stream("/v1/chat/completions", {"messages": messages, **self._sampling(params)},
                            cancel)

    def close(self) -> None:
        self.client.close()
