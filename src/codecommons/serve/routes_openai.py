"""OpenAI-compatible routes: /v1/completions (FIM through `suffix`), /v1/chat/completions,
/v1/models. HTTP only: preparing prompts and generating live in generation.py."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from codecommons.serve import protocol_llamacpp as lc
from codecommons.serve import protocol_openai as oa
from codecommons.serve.errors import error_event, log_stream_error
from codecommons.serve.generation import Delta, Done, Prepared
from codecommons.serve.public_code import shifted
from codecommons.serve.state import ServerState, collect

router = APIRouter()
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def sse(obj: dict | str) -> str:
    return f"data: {obj if isinstance(obj, str) else json.dumps(obj)}\n\n"


@router.get("/v1/models")
async def models(request: Request) -> dict:
    st = ServerState.of(request)
    spec = st.engine.spec
    return {"object": "list", "data": [{
        "id": spec.id, "object": "model", "created": st.created, "owned_by": "codecommons",
        "family": spec.family, "context_length": st.engine.n_ctx,
        "max_model_len": st.engine.n_ctx, "license": spec.license}]}


async def prepare_completions(st: ServerState, body: oa.CompletionRequest) -> list[Prepared]:
    """Each prompt prepared (tokenised, fitted) on a worker thread, not the event loop."""
    prompts = body.prompts()
    st.check_fanout(len(prompts), body.n)
    files, document = body.context_files(), body.path or ""

    def prepare() -> list[Prepared]:
        out = []
        for p in prompts:
            if isinstance(p, list):
                out.append(st.generation.prepare_ids(p, body.max_tokens))
            else:
                out.append(st.generation.prepare_completion(p, body.suffix, body.max_tokens,
                                                            body.stops(), files, document))
        return out

    return await asyncio.to_thread(prepare)


@router.post("/v1/completions")
async def completions(body: oa.CompletionRequest, request: Request):
    st = ServerState.of(request)
    st.check_model(body.model)
    body.refuse_unsupported()
    preps = await prepare_completions(st, body)
    key = st.document_key(request, body.path)
    jobs = [(i * body.n + j, prep, body.to_sampling_params(body.max_tokens, j, body.logprobs))
            for i, prep in enumerate(preps) for j in range(body.n)]
    texts = [p if isinstance(p, str) else st.engine.detokenize(p) for p in body.prompts()]
    rid, created = oa.new_id("cmpl"), oa.now()

    def chunk(index: int, text: str, finish: str | None, done: Done | None = None,
              offset: int = 0) -> dict:
        choice = {"text": text, "index": index, "logprobs": None, "finish_reason": finish}
        return {"id": rid, "object": "text_completion", "created": created, "model": st.model_id,
                "choices": [_extended(choice, done, offset)]}

    if body.stream:
        echo = (lambda i: texts[i // body.n]) if body.echo else None
        return _stream(request, st, jobs, chunk, lambda i: None, body.include_usage(),
                       "text_completion", key, echo)
    choices, n_prompt, n_gen, n_cached = [], 0, 0, 0
    for i, text_in in enumerate(texts):
        for j, (text, done) in enumerate(await _collect_samples(
                request, st, jobs[i * body.n:(i + 1) * body.n], key)):
            offset = len(text_in) if body.echo else 0
            choice = chunk(i * body.n + j, text_in[:offset] + text, _finish(done), done,
                           offset)["choices"][0]
            if body.logprobs is not None:
                choice["logprobs"] = oa.completion_logprobs(done.tokens, text, offset)
            choices.append(choice)
            if j == 0:
                n_prompt += done.n_prompt
                n_cached += done.n_cached
            n_gen += done.n_generated
    out = {"id": rid, "object": "text_completion", "created": created, "model": st.model_id,
           "choices": choices, "usage": oa.usage(n_prompt, n_gen, n_cached)}
    if len(choices) == 1:  # llama.cpp's server adds its `timings` to its one result
        out["timings"] = lc.timings(done)
    return out


@router.post("/v1/chat/completions")
async def chat_completions(body: oa.ChatRequest, request: Request):
    st = ServerState.of(request)
    st.check_model(body.model)
    body.refuse_unsupported()
    st.check_fanout(1, body.n)
    prep, max_tokens = await asyncio.to_thread(
        st.generation.prepare_chat, body.plain_messages(), body.requested_max_tokens(), body.stops())
    jobs = [(j, prep, body.to_sampling_params(max_tokens, j, body.logprobs_n())) for j in range(body.n)]
    rid, created = oa.new_id("chatcmpl"), oa.now()
    key = st.document_key(request, body.path)

    def chunk(index: int, text: str, finish: str | None, done: Done | None = None) -> dict:
        delta = {"content": text} if text else {}
        choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
        return {"id": rid, "object": "chat.completion.chunk", "created": created,
                "model": st.model_id, "choices": [_extended(choice, done)]}

    def opener(index: int) -> dict:
        c = chunk(index, "", None)
        c["choices"][0]["delta"] = {"role": "assistant", "content": ""}
        return c

    if body.stream:
        return _stream(request, st, jobs, chunk, opener, body.include_usage(),
                       "chat.completion.chunk", key)
    choices, n_gen = [], 0
    for index, (text, done) in enumerate(await _collect_samples(request, st, jobs, key)):
        choice = {"index": index, "message": {"role": "assistant", "content": text},
                  "logprobs": oa.chat_logprobs(done.tokens, text) if body.logprobs else None,
                  "finish_reason": _finish(done)}
        choices.append(_extended(choice, done))
        n_gen += done.n_generated
    return {"id": rid, "object": "chat.completion", "created": created, "model": st.model_id,
            "choices": choices, "usage": oa.usage(prep.n_prompt, n_gen)}


def _extended(choice: dict, done: Done | None, offset: int = 0) -> dict:
    """Our documented extensions on a choice's last chunk: `attribution`, its matches in
    the code index (README "Attribution", with --index), and `context`, the repository
    context the prompt held (README "Repository context")."""
    if done is not None and done.attribution is not None:
        choice["attribution"] = shifted(done.attribution, offset)
    if done is not None and done.files:
        choice["context"] = [f.describe() for f in done.files]
    return choice


async def _collect_samples(request: Request, st: ServerState,
                           jobs: list[tuple[int, Prepared, object]], key: str) -> list[tuple[str, Done]]:
    """The n samples of one prompt, whole. A sample withheld as a copy of indexed
    code is replaced by a further sample where sampling is random (greedy would
    repeat it), up to n extra tries; the offered samples come first, so a client
    that reads choices[0] gets the next-best sample."""
    results = []
    for k, (_, prep, params) in enumerate(jobs):
        # only the first sample supersedes an older request for the document
        results.append(await collect(request, st.sample(prep, params, stream=False,
                                                        key=key if k == 0 else "")))
    n, tries = len(jobs), 0
    while n > 1 and tries < n and jobs[0][2].temperature > 0 and any(d.blocked for _, d in results):
        _, prep, params = jobs[0]
        params = replace(params, seed=None if params.seed is None else params.seed + n + tries)
        extra = await collect(request, st.sample(prep, params, stream=False))
        tries += 1
        if not extra[1].blocked:
            results[next(i for i, (_, d) in enumerate(results) if d.blocked)] = extra
    results.sort(key=lambda r: r[1].blocked)  # stable: sample order otherwise
    return [("" if d.blocked else text, d) for text, d in results]


def _finish(done: Done | None) -> str:
    """OpenAI's finish_reason: a cancelled sample ended early ("stop"), a time limit
    cut it ("length")."""
    if done is None:
        return "length"
    return {"cancelled": "stop", "time_limit": "length"}.get(done.finish_reason, done.finish_reason)


def _stream(request: Request, st: ServerState, jobs: list[tuple[int, Prepared, object]],
            chunk, opener, include_usage: bool, obj: str, key: str = "",
            echo=None) -> StreamingResponse:
    """SSE as OpenAI sends it: one chunk per delta, a final chunk with the
    finish_reason, an optional usage chunk, then `data: [DONE]`. The first sample
    is queued before the response starts, so a full queue is still a 503. With
    `echo`, each choice starts with a chunk holding its prompt."""
    first = st.sample(jobs[0][1], jobs[0][2], key=key)

    async def events() -> AsyncIterator[str]:
        n_prompt = n_gen = n_cached = 0
        seen_prompts: set[int] = set()
        try:
            for k, (index, prep, params) in enumerate(jobs):
                evs = first if k == 0 else st.sample(prep, params)
                if (o := opener(index)) is not None:
                    yield sse(o)
                if echo is not None:
                    yield sse(chunk(index, echo(index), None))
                async for ev in evs:
                    if isinstance(ev, Delta):
                        yield sse(chunk(index, ev.text, None))
                    else:
                        yield sse(chunk(index, "", _finish(ev), ev))
                        if id(prep) not in seen_prompts:  # each prompt counted once
                            seen_prompts.add(id(prep))
                            n_prompt += ev.n_prompt
                            n_cached += ev.n_cached
                        n_gen += ev.n_generated
            if include_usage:
                yield sse({"id": chunk(0, "", None)["id"], "object": obj, "choices": [],
                           "model": st.model_id, "usage": oa.usage(n_prompt, n_gen, n_cached)})
            yield sse("[DONE]")
        except asyncio.CancelledError:
            raise
        except Exception as e:  # the 200 is sent: report in-band, as OpenAI does
            yield error_event(request.url.path, log_stream_error(e), str(e))

    return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)
