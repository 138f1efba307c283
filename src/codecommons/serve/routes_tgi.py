"""TGI-compatible routes: /generate, /generate_stream, POST / and /info, /health.
HTTP only: preparing prompts and generating live in generation.py."""

from __future__ import annotations

import asyncio
from typing import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from codecommons import __version__
from codecommons.serve import protocol_tgi as tgi
from codecommons.serve.errors import error_event, log_stream_error
from codecommons.serve.generation import Delta
from codecommons.serve.public_code import shifted
from codecommons.serve.routes_openai import SSE_HEADERS, sse
from codecommons.serve.state import ServerState, collect

router = APIRouter()


async def _prepare(st: ServerState, body: tgi.GenerateRequest):
    body.refuse_unsupported()
    params = body.to_sampling_params()
    p = body.parameters

    def prepare():
        if p.truncate:
            return st.generation.prepare_truncated(body.inputs, p.truncate, params.max_tokens, p.stop)
        return st.generation.prepare_completion(body.inputs, None, params.max_tokens, p.stop,
                                                body.context_files(), body.path or "")

    return await asyncio.to_thread(prepare), params


def _seed(params, done) -> int | None:
    """TGI reports the seed a sampled request used (None for greedy)."""
    return None if params.temperature == 0 else done.stats.seed


@router.post("/generate")
async def generate(body: tgi.GenerateRequest, request: Request) -> dict:
    st = ServerState.of(request)
    prep, params = await _prepare(st, body)
    text, done = await collect(request, st.sample(prep, params, stream=False))
    if done.blocked:  # withheld: a copy of indexed code (serve/public_code.py)
        text = ""
    if body.parameters.return_full_text:
        text = body.inputs + text
    out = {"generated_text": text}
    if body.parameters.details:
        out["details"] = tgi.details(done, _seed(params, done), st.engine.detokenize,
                                     body.parameters.top_n_tokens or 0)
    return _attributed(out, done, len(body.inputs) if body.parameters.return_full_text else 0)


def _attributed(out: dict, done, offset: int = 0) -> dict:
    """Our documented extension: `attribution`, the generated text's matches in the
    code index (README "Attribution"), when the server runs with --index."""
    if done.attribution is not None:
        out["attribution"] = shifted(done.attribution, offset)
    return out


def _event_token(ev: Delta) -> dict:
    """One stream event's token: the last token the text came with (its id), the text
    released (stop rules may hold a token's text back and release several at once),
    and the summed logprob of the tokens it covers."""
    lps = [t.logprob for t in ev.tokens if t.logprob is not None]
    return {"id": ev.tokens[-1].id if ev.tokens else -1, "text": ev.text,
            "logprob": sum(lps) if lps else None, "special": False}


@router.post("/generate_stream")
async def generate_stream(body: tgi.GenerateRequest, request: Request) -> StreamingResponse:
    """TGI's stream: one `data:` event per token, the last one with the whole
    `generated_text` and `details`; no [DONE] marker."""
    st = ServerState.of(request)
    prep, params = await _prepare(st, body)
    events = st.sample(prep, params)
    top_n = body.parameters.top_n_tokens or 0

    async def stream() -> AsyncIterator[str]:
        text, n = [], 0
        try:
            async for ev in events:
                if isinstance(ev, Delta):
                    text.append(ev.text)
                    event = {"index": n, "token": _event_token(ev), "generated_text": None,
                             "details": None}
                    if top_n and ev.tokens:
                        event["top_tokens"] = tgi.top_tokens(ev.tokens[-1])
                    yield sse(event)
                    n += 1
                else:
                    full = "".join(text)
                    offset = len(body.inputs) if body.parameters.return_full_text else 0
                    if body.parameters.return_full_text:
                        full = body.inputs + full
                    last = {"id": ev.tokens[-1].id if ev.tokens else -1, "text": "",
                            "logprob": None, "special": True}
                    details = {"finish_reason": tgi.details(ev, None)["finish_reason"],
                               "generated_tokens": ev.n_generated, "seed": _seed(params, ev),
                               "input_length": ev.n_prompt}
                    yield sse(_attributed({"index": n, "token": last, "generated_text": full,
                                           "details": details}, ev, offset))
        except asyncio.CancelledError:
            raise
        except Exception as e:  # the 200 is sent: report in-band, as TGI does
            yield error_event(request.url.path, log_stream_error(e), str(e))

    return StreamingResponse(stream(), media_type="text/event-stream", headers=SSE_HEADERS)


@router.post("/")
async def compat_generate(body: tgi.GenerateRequest, request: Request):
    """TGI's compatibility route, used by InferenceClient(model=URL) and llm-ls."""
    if body.stream:
        return await generate_stream(body, request)
    return await generate(body, request)


@router.get("/info")
async def info(request: Request) -> dict:
    st = ServerState.of(request)
    spec = st.engine.spec
    return {"model_id": spec.id, "model_sha": None, "model_dtype": spec.format,
            "model_device_type": "cpu", "model_pipeline_tag": "text-generation",
            "max_concurrent_requests": st.scheduler.max_queue, "max_best_of": 1,
            "max_stop_sequences": tgi.MAX_STOP, "max_input_tokens": st.engine.n_ctx - 1,
            "max_total_tokens": st.engine.n_ctx, "max_top_n_tokens": tgi.MAX_TOP_N_TOKENS,
            "validation_workers": 1, "version": __version__, "router": "codecommons",
            "license": spec.license, "family": spec.family,
            "slots": st.engine.max_concurrency,
            "fim_context_tokens": st.generation.infill.context_tokens or st.engine.n_ctx}


@router.get("/health")
async def health() -> dict:
    return {"status": "ok"}
