"""transformers engine: model folders (config.json + safetensors) on CPU or GPU.

This is the engine for the models our own training produces and for hub models
(StarCoder/GPTBigCode, Starcoder2, Llama, Qwen2 families). It runs its own decode
loop over `model.forward` so that it can stream, cancel between tokens and reuse
the KV cache across requests (longest common token prefix, `DynamicCache.crop`).
"""

from __future__ import annotations

import inspect
import threading
from typing import Iterator

from codecommons.models.registry import ModelSpec
from codecommons.engines.base import Engine, PromptStats, SamplingParams, Token
from codecommons.tokenizer.fim import Segment

DETOK_CONTEXT = 5  # prompt tokens kept as left context for incremental detokenization


def _import():
    try:
        import torch
        import transformers
    except ImportError as e:
        raise ImportError("the transformers engine needs torch and transformers: "
                          "pip install 'codecommons[transformers]'") from e
    return torch, transformers


class TransformersEngine(Engine):
    def __init__(self, spec: ModelSpec, n_ctx: int = 0, device: str = "", **_: object) -> None:
        torch, tf = _import()
        self.torch = torch
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        # bf16 on GPU halves memory at no quality cost for these models; CPU matmuls
        # are fastest and exact in fp32.
        dtype = torch.bfloat16 if self.device.startswith("cuda") else torch.float32
        self.tok = tf.AutoTokenizer.from_pretrained(spec.path)
        self.model = tf.AutoModelForCausalLM.from_pretrained(spec.path, dtype=dtype)
        self.model.to(self.device).eval()
        super().__init__(spec, n_ctx or spec.context_length or 2048)
        self._cache = None
        # transformers 5.x renamed the forward argument and output field
        # `past_key_values` to `cache` (the old name warns, and goes in 5.40); 4.x
        # knows only the old one.
        params = inspect.signature(self.model.forward).parameters
        self._cache_kwarg = "cache" if "cache" in params else "past_key_values"
        self._cached_ids: list[int] = []  # tokens whose keys/values are in self._cache
        gen_eos = getattr(self.model.generation_config, "eos_token_id", None)
        gen_eos = gen_eos if isinstance(gen_eos, list) else [gen_eos]
        self._eos = {i for i in [self.tok.eos_token_id, *gen_eos] if i is not None}

    # -- tokens -------------------------------------------------------------
    def tokenize(self, text: str, special: bool = False) -> list[int]:
        return self.tok(text, add_special_tokens=False, split_special_tokens=not special)["input_ids"]

    def detokenize(self, ids: list[int]) -> str:
        return self.tok.decode(ids)

    def vocab_size(self) -> int:
        return len(self.tok)

    def special_token_id(self, text: str) -> int | None:
        added = self.tok.get_added_vocab()
        return added.get(text)

    def bos_ids(self) -> list[int]:
        with_bos = self.tok("a")["input_ids"]
        without = self.tok("a", add_special_tokens=False)["input_ids"]
        return with_bos[: len(with_bos) - len(without)] if with_bos[-len(without):] == without else []

    def eos_token_ids(self) -> set[int]:
        return set(self._eos)

    def chat_template(self) -> str | None:
        return self.tok.chat_template

    def special_text(self) -> dict[str, str]:
        return {"bos_token": self.tok.bos_token or "", "eos_token": self.tok.eos_token or ""}

    # -- generation ---------------------------------------------------------
    def _reuse_cache(self, ids: list[int]) -> int:
        """Crop the KV cache to the longest common prefix with `ids`; return its length.
        At least one token is always left to evaluate, for fresh logits."""
        from transformers import DynamicCache

        n = 0
        for a, b in zip(self._cached_ids, ids):
            if a != b:
                break
            n += 1
        n = min(n, len(ids) - 1)
        if self._cache is None or n == 0:
            self._cache, n = DynamicCache(), 0
        elif len(self._cached_ids) > n:
            # A negative argument removes that many tokens from the end, in both
            # transformers 4.x and 5.x (5.x refuses a positive one).
            self._cache.crop(n - len(self._cached_ids))
        self._cached_ids = ids[:n]
        return n

    def generate(self, prompt: list[Segment], params: SamplingParams, cancel: threading.Event,
                 key: str = "", stats: PromptStats | None = None) -> Iterator[Token]:
        from codecommons.engines.sampling import Sampler, log_softmax, top_logprobs

        torch = self.torch
        ids = self.prompt_ids(prompt)
        assert len(ids) < self.n_ctx, f"prompt of {len(ids)} tokens exceeds n_ctx {self.n_ctx}"
        if params.prompt_logprobs:  # every prompt position's logits: evaluate it all
            self._cache, self._cached_ids = None, []
        n_cached = self._reuse_cache(ids)
        stats = stats if stats is not None else PromptStats()
        stats.n_prompt, stats.n_cached, stats.n_evaluated = len(ids), n_cached, len(ids) - n_cached
        self.last_prompt = stats
        sampler = Sampler(params)
        stats.seed = sampler.seed
        pending = ids[n_cached:]
        detok = _IncrementalDetokenizer(self.tok, ids[-DETOK_CONTEXT:])
        stop = set(params.stop_token_ids) | (set() if params.ignore_eos else self._eos)
        generated: list[int] = []
        for step in range(params.max_tokens):
            if cancel.is_set() or len(self._cached_ids) + len(pending) >= self.n_ctx:
                return
            with torch.inference_mode():
                out = self.model(input_ids=torch.tensor([pending], device=self.device),
                                 **{self._cache_kwarg: self._cache}, use_cache=True)
            self._cache = getattr(out, self._cache_kwarg)
            self._cached_ids += pending
            if step == 0 and params.prompt_logprobs:
                lps = torch.log_softmax(out.logits[0].float(), dim=-1).cpu().numpy()  # (T, V)
                stats.prompt_logprobs = [(ids[0], None)] + [
                    (ids[i + 1], float(lps[i, ids[i + 1]])) for i in range(len(ids) - 1)]
            logits = out.logits[0, -1].float().cpu().numpy()  # (V,)
            prev = ids + generated if sampler.uses_history else None
            tok = sampler.sample(logits, prev, generated)
            if tok in stop:
                return
            lp = top = None
            if params.logprobs is not None:
                lps = log_softmax(logits)
                lp = float(lps[tok])
                top = [(i, self.tok.decode([i]), v) for i, v in top_logprobs(lps, params.logprobs)]
            generated.append(tok)
            yield Token(tok, detok.add(tok), lp, top)
            pending = [tok]

    def close(self) -> None:
        self._cache = None
        del self.model


class _IncrementalDetokenizer:
    """Text deltas from token ids, the prefix/read-offset method of TGI and vLLM:
    decode a small window and emit only what is new and not a partial character."""

    def __init__(self, tok, context: list[int]) -> None:
        self.tok = tok
        self.ids = list(context)
        self.prefix_offset = 0
        self.read_offset = len(context)

    def add(self, token: int) -> str:
        self.ids.append(token)
        before = self.tok.decode(self.ids[self.prefix_offset:self.read_offset], skip_special_tokens=True)
        now = self.tok.decode(self.ids[self.prefix_offset:], skip_special_tokens=True)
        if len(now) > len(before) and not now.endswith("\ufffd"):
            self.prefix_offset, self.read_offset = self.read_offset, len(self.ids)
            return now[len(before):]
        return ""
