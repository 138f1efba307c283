"""TGI-compatible routes: /generate, /generate_stream, POST / and /info, /health.
HTTP only: preparing prompts and generating live in generation.py."""

from __future__ import annotations

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


def _prepare(st: ServerState, body: tgi.GenerateRequest):
    params = body.to_sampling_params()
    prep = st.generation.prepare_completion(body.inputs, None, params.max_tokens,
                                            body.parameters.stop)
    return prep, params


@router.post("/generate")
async def generate(body: tgi.GenerateRequest, request: Request) -> dict:
    st = ServerState.of(request)
    prep, params = _prepare(st, body)
    text, done = await collect(request, st.sample(prep, params, stream=False))
    if done.blocked:  # withheld: a copy of indexed code (serve/public_code.py)
        text = ""
    if body.parameters.return_full_text:
        text = body.inputs + text
    out = {"generated_text": text}
    if body.parameters.details:
        out["details"] = tgi.details(done, params.seed)
    return _attributed(out, done, len(body.inputs) if body.parameters.return_full_text else 0)


def _attributed(out: dict, done, offset: int = 0) -> dict:
    """Our documented extension: `attribution`, the generated text's matches in the
    code index (README "Attribution"), when the server runs with --index."""
    if done.attribution is not None:
        out["attribution"] = shifted(done.attribution, offset)
    return out


@router.post("/generate_stream")
async def generate_stream(body: tgi.GenerateRequest, request: Request) -> StreamingResponse:
    """TGI's stream: one `data:` event per token, the last one with the whole
    `generated_text` and `details`; no [DONE] marker."""
    st = ServerState.of(request)
    prep, params = _prepare(st, body)
    events = st.sample(prep, params)

    async def stream() -> AsyncIterator[str]:
        text, n = [], 0
        try:
            async for ev in events:
                if isinstance(ev, Delta):
                    text.append(ev.text)
                    yield sse({"index": n, "token": {"id": -1, "text": ev.text, "logprob": 0.0,
                                                     "special": False},
                               "generated_text": None, "details": None})
                    n += 1
                else:
                    full = "".join(text)
                    if body.parameters.return_full_text:
                        full = body.inputs + full
                    offset = len(body.inputs) if body.parameters.return_full_text else 0
                    yield sse(_attributed({"index": n, "token": {"id": -1, "text": "", "logprob": 0.0,
                                                                 "special": True},
                                           "generated_text": full,
                                           "details": tgi.details(ev, params.seed)}, ev, offset))
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
            "max_total_tokens": st.engine.n_ctx, "validation_workers": 1,
            "version": __version__, "router": "codecommons", "license": spec.license,
            "family": spec.family}


@router.get("/health")
async def health() -> dict:
    return {"status": "ok"}
