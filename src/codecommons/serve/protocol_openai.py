"""OpenAI API shapes: /v1/completions, /v1/chat/completions, /v1/models, errors.

Fields are ordered as in OpenAI's API reference; our extensions sit in a marked
block. Types are strict and parameters this server cannot honour are refused by name
(protocol_base.py). Limits are checked here, at the edge, so the engine only sees valid
parameters.
"""

from __future__ import annotations

import time
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from codecommons.engines.base import SamplingParams
from codecommons.serve.protocol_base import StrictModel

MAX_N = 16  # samples per request; each runs the engine once
MAX_STOP = 16  # OpenAI allows 4; editors send more (Zed: 6+), vLLM has no limit
MAX_STOP_CHARS = 256  # per stop sequence: longer ones cannot be a sane stop
MAX_LOGPROBS = 5  # completions: OpenAI's limit
MAX_TOP_LOGPROBS = 20  # chat: OpenAI's limit
MAX_EXTRA_CONTEXT = 64  # files of repository context per request
MAX_CONTEXT_CHARS = 1 << 20


class ContextChunk(StrictModel):
    """Code from another file (our `extra_context`, llama.cpp's `input_extra`)."""

    filename: str = Field("", max_length=4096)
    text: str = Field(max_length=MAX_CONTEXT_CHARS)


class StreamOptions(StrictModel):
    include_usage: bool = False


class _Sampling(StrictModel):
    """Fields that completions and chat share (OpenAI reference order)."""

    model: str = ""
    frequency_penalty: float = Field(0.0, ge=-2.0, le=2.0)
    logit_bias: dict[str, float] | None = None
    n: int = Field(1, ge=1, le=MAX_N)
    presence_penalty: float = Field(0.0, ge=-2.0, le=2.0)
    seed: int | None = None
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float = Field(1.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    user: str | None = None
    # -- extensions (vLLM's and llama.cpp's names) --
    top_k: int = Field(0, ge=0)
    repetition_penalty: float = Field(1.0, gt=0.0, le=10.0)
    ignore_eos: bool = False
    path: str | None = Field(None, max_length=4096)  # the document completed (repository-relative)
    extra_context: list[ContextChunk] | None = Field(None, max_length=MAX_EXTRA_CONTEXT)

    @field_validator("stop")
    @classmethod
    def _stops(cls, v):
        stops = [v] if isinstance(v, str) else (v or [])
        if len(stops) > MAX_STOP:
            raise ValueError(f"at most {MAX_STOP} stop sequences")
        if any(len(s) > MAX_STOP_CHARS for s in stops):
            raise ValueError(f"a stop sequence is at most {MAX_STOP_CHARS} characters")
        return v

    @field_validator("logit_bias")
    @classmethod
    def _bias(cls, v):
        if v is None:
            return v
        if len(v) > 300:
            raise ValueError("at most 300 logit_bias entries")
        for k, b in v.items():
            if not k.isdigit():
                raise ValueError(f"logit_bias keys are token ids, got {k!r}")
            if not -100 <= b <= 100:
                raise ValueError("logit_bias values are between -100 and 100")
        return v

    def stops(self) -> list[str]:
        if self.stop is None:
            return []
        return [s for s in ([self.stop] if isinstance(self.stop, str) else self.stop) if s]

    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)

    def to_sampling_params(self, max_tokens: int, index: int = 0,
                           logprobs: int | None = None) -> SamplingParams:
        """Precedence: the user's value, else the spec's default (the field defaults).
        Sample `index` of n gets seed + index, so n samples differ but reproduce; without
        a seed each sample draws its own."""
        seed = None if self.seed is None else self.seed + index
        return SamplingParams(max_tokens=max_tokens, temperature=self.temperature,
                              top_p=self.top_p, top_k=self.top_k, seed=seed,
                              repetition_penalty=self.repetition_penalty,
                              ignore_eos=self.ignore_eos, logprobs=logprobs,
                              presence_penalty=self.presence_penalty,
                              frequency_penalty=self.frequency_penalty,
                              logit_bias=tuple((int(k), v) for k, v in (self.logit_bias or {}).items()))

    def context_files(self) -> list:
        from codecommons.tokenizer.fim import ContextFile

        return [ContextFile(c.filename or "context", c.text) for c in self.extra_context or []]


class CompletionRequest(_Sampling):
    prompt: str | list[str] | list[int] | list[list[int]]
    best_of: int | None = Field(None, ge=1)
    echo: bool = False
    logprobs: int | None = Field(None, ge=0, le=MAX_LOGPROBS)
    max_tokens: int = Field(16, ge=1)
    suffix: str | None = None

    @model_validator(mode="after")
    def _checks(self):
        if self.best_of is not None and self.best_of != self.n:
            raise ValueError("best_of must equal n here (no server-side ranking)")
        if self.logprobs is not None and self.stream:
            raise ValueError("logprobs with stream is not supported; ask without stream")
        if isinstance(self.prompt, list) and not self.prompt:
            raise ValueError("prompt must be a string, a list of strings or a list of token ids")
        return self

    def prompts(self) -> list[str | list[int]]:
        """Each prompt: text, or token ids."""
        p = self.prompt
        if isinstance(p, str):
            return [p]
        if all(isinstance(x, int) for x in p):
            return [list(p)]
        return list(p)


class TextPart(BaseModel):
    model_config = ConfigDict(strict=True)

    type: Literal["text"]
    text: str


class ChatMessage(StrictModel):
    role: Literal["system", "user", "assistant", "developer", "tool"]
    content: str | list[TextPart] | None = None
    UNSUPPORTED = {"tool_calls": (None, []), "function_call": (None,), "audio": (None,)}

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(p.text for p in self.content)
        return self.content or ""


class ChatRequest(_Sampling):
    messages: list[ChatMessage] = Field(min_length=1, max_length=1000)
    logprobs: bool = False
    max_completion_tokens: int | None = Field(None, ge=1)
    max_tokens: int | None = Field(None, ge=1)
    top_logprobs: int | None = Field(None, ge=0, le=MAX_TOP_LOGPROBS)

    UNSUPPORTED = {
        "tools": (None, []), "tool_choice": (None, "none"), "parallel_tool_calls": (None,),
        "functions": (None, []), "function_call": (None, "none"),
        "response_format": (None, {"type": "text"}), "audio": (None,), "modalities": (None, ["text"]),
        "prediction": (None,), "web_search_options": (None,), "reasoning_effort": (None,),
    }

    @model_validator(mode="after")
    def _checks(self):
        if self.top_logprobs is not None and not self.logprobs:
            raise ValueError("top_logprobs needs logprobs: true")
        if self.logprobs and self.stream:
            raise ValueError("logprobs with stream is not supported; ask without stream")
        return self

    def refuse_unsupported(self) -> None:
        super().refuse_unsupported()
        for m in self.messages:
            m.refuse_unsupported()

    def plain_messages(self) -> list[dict]:
        # "developer" is OpenAI's newer name for "system"; chat templates know "system".
        return [{"role": "system" if m.role == "developer" else m.role, "content": m.text()}
                for m in self.messages]

    def requested_max_tokens(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    def logprobs_n(self) -> int | None:
        return (self.top_logprobs or 0) if self.logprobs else None


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def now() -> int:
    return int(time.time())


def usage(n_prompt: int, n_generated: int, n_cached: int = 0) -> dict:
    return {"prompt_tokens": n_prompt, "completion_tokens": n_generated,
            "total_tokens": n_prompt + n_generated,
            "prompt_tokens_details": {"cached_tokens": n_cached}}


def completion_logprobs(tokens, text: str, offset: int = 0) -> dict:
    """OpenAI's legacy completions `logprobs` object for the tokens that made `text`."""
    out = {"tokens": [], "token_logprobs": [], "top_logprobs": [], "text_offset": []}
    pos = 0
    for t in tokens:
        if pos >= len(text) and t.text:
            break
        out["tokens"].append(t.text)
        out["token_logprobs"].append(t.logprob)
        out["top_logprobs"].append({txt: lp for _, txt, lp in t.top or []})
        out["text_offset"].append(offset + pos)
        pos += len(t.text)
    return out


def chat_logprobs(tokens, text: str) -> dict:
    """OpenAI's chat `logprobs`: {"content": [{token, logprob, bytes, top_logprobs}]}."""
    content, pos = [], 0
    for t in tokens:
        if pos >= len(text) and t.text:
            break
        content.append({"token": t.text, "logprob": t.logprob, "bytes": list(t.text.encode()),
                        "top_logprobs": [{"token": txt, "logprob": lp, "bytes": list(txt.encode())}
                                         for _, txt, lp in t.top or []]})
        pos += len(t.text)
    return {"content": content}


def error_body(message: str, type_: str = "invalid_request_error", param: str | None = None,
               code: str | None = None) -> dict:
    """OpenAI's error shape: {"error": {"message", "type", "param", "code"}}."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}
