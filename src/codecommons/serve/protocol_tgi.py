"""Text Generation Inference (TGI) API shapes: /generate, /generate_stream, /, /info.

llm-ls (llm-vscode, llm.nvim, llm-intellij) and `huggingface_hub.InferenceClient`
speak this API. `POST /` is TGI's compatibility route: it streams when the body
says `"stream": true`. Errors are `{"error": str, "error_type": str}`; validation
errors are 422 and an overloaded queue is 429, as TGI's router returns them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from codecommons.engines.base import SamplingParams

DEFAULT_MAX_NEW_TOKENS = 100  # TGI's default since 1.4
MAX_STOP = 4


class Parameters(BaseModel):
    model_config = ConfigDict(extra="allow")

    best_of: int | None = Field(None, ge=1, le=1)  # one sequence per request here
    decoder_input_details: bool = False
    details: bool = False
    do_sample: bool = False
    frequency_penalty: float | None = None
    max_new_tokens: int | None = Field(None, ge=1)
    repetition_penalty: float | None = Field(None, gt=0.0)
    return_full_text: bool | None = None
    seed: int | None = Field(None, ge=0)
    stop: list[str] = Field(default_factory=list)
    temperature: float | None = Field(None, gt=0.0)
    top_k: int | None = Field(None, gt=0)
    top_p: float | None = Field(None, gt=0.0, lt=1.0)
    truncate: int | None = None
    typical_p: float | None = None
    watermark: bool = False

    @field_validator("stop")
    @classmethod
    def _max_stop(cls, v):
        if len(v) > MAX_STOP:
            raise ValueError(f"at most {MAX_STOP} stop sequences")
        return v


class GenerateRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    inputs: str = Field(min_length=1)
    parameters: Parameters = Field(default_factory=Parameters)
    stream: bool = False

    def to_sampling_params(self) -> SamplingParams:
        """TGI semantics: greedy unless do_sample or a sampling knob is set."""
        p = self.parameters
        sampling = p.do_sample or any(v is not None for v in (p.temperature, p.top_p, p.top_k))
        return SamplingParams(
            max_tokens=p.max_new_tokens or DEFAULT_MAX_NEW_TOKENS,
            temperature=(p.temperature or 1.0) if sampling else 0.0,
            top_p=p.top_p or 1.0, top_k=p.top_k or 0, seed=p.seed,
            repetition_penalty=p.repetition_penalty or 1.0)


def details(done, seed: int | None) -> dict:
    """TGI's `details`: finish_reason is length | eos_token | stop_sequence, plus our
    content_filter (a copy of indexed code withheld: serve/public_code.py)."""
    if done.finish_reason in ("length", "content_filter"):
        reason = done.finish_reason
    else:
        reason = "stop_sequence" if done.stop_sequence else "eos_token"
    return {"finish_reason": reason, "generated_tokens": done.n_generated, "seed": seed,
            "prefill": [], "tokens": []}


def error_body(message: str, error_type: str = "validation") -> dict:
    return {"error": message, "error_type": error_type}
