"""Ollama API shapes (docs/api.md of ollama/ollama): `/api/generate`, `/api/chat`,
`/api/tags`, `/api/show`, `/api/version`, as Continue, Twinny, Zed, JetBrains plugins
and the `ollama` Python client send them (tests/serve/plugin_bodies/).

Ollama streams by default (`stream` absent means true): newline-delimited JSON, one
object a line, the last with `"done": true` and the counts and durations (ns). The
model name is not checked: this server serves one model, and plugins are configured
with Ollama-style names ("qwen2.5-coder:1.5b-base"); `/api/tags` says which it is.
Options that describe the runner (num_ctx, num_gpu, num_thread, num_batch, use_mmap,
keep_alive, ...) are the server's to set and are accepted without effect; sampling
options are honoured; sampling options this server does not have (mirostat, tfs_z,
typical_p) are refused by name.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from codecommons.engines.base import SamplingParams
from codecommons.serve.protocol_base import StrictModel

MAX_STOP = 16
DEFAULT_NUM_PREDICT = 128  # Ollama's default


class Options(StrictModel):
    num_predict: int | None = Field(None, ge=-2)
    temperature: float | None = Field(None, ge=0.0, le=100.0)
    top_k: int | None = Field(None, ge=0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    min_p: float | None = Field(None, ge=0.0, le=1.0)
    seed: int | None = None
    stop: list[str] | None = Field(None, max_length=MAX_STOP)
    repeat_penalty: float | None = Field(None, gt=0.0, le=10.0)
    repeat_last_n: int | None = Field(None, ge=-1)
    presence_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    frequency_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    # runner settings, the server's own: accepted without effect
    num_ctx: int | None = None
    num_batch: int | None = None
    num_gpu: int | None = None
    num_thread: int | None = None
    num_keep: int | None = None
    use_mmap: bool | None = None

    UNSUPPORTED = {"mirostat": (None, 0), "tfs_z": (None, 1, 1.0), "typical_p": (None, 1, 1.0),
                   "penalize_newline": (None, False, True)}

    def sampling(self, ctx_room: int, index: int = 0) -> SamplingParams:
        n = self.num_predict
        max_tokens = DEFAULT_NUM_PREDICT if n is None else (ctx_room if n < 0 else n)
        return SamplingParams(
            max_tokens=max(0, min(max_tokens, ctx_room)),
            temperature=0.8 if self.temperature is None else self.temperature,  # Ollama's default
            top_k=40 if self.top_k is None else self.top_k,
            top_p=0.9 if self.top_p is None else self.top_p,
            min_p=self.min_p or 0.0,
            seed=None if self.seed is None or self.seed < 0 else self.seed + index,
            repetition_penalty=1.1 if self.repeat_penalty is None else self.repeat_penalty,
            repeat_last_n=64 if self.repeat_last_n is None else self.repeat_last_n,
            presence_penalty=self.presence_penalty or 0.0,
            frequency_penalty=self.frequency_penalty or 0.0)


class GenerateBody(StrictModel):
    model: str = ""
    prompt: str = ""
    suffix: str | None = None
    system: str | None = None
    raw: bool = False
    stream: bool = True
    options: Options = Field(default_factory=Options)
    keep_alive: int | str | None = None  # the runner's: accepted without effect
    # our extensions, as on every completion route
    path: str | None = Field(None, max_length=4096)
    extra_context: list[dict] | None = None

    UNSUPPORTED = {"images": (None, []), "format": (None, ""), "context": (None, []),
                   "template": (None, ""), "think": (None, False)}

    def refuse_unsupported(self) -> None:
        super().refuse_unsupported()
        self.options.refuse_unsupported()


class Message(StrictModel):
    role: Literal["system", "user", "assistant", "tool"]
    content: str = ""

    UNSUPPORTED = {"images": (None, []), "tool_calls": (None, [])}


class ChatBody(StrictModel):
    model: str = ""
    messages: list[Message] = Field(min_length=1, max_length=1000)
    stream: bool = True
    options: Options = Field(default_factory=Options)
    keep_alive: int | str | None = None

    UNSUPPORTED = {"tools": (None, []), "format": (None, ""), "think": (None, False)}

    def refuse_unsupported(self) -> None:
        super().refuse_unsupported()
        self.options.refuse_unsupported()
        for m in self.messages:
            m.refuse_unsupported()


class ShowBody(StrictModel):
    model: str = ""
    name: str = ""  # the older field name (Continue sends it)
