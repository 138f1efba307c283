"""The engine interface: tokenize, generate with sampling parameters, stream, cancel.

An engine knows nothing about HTTP, OpenAI or TGI. It takes a prompt as a list of
`Segment`s (text, or text in which special tokens are parsed, such as FIM sentinels
and rendered chat templates) and yields `Token`s until it hits an end-of-sequence
token, `max_tokens`, or its `cancel` event is set (checked before every token and,
while a long prompt is evaluated, between its chunks).

Engines are registered by name in `ENGINES`; `load_engine` picks one from a model
spec. `max_concurrency` says how many generations may run at once (the llama.cpp
engine serves several cache slots from one decode loop; the others run one at a
time); serve/scheduler.py runs that many.

`key` names the document a request completes (a client and a file): an engine with
cache slots keeps that document's KV cache apart from other documents'. `stats`, when
given, is filled with how the prompt was evaluated (reused, shifted, evaluated tokens).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
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
    logprobs: int | None = None  # None: no logprobs; n >= 0: the token's and the top n
    prompt_logprobs: bool = False  # logprob of every prompt token (TGI decoder_input_details)
    repeat_last_n: int = -1  # repetition penalty over the last n tokens (-1: all)
    min_p: float = 0.0  # drop tokens less likely than min_p x the most likely (llama.cpp)
    presence_penalty: float = 0.0  # OpenAI: subtracted once from the logit of every output token
    frequency_penalty: float = 0.0  # OpenAI: subtracted per occurrence in the output
    logit_bias: tuple[tuple[int, float], ...] = ()  # (token id, added to its logit)

    def __post_init__(self) -> None:
        # max_tokens 0: evaluate the prompt into the cache only (llama.cpp's n_predict 0)
        assert self.max_tokens >= 0, f"max_tokens must be >= 0, got {self.max_tokens}"
        assert self.temperature >= 0, f"temperature must be >= 0, got {self.temperature}"
        assert 0 < self.top_p <= 1, f"top_p must be in (0, 1], got {self.top_p}"


@dataclass
class Token:
    """One generated token: its id (-1 when a remote engine does not say), the text it
    adds (may be "" while a multi-byte character is incomplete) and, when asked for,
    its log-probability and the top alternatives as (id, text, logprob)."""

    id: int
    text: str
    logprob: float | None = None
    top: list[tuple[int, str, float]] | None = None


@dataclass
class PromptStats:
    """How one request's prompt was evaluated (for metrics, responses and tests):
    n_cached tokens reused from a cache slot as a common prefix, n_shifted reused at
    new positions (KV shift), n_evaluated computed; prompt_logprobs when asked for."""

    n_prompt: int = 0
    n_cached: int = 0
    n_shifted: int = 0
    n_evaluated: int = 0
    slot: int = 0
    seed: int | None = None  # the sampler's seed (drawn fresh when the request gave none)
    prompt_logprobs: list[tuple[int, float | None]] | None = None


# Token ids of long texts are remembered: a repository context's chunks and a document's
# suffix recur in request after request while the user types, and each is tokenized 3-4
# times per request (fitting the context, counting the prompt, encoding it); ~1 ms per
# 100 tokens with llama.cpp's tokenizer on this project's CPU, on the keystroke's path.
TOKEN_CACHE_ENTRIES = 512
TOKEN_CACHE_MIN_CHARS = 256  # shorter texts cost less to tokenize than to look up and keep


class Engine(ABC):
    """Base class; subclasses load the model in __init__ and set `n_ctx`."""

    remote = False  # True when tokens and chat templates live on another server
    max_concurrency = 1  # generations that may run at once

    def __init__(self, spec: ModelSpec, n_ctx: int) -> None:
        self.spec = spec
        self.n_ctx = n_ctx
        self.last_prompt = PromptStats()  # the latest request's (tests, benchmarks)
        self._token_cache: OrderedDict[tuple[str, bool], tuple[int, ...]] = OrderedDict()
        self._token_cache_lock = threading.Lock()  # requests prepare on several threads

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

    def prompt_ids(self, prompt: list[Segment] | list[int]) -> list[int]:
        """A prompt given as token ids (the OpenAI API allows them) is used as is."""
        if prompt and isinstance(prompt[0], int):
            return list(prompt)
        return self.encode(prompt)

    def encode(self, prompt: list[Segment]) -> list[int]:
        """Token ids for a segmented prompt, with the model's BOS where it wants one."""
        ids = self.bos_ids()
        for seg in prompt:
            ids.extend(self.tokens_of(seg.text, seg.special))
        return ids

    def tokens_of(self, text: str, special: bool = False) -> tuple[int, ...]:
        """`tokenize`, remembered for long texts (TOKEN_CACHE_ENTRIES, least recently used
        first out)."""
        if len(text) < TOKEN_CACHE_MIN_CHARS:
            return tuple(self.tokenize(text, special=special))
        key = (text, special)
        cache = self._token_cache
        with self._token_cache_lock:
            ids = cache.get(key)
            if ids is not None:
                cache.move_to_end(key)
                return ids
        ids = tuple(self.tokenize(text, special=special))
        with self._token_cache_lock:
            cache[key] = ids
            if len(cache) > TOKEN_CACHE_ENTRIES:
                cache.popitem(last=False)
        return ids

    def bos_ids(self) -> list[int]:
        return []

    def count_tokens(self, text: str) -> int:
        return len(self.tokens_of(text))

    @abstractmethod
    def eos_token_ids(self) -> set[int]:
        """Ids that end any generation (end-of-text, end-of-turn)."""

    # -- prompts ------------------------------------------------------------
    def metadata(self) -> dict[str, str]:
        """The model file's own key/value metadata (GGUF), where it has any."""
        return {}

    @abstractmethod
    def chat_template(self) -> str | None:
        """The model's Jinja chat template, if it has one."""

    def render_chat(self, messages: list[dict], trusted: bool = False) -> list[Segment]:
        """The chat prompt: the template's control tokens parsed, message contents as
        text (tokenizer/chat.py); `trusted` parses control tokens in contents too."""
        from codecommons.tokenizer.chat import render, render_segments

        template = self.chat_template()
        if template is None:
            raise ValueError(f"model {self.spec.id} has no chat template; use /v1/completions")
        if trusted:
            return [Segment(render(template, messages, self.special_text()), special=True)]
        return render_segments(template, messages, self.special_text())

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
    def generate(self, prompt: list[Segment], params: SamplingParams, cancel: threading.Event,
                 key: str = "", stats: PromptStats | None = None) -> Iterator[Token]:
        """Yield tokens; stop at EOS/stop ids, max_tokens, or when `cancel` is set."""

    def chat(self, messages: list[dict], params: SamplingParams, cancel: threading.Event,
             key: str = "", stats: PromptStats | None = None) -> Iterator[Token]:
        return self.generate(self.render_chat(messages), params, cancel, key, stats)

    def cancel_all(self) -> None:
        """Stop every running generation (shutdown)."""

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
