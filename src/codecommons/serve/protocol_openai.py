"""OpenAI API shapes: /v1/completions, /v1/chat/completions, /v1/models, errors.

Fields are ordered as in OpenAI's API reference; our extensions sit in a marked
block. Unknown fields are accepted (clients send many) and ignored. Limits are
checked here, at the edge, so the engine only sees valid parameters.
"""

from __future__ import annotations

import time
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from codecommons.engines.base import SamplingParams

MAX_N = 16  # samples per request; each runs the engine once
MAX_STOP = 4  # OpenAI's limit on stop sequences


class OpenAIModel(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Sampling(OpenAIModel):
    """Fields that completions and chat share (OpenAI reference order)."""

    model: str = ""
    temperature: float = Field(1.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    n: int = Field(1, ge=1, le=MAX_N)
    stream: bool = False
    stop: str | list[str] | None = None
    seed: int | None = None
    user: str | None = None
    # -- extensions (llama.cpp and vLLM accept the same names) --
    top_k: int = Field(0, ge=0)
    repetition_penalty: float = Field(1.0, gt=0.0)
    ignore_eos: bool = False

    @field_validator("stop")
    @classmethod
    def _max_stop(cls, v):
        if isinstance(v, list) and len(v) > MAX_STOP:
            raise ValueError(f"at most {MAX_STOP} stop sequences")
        return v

    def stops(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)

    def to_sampling_params(self, max_tokens: int, index: int = 0) -> SamplingParams:
        """Precedence: the user's value, else the spec's default (the field defaults).
        Sample `index` of n gets seed + index, so n samples differ but reproduce."""
        seed = None if self.seed is None else self.seed + index
        return SamplingParams(max_tokens=max_tokens, temperature=self.temperature,
                              top_p=self.top_p, top_k=self.top_k, seed=seed,
                              repetition_penalty=self.repetition_penalty,
                              ignore_eos=self.ignore_eos)


class CompletionRequest(_Sampling):
    prompt: str | list[str]
    suffix: str | None = None
    max_tokens: int = Field(16, ge=1)
    echo: bool = False
    logprobs: int | None = None  # not supported: refused, not silently ignored
    best_of: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _unsupported(self):
        if self.logprobs is not None:
            raise ValueError("logprobs is not supported by this server")
        if self.best_of is not None and self.best_of != self.n:
            raise ValueError("best_of must equal n here (no server-side ranking)")
        return self

    @field_validator("prompt")
    @classmethod
    def _nonempty(cls, v):
        if isinstance(v, list) and not v:
            raise ValueError("prompt must be a string or a non-empty list of strings")
        return v

    def prompts(self) -> list[str]:
        return [self.prompt] if isinstance(self.prompt, str) else list(self.prompt)


class TextPart(BaseModel):
    type: Literal["text"]
    text: str


class ChatMessage(OpenAIModel):
    role: Literal["system", "user", "assistant", "developer", "tool"]
    content: str | list[TextPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(p.text for p in self.content)
        return self.content or ""


class ChatRequest(_Sampling):
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)

    def plain_messages(self) -> list[dict]:
        # "developer" is OpenAI's newer name for "system"; chat templates know "system".
        return [{"role": "system" if m.role == "developer" else m.role, "content": m.text()}
                for m in self.messages]

    def requested_max_tokens(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def now() -> int:
    return int(time.time())


def usage(n_prompt: int, n_generated: int) -> dict:
    return {"prompt_tokens": n_prompt, "completion_tokens": n_generated,
            "total_tokens": n_prompt + n_generated}


def error_body(message: str, type_: str = "invalid_request_error", param: str | None = None,
               code: str | None = None) -> dict:
    """OpenAI's error shape: {"error": {"message", "type", "param", "code"}}."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}
