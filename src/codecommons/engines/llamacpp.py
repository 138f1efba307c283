"""llama.cpp engine (llama-cpp-python's bindings to the C API): GGUF models on the CPU,
the default.

One llama.cpp context holds `slots` sequences, each with a KV cache of `n_ctx` cells
(kvcache.py: which slot a request uses and how much of it it keeps, prefix and KV
shift), and one thread steps every request (decode_loop.py: batching, chunked
prefill, cancellation, speculative decoding). Sampling is per request
(sampling.py). llama-cpp-python's high-level `Llama` keeps one sequence and samples
with a library-wide RNG, so it is not used; its thin `_internals` wrappers load the
model and the context.

Memory: the KV cache takes slots x n_ctx x (2 x layers x kv-heads x head-dim x 2 bytes)
(f16 keys and values): for Qwen2.5-Coder-0.5B 12 KiB per token, so 4 slots of 8,192
tokens take 384 MiB; `kv_cache_mib` bounds slots x n_ctx.
"""

from __future__ import annotations

import ctypes
import os
import threading
import time
from typing import Iterator

from codecommons.engines.base import Engine, PromptStats, SamplingParams, Token
from codecommons.engines.decode_loop import DecodeLoop, Request, tokens
from codecommons.engines.kvcache import DEFAULT_CACHE_REUSE, SlotTable
from codecommons.engines.sampling import Sampler
from codecommons.engines.speculative import MODES as SPECULATIVE
from codecommons.models.registry import ModelSpec
from codecommons.tokenizer.fim import Segment

DEFAULT_N_CTX = 8192  # per slot: enough for editor context


def _import():
    try:
        import llama_cpp
        from llama_cpp import _internals
    except ImportError as e:
        raise ImportError("the llama.cpp engine needs llama-cpp-python: "
                          "pip install 'codecommons[serve]'") from e
    return llama_cpp, _internals


def _load(path: str, n_ctx: int, n_seq: int, n_batch: int, threads: int, verbose: bool):
    lib, internals = _import()
    from llama_cpp._logger import set_verbose

    set_verbose(verbose)  # llama.cpp's own log: errors only, unless verbose
    if not os.path.exists(path):
        raise ValueError(f"model file not found: {path}")
    mparams = lib.llama_model_default_params()
    model = internals.LlamaModel(path_model=path, params=mparams, verbose=verbose)
    cparams = lib.llama_context_default_params()
    cparams.n_ctx = n_ctx * n_seq
    cparams.n_batch = cparams.n_ubatch = n_batch
    cparams.n_seq_max = n_seq
    # One KV stream per sequence: a slot's attention reads its own cells only.
    cparams.kv_unified = False
    cparams.n_threads = cparams.n_threads_batch = threads
    ctx = internals.LlamaContext(model=model, params=cparams, verbose=verbose)
    return lib, model, ctx


class LlamaCppEngine(Engine):
    def __init__(self, spec: ModelSpec, n_ctx: int = 0, n_threads: int = 0, n_batch: int = 512,
                 slots: int = 1, kv_cache_mib: int = 0, cache_reuse: int = DEFAULT_CACHE_REUSE,
                 speculative: str = "off", draft_model: str = "", verbose: bool = False,
                 **_: object) -> None:
        if speculative not in SPECULATIVE:
            raise ValueError(f"unknown speculative mode {speculative!r}; choose one of {', '.join(SPECULATIVE)}")
        threads = n_threads or os.cpu_count() or 1
        n_ctx = n_ctx or min(spec.context_length or DEFAULT_N_CTX, DEFAULT_N_CTX)
        lib, internals = _import()
        probe = internals.LlamaModel(path_model=spec.path, params=lib.llama_model_default_params(),
                                     verbose=verbose) if kv_cache_mib else None
        if probe is not None:  # fit slots x n_ctx into the memory bound
            per_token = kv_bytes_per_token(lib, probe.model)
            n_ctx = max(256, min(n_ctx, (kv_cache_mib << 20) // (slots * per_token) // 256 * 256))
            probe.close()
        self._lib, self.model, self.ctx = _load(spec.path, n_ctx, slots, n_batch, threads, verbose)
        super().__init__(spec, n_ctx)
        self.max_concurrency = slots
        self.n_batch = n_batch
        self.vocab = self.model.vocab
        self._n_vocab = self._lib.llama_vocab_n_tokens(self.vocab)
        self._eos = {t for t in (self.model.token_eos(), self.model.token_eot()) if t >= 0}
        self._metadata = self.model.metadata()
        # For benchmarks: COMMONS_NO_PROMPT_CACHE=1 evaluates every prompt from scratch.
        if os.environ.get("COMMONS_NO_PROMPT_CACHE", "") not in ("", "0"):
            cache_reuse = 0
        self.prompt_cache = os.environ.get("COMMONS_NO_PROMPT_CACHE", "") in ("", "0")
        self.draft = None
        proposer = self._proposer(speculative, draft_model, n_batch, threads, verbose)
        self.slots = SlotTable(slots)
        self.loop = DecodeLoop(self._lib, self.ctx.ctx, self.piece, n_batch, n_ctx, self.slots,
                               self._n_vocab, cache_reuse, proposer)
        self.loop.thread.start()

    def _proposer(self, mode: str, draft_model: str, n_batch: int, threads: int, verbose: bool):
        from codecommons.engines import speculative as spec

        if mode == "off":
            return None
        lookup = spec.PromptLookup()
        if mode == "lookup":
            return lookup
        if not draft_model:
            raise ValueError(f"--speculative {mode} needs --draft-model (a GGUF of the same tokenizer family)")
        from codecommons.models.registry import resolve

        path = resolve(draft_model).path
        lib, model, ctx = _load(path, self.n_ctx, 1, n_batch, threads, verbose)
        if lib.llama_vocab_n_tokens(model.vocab) != self._n_vocab:
            raise ValueError(f"draft model {draft_model} has another vocabulary than {self.spec.id}")
        self.draft = (model, ctx)
        draft = spec.DraftModel(lib, model, ctx.ctx, self._n_vocab, n_batch)
        return draft if mode == "draft" else spec.Both(lookup, draft)

    # -- tokens -------------------------------------------------------------
    def tokenize(self, text: str, special: bool = False) -> list[int]:
        data = text.encode("utf-8")
        n = len(data) + 8  # a token covers at least one byte
        buf = (self._lib.llama_token * n)()
        got = self._lib.llama_tokenize(self.vocab, data, len(data), buf, n, False, special)
        if got < 0:
            raise RuntimeError(f"llama_tokenize needs {-got} tokens for {len(data)} bytes")
        return list(buf[:got])

    def piece(self, token: int, special: bool = False) -> bytes:
        """The bytes of one token (llama_token_to_piece; a piece can exceed 32 bytes)."""
        size = 64
        while True:
            buf = ctypes.create_string_buffer(size)
            n = self._lib.llama_token_to_piece(self.vocab, token, buf, size, 0, special)
            if n >= 0:
                return buf.raw[:n]
            size = -n

    def detokenize(self, ids: list[int]) -> str:
        return b"".join(self.piece(t, special=True) for t in ids).decode("utf-8", errors="replace")

    def vocab_size(self) -> int:
        return self._n_vocab

    def special_token_id(self, text: str) -> int | None:
        ids = self.tokenize(text, special=True)
        if len(ids) == 1 and len(self.tokenize(text, special=False)) > 1:
            return ids[0]
        return None

    def bos_ids(self) -> list[int]:
        return [self.model.token_bos()] if self.model.add_bos_token() else []

    def eos_token_ids(self) -> set[int]:
        return set(self._eos)

    def _is_stop(self, tok: int) -> bool:
        return tok in self._eos or bool(self._lib.llama_vocab_is_eog(self.vocab, tok))

    def metadata(self) -> dict[str, str]:
        return dict(self._metadata)

    def chat_template(self) -> str | None:
        return self._metadata.get("tokenizer.chat_template")

    def special_text(self) -> dict[str, str]:
        return {"bos_token": self.model.token_get_text(self.model.token_bos()),
                "eos_token": self.model.token_get_text(self.model.token_eos())}

    # -- generation ---------------------------------------------------------
    def generate(self, prompt: list[Segment], params: SamplingParams, cancel: threading.Event,
                 key: str = "", stats: PromptStats | None = None) -> Iterator[Token]:
        ids = self.prompt_ids(prompt)
        assert len(ids) < self.n_ctx, f"prompt of {len(ids)} tokens exceeds n_ctx {self.n_ctx}"
        stats = stats if stats is not None else PromptStats()
        if not self.prompt_cache:
            key = f"{key}\0{time.monotonic_ns()}"  # never routed to a warm slot's document
            self._forget_all()
        req = Request(ids, params, cancel, key, stats, Sampler(params), self._is_stop)
        self.last_prompt = stats
        self.loop.submit(req)
        return tokens(req)

    def _forget_all(self) -> None:
        for slot in self.slots.slots:
            if not slot.busy:
                slot.tokens = []
                self._lib.llama_memory_seq_rm(self.loop.mem, slot.id, 0, -1)

    def cancel_all(self) -> None:
        self.loop.cancel_all()

    def measure_prefill(self, n_tokens: int = 256) -> float:
        """Prompt tokens per second on this machine (a throwaway prompt of n_tokens)."""
        text = "def f(x):\n    return x + 1\n" * (n_tokens // 8 + 1)
        ids = self.tokenize(text)[:n_tokens]
        stats, cancel = PromptStats(), threading.Event()
        t0 = time.perf_counter()
        for _ in self.generate([Segment(self.detokenize(ids))], SamplingParams(max_tokens=1, temperature=0),
                               cancel, key="\0measure", stats=stats):
            pass
        dt = time.perf_counter() - t0
        self._forget_all()
        return max(stats.n_evaluated, 1) / dt

    def close(self) -> None:
        self.loop.stop()
        proposer = self.loop.proposer
        if proposer is not None and hasattr(proposer, "close"):
            proposer.close()
        if self.draft is not None:
            self.draft[1].close()
            self.draft[0].close()
        self.ctx.close()
        self.model.close()


def kv_bytes_per_token(lib, model) -> int:
    """f16 keys and values of every layer for one token."""
    n_layer = lib.llama_model_n_layer(model)
    n_head = max(lib.llama_model_n_head(model), 1)
    n_head_kv = lib.llama_model_n_head_kv(model)
    head_dim = lib.llama_model_n_embd(model) // n_head
    return 2 * n_layer * n_head_kv * head_dim * 2
