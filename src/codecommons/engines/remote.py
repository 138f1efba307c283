"""Remote engine: forward generation to any OpenAI-compatible server.

vLLM, TGI (with its OpenAI routes), llama.cpp's server and Ollama all speak
`/v1/completions` and `/v1/chat/completions`. A team that outgrows one machine runs
the model there and keeps everything this server adds on top: FIM formatting and
context fitting, infill stopping, metrics, keys, attribution.

The remote server owns the tokenizer, so token counts here are estimates (code
averages about 3 to 4 characters per BPE token; we assume 3, erring towards cutting
context rather than overflowing it). The remote server still enforces its limits
and its errors are passed on.
"""

from __future__ import annotations

import json
import threading
from typing import Iterator

from codecommons.models.registry import ModelSpec
from codecommons.engines.base import Engine, SamplingParams, Token
from codecommons.tokenizer.fim import FAMILY_TEMPLATE, TEMPLATES, FimTemplate, Segment

CHARS_PER_TOKEN = 3


class RemoteError(RuntimeError):
    """The remote server refused or failed a request; carries its status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class RemoteEngine(Engine):
    remote = True

    def __init__(self, spec: ModelSpec, base_url: str = "", api_key: str = "",
                 timeout: float = 600.0, **_: object) -> None:
        import httpx

        super().__init__(spec, spec.context_length or 4096)
        base = (base_url or spec.path).rstrip("/")
        self.base = base[:-3] if base.endswith("/v1") else base
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.Client(base_url=self.base, headers=headers, timeout=timeout)

    def tokenize(self, text: str, special: bool = False) -> list[int]:
        raise NotImplementedError("a remote engine has no local tokenizer; use count_tokens")

    def count_tokens(self, text: str) -> int:
        return len(text) // CHARS_PER_TOKEN + 1

    def encode(self, prompt: list[Segment]) -> list[int]:
        raise NotImplementedError("a remote engine sends text, not token ids")

    def special_token_id(self, text: str) -> int | None:
        return None

    def eos_token_ids(self) -> set[int]:
        return set()

    def chat_template(self) -> str | None:
        return None

    def fim_template(self) -> FimTemplate | None:
        name = FAMILY_TEMPLATE.get(self.spec.family)
        return TEMPLATES[name] if name else None

    def _stream(self, route: str, body: dict, cancel: threading.Event) -> Iterator[Token]:
        body = {**body, "model": self.spec.id, "stream": True}
        with self.client.stream("POST", route, json=body) as resp:
            if resp.status_code >= 400:
                resp.read()
                raise RemoteError(resp.status_code, f"remote server {self.base}{route}: "
                                                    f"{resp.status_code} {resp.text[:500]}")
            for line in resp.iter_lines():
                if cancel.is_set():
                    return
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                for choice in json.loads(data).get("choices", []):
                    text = choice.get("text")
                    if text is None:
                        text = (choice.get("delta") or {}).get("content") or ""
                    if text:
                        yield Token(-1, text)

    @staticmethod
    def _sampling(params: SamplingParams) -> dict:
        body = {"max_tokens": params.max_tokens, "temperature": params.temperature,
                "top_p": params.top_p}
        if params.seed is not None:
            body["seed"] = params.seed
        return body

    def generate(self, prompt: list[Segment], params: SamplingParams,
                 cancel: threading.Event) -> Iterator[Token]:
        text = "".join(s.text for s in prompt)
        return self._stream("/v1/completions", {"prompt": text, **self._sampling(params)}, cancel)

    def chat(self, messages: list[dict], params: SamplingParams,
             cancel: threading.Event) -> Iterator[Token]:
        return self._stream("/v1/chat/completions", {"messages": messages, **self._sampling(params)},
                            cancel)

    def close(self) -> None:
        self.client.close()
