"""llama.cpp engine (llama-cpp-python): GGUF models on the CPU, the default.

KV-cache reuse: `Llama.generate` keeps the evaluated tokens of the last call and,
on the next call, removes only the part of the KV cache after the longest common
token prefix, so a prompt that extends the previous one evaluates just the new
tokens. engines/infill.py arranges FIM prompts so that typing keeps that prefix.
"""

from __future__ import annotations

import codecs
import os
import threading
from typing import Iterator

from codecommons.models.registry import ModelSpec
from codecommons.engines.base import Engine, PromptStats, SamplingParams, Token
from codecommons.tokenizer.fim import Segment

DEFAULT_N_CTX = 8192  # enough for editor context; the KV cache grows with it


def _import_llama():
    try:
        from llama_cpp import Llama, llama_vocab_is_eog
    except ImportError as e:
        raise ImportError("the llama.cpp engine needs llama-cpp-python: "
                          "pip install 'codecommons[serve]'") from e
    return Llama, llama_vocab_is_eog


class LlamaCppEngine(Engine):
    def __init__(self, spec: ModelSpec, n_ctx: int = 0, n_threads: int = 0,
                 n_batch: int = 512, verbose: bool = False, **_: object) -> None:
        Llama, self._is_eog = _import_llama()
        n_ctx = n_ctx or min(spec.context_length or DEFAULT_N_CTX, DEFAULT_N_CTX)
        threads = n_threads or os.cpu_count() or 1
        self.llm = Llama(model_path=spec.path, n_ctx=n_ctx, n_threads=threads,
                         n_threads_batch=threads, n_batch=n_batch, verbose=verbose)
        super().__init__(spec, self.llm.n_ctx())
        # For benchmarks: COMMONS_NO_PROMPT_CACHE=1 evaluates every prompt from scratch.
        self.prompt_cache = os.environ.get("COMMONS_NO_PROMPT_CACHE", "") in ("", "0")
        self._eos = {t for t in (self.llm.token_eos(), self.llm._model.token_eot()) if t >= 0}

    # -- tokens -------------------------------------------------------------
    def tokenize(self, text: str, special: bool = False) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=special)

    def detokenize(self, ids: list[int]) -> str:
        return self.llm._model.detokenize(ids, special=True).decode("utf-8", errors="replace")

    def vocab_size(self) -> int:
        return self.llm.n_vocab()

    def special_token_id(self, text: str) -> int | None:
        ids = self.tokenize(text, special=True)
        if len(ids) == 1 and len(self.tokenize(text, special=False)) > 1:
            return ids[0]
        return None

    def bos_ids(self) -> list[int]:
        return [self.llm.token_bos()] if self.llm._model.add_bos_token() else []

    def eos_token_ids(self) -> set[int]:
        return set(self._eos)

    def _is_stop(self, tok: int) -> bool:
        return tok in self._eos or bool(self._is_eog(self.llm._model.vocab, tok))

    def chat_template(self) -> str | None:
        return self.llm.metadata.get("tokenizer.chat_template")

    def special_text(self) -> dict[str, str]:
        m = self.llm._model
        return {"bos_token": m.token_get_text(self.llm.token_bos()),
                "eos_token": m.token_get_text(self.llm.token_eos())}

    # -- generation ---------------------------------------------------------
    def generate(self, prompt: list[Segment], params: SamplingParams,
                 cancel: threading.Event) -> Iterator[Token]:
        ids = self.encode(prompt)
        assert len(ids) < self.n_ctx, f"prompt of {len(ids)} tokens exceeds n_ctx {self.n_ctx}"
        if not self.prompt_cache:
            self.llm.reset()
            self.llm._ctx.kv_cache_clear()
        cached = self.llm._input_ids[: self.llm.n_tokens].tolist()
        n_cached = next((i for i, (a, b) in enumerate(zip(cached, ids)) if a != b),
                        min(len(cached), len(ids)))
        self.last_prompt = PromptStats(n_prompt=len(ids), n_cached=n_cached)
        if params.seed is not None:
            self.llm.set_seed(params.seed)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        n = 0
        # min_p=0 and typical_p=1: plain temperature / top-k / top-p, as in the OpenAI API.
        gen = self.llm.generate(ids, top_k=params.top_k, top_p=params.top_p, min_p=0.0,
                                typical_p=1.0, temp=params.temperature,
                                repeat_penalty=params.repetition_penalty)
        try:
            for tok in gen:
                if cancel.is_set() or tok in params.stop_token_ids:
                    return
                if self._is_stop(tok) and not params.ignore_eos:
                    return
                piece = self.llm._model.detokenize([tok], special=False)
                yield Token(tok, decoder.decode(piece))
                n += 1
                if n >= params.max_tokens or self.llm.n_tokens + 1 >= self.n_ctx:
                    return
        finally:
            gen.close()

    def close(self) -> None:
        self.llm.close()
