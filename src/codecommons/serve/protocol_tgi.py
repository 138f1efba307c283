"""Text Generation Inference (TGI) API shapes: /generate, /generate_stream, /, /info.

llm-ls (llm-vscode, llm.nvim, llm-intellij) and `huggingface_hub.InferenceClient`
speak this API. `POST /` is TGI's compatibility route: it streams when the body
says `"stream": true`. Errors are `{"error": str, "error_type": str}`; validation
errors are 422 and an overloaded queue is 429, as TGI's router returns them.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from codecommons.engines.base import SamplingParams
from codecommons.serve.protocol_base import StrictModel

DEFAULT_MAX_NEW_TOKENS = 100  # TGI's default since 1.4
MAX_STOP = 4
MAX_STOP_CHARS = 256
MAX_TOP_N_TOKENS = 5  # TGI's default --max-top-n-tokens


class Parameters(StrictModel):
    best_of: int | None = Field(None, ge=1, le=1)  # one sequence per request here
    decoder_input_details: bool = False
    details: bool = False
    do_sample: bool = False
    frequency_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    max_new_tokens: int | None = Field(None, ge=1)
    repetition_penalty: float | None = Field(None, gt=0.0, le=10.0)
    return_full_text: bool | None = None
    seed: int | None = Field(None, ge=0)
    stop: list[str] = Field(default_factory=list)
    temperature: float | None = Field(None, gt=0.0, le=100.0)
    top_k: int | None = Field(None, gt=0)
    top_n_tokens: int | None = Field(None, ge=0, le=MAX_TOP_N_TOKENS)
    top_p: float | None = Field(None, gt=0.0, lt=1.0)
    truncate: int | None = Field(None, ge=1)
    typical_p: float | None = Field(None, gt=0.0, le=1.0)
    watermark: bool = False

    # TGI parameters not implemented here: set to anything but their default, a 400 (422).
    UNSUPPORTED = {"typical_p": (None, 1.0), "watermark": (False,), "grammar": (None,),
                   "adapter_id": (None, "")}

    @field_validator("stop")
    @classmethod
    def _max_stop(cls, v):
        if len(v) > MAX_STOP:
            raise ValueError(f"at most {MAX_STOP} stop sequences")
        if any(len(s) > MAX_STOP_CHARS for s in v):
            raise ValueError(f"a stop sequence is at most {MAX_STOP_CHARS} characters")
        return v


class GenerateRequest(StrictModel):
    inputs: str = Field(min_length=1)
    parameters: Parameters = Field(default_factory=Parameters)
    stream: bool = False
    # -- extensions, as on the OpenAI routes: the document completed and repository context
    path: str | None = Field(None, max_length=4096)
    extra_context: list[dict] | None = Field(None, max_length=64)

    def context_files(self) -> list:
        from codecommons.tokenizer.fim import ContextFile

        return [ContextFile(str(c.get("filename", "context")), str(c.get("text", "")))
                for c in self.extra_context or []]

    def refuse_unsupported(self) -> None:
        super().refuse_unsupported()
        self.parameters.refuse_unsupported()

    def to_sampling_params(self) -> SamplingParams:
        """TGI semantics: greedy unless do_sample or a sampling knob is set. Token
        logprobs are always computed: TGI's `details.tokens` and stream events carry them."""
        p = self.parameters
        sampling = p.do_sample or any(v is not None for v in (p.temperature, p.top_p, p.top_k))
        return SamplingParams(
            max_tokens=p.max_new_tokens or DEFAULT_MAX_NEW_TOKENS,
            temperature=(p.temperature or 1.0) if sampling else 0.0,
            top_p=p.top_p or 1.0, top_k=p.top_k or 0, seed=p.seed,
            repetition_penalty=p.repetition_penalty or 1.0,
            frequency_penalty=p.frequency_penalty or 0.0,
            logprobs=p.top_n_tokens or 0, prompt_logprobs=p.decoder_input_details)


def token(tok, special: bool = False) -> dict:
    return {"id": tok.id, "text": tok.text, "logprob": tok.logprob, "special": special}


def top_tokens(tok) -> list[dict]:
    return [{"id": i, "text": t, "logprob": lp, "special": False} for i, t, lp in tok.top or []]


def details(done, seed: int | None, detokenize=None, top_n: int = 0) -> dict:
    """TGI's `details`: finish_reason is length | eos_token | stop_sequence, plus our
    content_filter (a copy of indexed code withheld: serve/public_code.py); `tokens`
    with their logprobs; `prefill` with decoder_input_details; `top_tokens` with
    top_n_tokens."""
    if done.finish_reason in ("length", "content_filter", "time_limit"):
        reason = "length" if done.finish_reason == "time_limit" else done.finish_reason
    else:
        reason = "stop_sequence" if done.stop_sequence else "eos_token"
    out = {"finish_reason": reason, "generated_tokens": done.n_generated, "seed": seed,
           "prefill": [], "tokens": [token(t) for t in done.tokens]}
    if done.stats.prompt_logprobs and detokenize is not None:
        out["prefill"] = [{"id": i, "text": detokenize([i]), "logprob": lp}
                          for i, lp in done.stats.prompt_logprobs]
    if top_n:
        out["top_tokens"] = [top_tokens(t) for t in done.tokens]
    return out


def error_body(message: str, error_type: str = "validation") -> dict:
    return {"error": message, "error_type": error_type}
