"""The engine interface: tokenize, generate with sampling parameters, stream, cancel.

An engine knows nothing about HTTP, OpenAI or TGI. It takes a prompt as a list of
`Segment`s (text, or text in which special tokens are parsed, such as FIM sentinels
and rendered chat templates) and yields `Token`s until it hits an end-of-sequence
token, `max_tokens`, or its `cancel` event is set (checked before every token).

Engines are registered by name in `ENGINES`; `load_engine` picks one from a model
spec. Each engine is driven by one thread at a time (serve/scheduler.py).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, Iterator

from codecommons.models.registry import ModelSpec
from codecommons.tokenizer.fim import FimTemplate, Segment, detect_template


@dataclass
class SamplingParams:
    """Per-request decoding settings; temperature 0 means greedy."""

    max_tokens: int = 16
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0  # 0 = off
    seed: int | None = None
    repetition_penalty: float = 1.0
    stop_token_ids: frozenset[int] = frozenset()  # besides the model's own EOS
    ignore_eos: bool = False  # generate exactly max_tokens (benchmarks; vLLM's name)

    def __post_init__(self) -> None:
        assert self.max_tokens > 0, f"max_tokens must be > 0, got {self.max_tokens}"
        assert self.temperature >= 0, f"temperature must be >= 0, got {self.temperature}"
        assert 0 < self.top_p <= 1, f"top_p must be in (0, 1], got {self.top_p}"


@dataclass
class Token:
    """One generated token: its id (-1 when a remote engine does not say) and the
    text it adds (may be "" while a multi-byte character is incomplete)."""

    id: int
    text: str


@dataclass
class PromptStats:
    """How much of the last prompt came from the KV cache (for metrics and tests)."""

    n_prompt: int = 0
    n_cached: int = 0


class Engine(ABC):
    """Base class; subclasses load the model in __init__ and set `n_ctx`."""

    remote = False  # True when tokens and chat templates live on another server

    def __init__(self, spec: ModelSpec, n_ctx: int) -> None:
        self.spec = spec
        self.n_ctx = n_ctx
        self.last_prompt = PromptStats()

    # -- tokens -------------------------------------------------------------
    @abstractmethod
    def tokenize(self, text: str, special: bool = False) -> list[int]:
        """Token ids of `text`; with `special`, special-token strings become their ids."""

    @abstractmethod
    def detokenize(self, ids: list[int]) -> str:
        """The text of token ids (special tokens included as their text)."""

    @abstractmethod
    def vocab_size(self) -> int:
        """Number of token ids."""

    @abstractmethod
    def special_token_id(self, text: str) -> int | None:
        """The id of `text` if it is a single special (control/added) token, else None."""

    def encode(self, prompt: list[Segment]) -> list[int]:
        """Token ids for a segmented prompt, with the model's BOS where it wants one."""
        ids = self.bos_ids()
        for seg in prompt:
            ids += self.tokenize(seg.text, special=seg.special)
        return ids

    def bos_ids(self) -> list[int]:
        return []

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text))

    @abstractmethod
    def eos_token_ids(self) -> set[int]:
        """Ids that end any generation (end-of-text, end-of-turn)."""

    # -- prompts ------------------------------------------------------------
    @abstractmethod
    def chat_template(self) -> str | None:
        """The model's Jinja chat template, if it has one."""

    def render_chat(self, messages: list[dict]) -> list[Segment]:
        from codecommons.tokenizer.chat import render

        template = self.chat_template()
        if template is None:
            raise ValueError(f"model {self.spec.id} has no chat template; use /v1/completions")
        return [Segment(render(template, messages, self.special_text()), special=True)]

    def special_text(self) -> dict[str, str]:
        """bos_token / eos_token strings for chat templates."""
        return {}

    def fim_template(self) -> FimTemplate | None:
        return detect_template(self.spec.family, lambda t: self.special_token_id(t) is not None)

    def fim_stop_ids(self) -> frozenset[int]:
        """Ids of the FIM template's end tokens (<|fim_pad|>, <|file_sep|>, ...) that
        this tokenizer has; llama.cpp already ends generation on them, transformers
        only on its EOS."""
        fim = self.fim_template()
        ids = (self.special_token_id(t) for t in (fim.stops if fim else ()))
        return frozenset(i for i in ids if i is not None)

    # -- generation ---------------------------------------------------------
    @abstractmethod
    def generate(self, prompt: list[Segment], params: SamplingParams,
                 cancel: threading.Event) -> Iterator[Token]:
        """Yield tokens; stop at EOS/stop ids, max_tokens, or when `cancel` is set."""

    def chat(self, messages: list[dict], params: SamplingParams,
             cancel: threading.Event) -> Iterator[Token]:
        return self.generate(self.render_chat(messages), params, cancel)

    def close(self) -> None:
        """Release the model (weights, KV cache)."""


EngineFactory = Callable[..., Engine]


def _llamacpp(spec: ModelSpec, **kw) -> Engine:
    from codecommons.engines.llamacpp import LlamaCppEngine
    return LlamaCppEngine(spec, **kw)


def _transformers(spec: ModelSpec, **kw) -> Engine:
    from codecommons.engines.transformers import TransformersEngine
    return TransformersEngine(spec, **kw)


def _remote(spec: ModelSpec, **kw) -> Engine:
    from codecommons.engines.remote import RemoteEngine
    return RemoteEngine(spec, **kw)


# Explicit registry: name -> factory. Imports are lazy so an engine's heavy
# dependency (llama_cpp, torch) loads only when that engine is used.
ENGINES: dict[str, EngineFactory] = {
    "llama.cpp": _llamacpp,
    "transformers": _transformers,
    "remote": _remote,
}
DEFAULT_ENGINE_FOR_FORMAT = {"gguf": "llama.cpp", "transformers": "transformers", "remote": "remote"}


def load_engine(spec: ModelSpec, engine: str | None = None, **kw) -> Engine:
    name = engine or DEFAULT_ENGINE_FOR_FORMAT[spec.format]
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
    return ENGINES[name](spec, **kw)
