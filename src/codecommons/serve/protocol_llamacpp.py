"""llama.cpp server API shapes (tools/server/README.md of the llama.cpp that
llama-cpp-python 0.3.36 vendors): `/completion`, `/infill`, `/props`, what llama.vscode
and llama.vim send (tests/serve/plugin_bodies/ holds their recorded bodies).

Defaults are llama.cpp's (temperature 0.8, top_k 40, top_p 0.95, min_p 0.05,
n_predict -1), so a plugin gets what it would get from llama-server. `samplers` picks
which of top_k / top_p / min_p / temperature apply, as llama.cpp's chain does; its
"infill" sampler (which ends FIM completions where the end-of-text tokens gather
probability) is served by our infill rules, which end completions at the end of the
line or block. Sampler settings llama.cpp has and this server does not (grammar, DRY,
XTC, mirostat, typical, dynamic temperature, LoRA) are refused by name when set.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from codecommons.engines.base import SamplingParams
from codecommons.serve.protocol_base import StrictModel

MAX_STOP = 16
MAX_STOP_CHARS = 256
MAX_N_CMPL = 8
DEFAULT_SAMPLERS = ["dry", "top_k", "typ_p", "top_p", "min_p", "xtc", "temperature"]
SAMPLERS = {"top_k", "top_p", "min_p", "temperature", "infill", "dry", "typ_p", "xtc", "penalties"}


class ExtraChunk(StrictModel):
    text: str = Field(max_length=1 << 20)
    filename: str = Field("tmp", max_length=4096)  # llama.cpp's default name


class CompletionBody(StrictModel):
    prompt: str | list[int] = ""
    n_predict: int = Field(-1, ge=-1)
    temperature: float = Field(0.8, ge=0.0, le=100.0)
    top_k: int = Field(40, ge=0)
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    min_p: float = Field(0.05, ge=0.0, le=1.0)
    n_indent: int = Field(0, ge=0)
    n_cmpl: int = Field(1, ge=1, le=MAX_N_CMPL)
    stream: bool = False
    stop: list[str] = Field(default_factory=list)
    repeat_penalty: float = Field(1.0, gt=0.0, le=10.0)
    repeat_last_n: int = Field(64, ge=-1)
    presence_penalty: float = Field(0.0, ge=-2.0, le=2.0)
    frequency_penalty: float = Field(0.0, ge=-2.0, le=2.0)
    seed: int = -1
    ignore_eos: bool = False
    n_probs: int = Field(0, ge=0, le=20)
    t_max_predict_ms: int = Field(0, ge=0)
    t_max_prompt_ms: int = Field(0, ge=0)  # accepted: prefill is bounded by --fim-context-tokens
    id_slot: int = -1  # accepted: slots are chosen by the longest reusable cache here
    cache_prompt: bool = True  # accepted: the cache is always used (it never changes output)
    return_tokens: bool = False
    samplers: list[str] | None = None
    response_fields: list[str] | None = None
    path: str | None = Field(None, max_length=4096)  # our extension: the document completed

    UNSUPPORTED = {"grammar": (None, ""), "json_schema": (None, {}), "mirostat": (None, 0),
                   "dry_multiplier": (None, 0, 0.0), "xtc_probability": (None, 0, 0.0),
                   "typical_p": (None, 1, 1.0), "dynatemp_range": (None, 0, 0.0),
                   "lora": (None, []), "logit_bias": (None, [], {}), "n_keep": (None, 0, -1),
                   "post_sampling_probs": (None, False)}

    @field_validator("stop")
    @classmethod
    def _stops(cls, v):
        if len(v) > MAX_STOP or any(len(s) > MAX_STOP_CHARS for s in v):
            raise ValueError(f"at most {MAX_STOP} stop strings of at most {MAX_STOP_CHARS} characters")
        return v

    @field_validator("samplers")
    @classmethod
    def _samplers(cls, v):
        bad = [s for s in v or [] if s not in SAMPLERS]
        if bad:
            raise ValueError(f"unknown samplers {bad}; llama.cpp's are {sorted(SAMPLERS)}")
        return v

    def refuse_unsupported(self) -> None:
        super().refuse_unsupported()
        from codecommons.engines.infill import PromptError

        chain = self.chain()
        for name, off in (("dry", "dry_multiplier"), ("xtc", "xtc_probability"), ("typ_p", "typical_p")):
            if name in chain and (self.model_extra or {}).get(off) not in (None, 0, 0.0, 1.0):
                raise PromptError(f"sampler {name!r} is not supported by this server", param=off)

    def chain(self) -> list[str]:
        return DEFAULT_SAMPLERS if self.samplers is None else self.samplers

    def max_tokens(self, n_ctx: int, n_prompt: int) -> int:
        """n_predict -1: until the context is full (llama.cpp's 'infinity')."""
        return self.n_predict if self.n_predict >= 0 else max(n_ctx - n_prompt - 1, 0)

    def to_sampling_params(self, max_tokens: int, index: int = 0) -> SamplingParams:
        chain = self.chain()
        greedy = "temperature" in chain and self.temperature == 0.0
        return SamplingParams(
            max_tokens=max_tokens,
            temperature=0.0 if greedy else (self.temperature if "temperature" in chain else 1.0),
            top_k=self.top_k if "top_k" in chain else 0,
            top_p=self.top_p if "top_p" in chain else 1.0,
            min_p=self.min_p if "min_p" in chain else 0.0,
            seed=None if self.seed < 0 else self.seed + index,
            repetition_penalty=self.repeat_penalty, repeat_last_n=self.repeat_last_n,
            presence_penalty=self.presence_penalty, frequency_penalty=self.frequency_penalty,
            ignore_eos=self.ignore_eos, logprobs=self.n_probs or None)


class InfillBody(CompletionBody):
    input_prefix: str = Field(max_length=1 << 22)
    input_suffix: str = Field(max_length=1 << 22)
    input_extra: list[ExtraChunk] = Field(default_factory=list, max_length=256)
    prompt: str = ""  # the text typed on the cursor's line: after the FIM middle token


def select_fields(result: dict, fields: list[str] | None) -> dict:
    """llama.cpp's `response_fields`: keep the named fields; "a/b" moves field b of
    object a to the top level under the name "a/b"."""
    if not fields:
        return result
    out = {}
    for f in fields:
        node = result
        for part in f.split("/"):
            if not isinstance(node, dict) or part not in node:
                node = None
                break
            node = node[part]
        if node is not None:
            out[f] = node
    return out


def timings(done) -> dict:
    """llama.cpp's `timings` (also on its OpenAI-compatible completions): the prompt
    phase up to the first token, then the rest."""
    prompt_ms = 1000 * (done.ttft_s if done.ttft_s is not None else done.total_s)
    predicted_ms = max(1000 * done.total_s - prompt_ms, 0.0)
    n_eval = max(done.stats.n_evaluated, 0)
    return {"prompt_n": n_eval, "prompt_ms": prompt_ms,
            "prompt_per_token_ms": prompt_ms / n_eval if n_eval else 0.0,
            "prompt_per_second": 1000 * n_eval / prompt_ms if prompt_ms and n_eval else 0.0,
            "predicted_n": done.n_generated, "predicted_ms": predicted_ms,
            "predicted_per_token_ms": predicted_ms / done.n_generated if done.n_generated else 0.0,
            "predicted_per_second": 1000 * done.n_generated / predicted_ms if predicted_ms else 0.0}
