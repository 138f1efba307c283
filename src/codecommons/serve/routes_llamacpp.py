"""llama.cpp server dialect: the routes llama.cpp's own server (`llama-server`) has and
editor plugins written for it call (llama.vscode, llama.vim): `/infill` (FIM with
`input_extra` repository context), `/completion`, `/props`, `/tokenize`, `/detokenize`.
Shapes and defaults: protocol_llamacpp.py.

`POST /tokenize` and `POST /detokenize` answer in llama.cpp's shape and also read
vLLM's field names (`prompt`, `add_special_tokens`) and add its `count` and
`max_model_len`, so a Code Commons server in front of either (`--remote-url`), or an
evaluation through `--endpoint`, counts tokens exactly.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from codecommons import __version__
from codecommons.serve import protocol_llamacpp as lc
from codecommons.serve.errors import error_event, log_stream_error
from codecommons.serve.generation import Delta, RequestError
from codecommons.serve.routes_openai import SSE_HEADERS, sse
from codecommons.serve.state import ServerState, collect
from codecommons.tokenizer.fim import ContextFile

router = APIRouter()
MAX_TOKENIZE_CHARS = 1 << 20


class TokenizeRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    content: str | None = Field(None, max_length=MAX_TOKENIZE_CHARS)  # llama.cpp
    prompt: str | None = Field(None, max_length=MAX_TOKENIZE_CHARS)  # vLLM
    add_special: bool | None = None  # llama.cpp: BOS where the model wants one (default no)
    add_special_tokens: bool | None = None  # vLLM's name for the same (default yes)
    parse_special: bool = True  # llama.cpp: "<|im_end|>" in the text becomes that token
    with_pieces: bool = False


class DetokenizeRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    tokens: list[int] = Field(max_length=MAX_TOKENIZE_CHARS)


@router.post("/tokenize")
async def tokenize(body: TokenizeRequest, request: Request) -> dict:
    st = ServerState.of(request)
    text = body.content if body.content is not None else body.prompt
    if text is None:
        raise RequestError("give the text to tokenize as `content` (or `prompt`)", param="content")
    bos = body.add_special if body.add_special is not None else (
        body.add_special_tokens if body.add_special_tokens is not None else body.content is None)

    def run() -> list[int]:
        ids = st.engine.tokenize(text, special=body.parse_special)
        return (st.engine.bos_ids() if bos else []) + ids

    ids = await asyncio.to_thread(run)
    out: dict = {"tokens": ids}
    if body.with_pieces:
        pieces = await asyncio.to_thread(lambda: [st.engine.detokenize([i]) for i in ids])
        out["tokens"] = [{"id": i, "piece": p} for i, p in zip(ids, pieces)]
    out.update(count=len(ids), max_model_len=st.engine.n_ctx)
    return out


@router.post("/detokenize")
async def detokenize(body: DetokenizeRequest, request: Request) -> dict:
    st = ServerState.of(request)
    vocab = st.engine.vocab_size()
    bad = [i for i in body.tokens if not 0 <= i < vocab]
    if bad:
        raise RequestError(f"token ids out of range 0..{vocab - 1}: {bad[:5]}", param="tokens")
    text = await asyncio.to_thread(st.engine.detokenize, body.tokens)
    return {"content": text, "prompt": text}


# -- /completion, /infill, /props ----------------------------------------------------


def _stop_type(done) -> str:
    if done.finish_reason in ("length", "time_limit"):
        return "limit"
    if done.finish_reason == "stop":
        return "word" if done.stop_sequence else "eos"
    return "none"


def _result(st: ServerState, body: lc.CompletionBody, index: int, text: str, done,
            params) -> dict:
    out = {"index": index, "content": text,
           "tokens": [t.id for t in done.tokens] if body.return_tokens else [],
           "id_slot": done.stats.slot, "stop": True, "model": st.model_id,
           "tokens_predicted": done.n_generated, "tokens_evaluated": done.n_prompt,
           "generation_settings": {"n_predict": params.max_tokens, "temperature": params.temperature,
                                   "top_k": params.top_k, "top_p": params.top_p, "min_p": params.min_p,
                                   "seed": done.stats.seed, "n_ctx": st.engine.n_ctx,
                                   "samplers": body.chain()},
           "prompt": "", "has_new_line": "\n" in text, "truncated": False,
           "stop_type": _stop_type(done), "stopping_word": "",
           "tokens_cached": done.stats.n_cached + done.stats.n_shifted, "timings": lc.timings(done)}
    if body.n_probs:
        out["completion_probabilities"] = [
            {"id": t.id, "token": t.text, "logprob": t.logprob, "bytes": list(t.text.encode()),
             "top_logprobs": [{"id": i, "token": s, "logprob": lp, "bytes": list(s.encode())}
                              for i, s, lp in t.top or []]} for t in done.tokens]
    if done.attribution is not None:  # our extension, as on every route
        out["attribution"] = done.attribution
    if done.files:
        out["context"] = [f.describe() for f in done.files]
    return lc.select_fields(out, body.response_fields)


async def _complete(request: Request, body: lc.CompletionBody, prepare) -> object:
    st = ServerState.of(request)
    body.refuse_unsupported()
    st.check_fanout(1, body.n_cmpl)
    prep, max_tokens = await asyncio.to_thread(prepare, st)
    if prep.infill is not None:
        prep.infill.min_indent = body.n_indent
    if body.t_max_predict_ms:
        prep.max_predict_s = body.t_max_predict_ms / 1000
    jobs = [body.to_sampling_params(max_tokens, i) for i in range(body.n_cmpl)]
    key = st.document_key(request, body.path)
    if body.stream:
        return _stream(request, st, body, prep, jobs, key)
    results = []
    for i, params in enumerate(jobs):
        text, done = await collect(request, st.sample(prep, params, stream=False, key=key if i == 0 else ""))
        results.append(_result(st, body, i, "" if done.blocked else text, done, params))
    return results[0] if len(results) == 1 else results


def _stream(request: Request, st: ServerState, body, prep, jobs, key) -> StreamingResponse:
    """llama.cpp's stream: SSE events {"content", "stop": false, ...}; the last of each
    completion has "stop": true and the whole result's fields; no [DONE]."""
    first = st.sample(prep, jobs[0], key=key)

    async def events():
        try:
            for i, params in enumerate(jobs):
                evs = first if i == 0 else st.sample(prep, params)
                text = []
                async for ev in evs:
                    if isinstance(ev, Delta):
                        text.append(ev.text)
                        yield sse({"index": i, "content": ev.text, "stop": False,
                                   "id_slot": -1, "tokens": [t.id for t in ev.tokens]
                                   if body.return_tokens else []})
                    else:
                        result = _result(st, body, i, "", ev, params)
                        yield sse({**result, "content": "", "stop": True})
        except asyncio.CancelledError:
            raise
        except Exception as e:  # the 200 is sent: report in-band
            yield error_event(request.url.path, log_stream_error(e), str(e))

    return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)


@router.post("/completion")
async def completion(body: lc.CompletionBody, request: Request):
    def prepare(st: ServerState):
        if isinstance(body.prompt, list):
            max_tokens = body.max_tokens(st.engine.n_ctx, len(body.prompt))
            return st.generation.prepare_ids(body.prompt, max_tokens), max_tokens
        n = st.engine.count_tokens(body.prompt) if body.prompt else 0
        max_tokens = body.max_tokens(st.engine.n_ctx, n + 1)
        return st.generation.prepare_completion(body.prompt, None, max_tokens, body.stop), max_tokens

    return await _complete(request, body, prepare)


@router.post("/infill")
async def infill(body: lc.InfillBody, request: Request):
    """llama.cpp's /infill: input_prefix + prompt before the cursor (the prompt is the
    cursor line's text, which our layout also keeps after the middle token),
    input_suffix after it, input_extra chunks as repository context."""
    files = [ContextFile(c.filename, c.text) for c in body.input_extra]

    def prepare(st: ServerState):
        prefix = body.input_prefix + body.prompt
        n = (st.engine.count_tokens(prefix) + st.engine.count_tokens(body.input_suffix)
             if body.n_predict < 0 else 0)
        max_tokens = min(body.max_tokens(st.engine.n_ctx, n + 8), st.engine.n_ctx // 2)
        prep = st.generation.prepare_completion(prefix, body.input_suffix, max_tokens, body.stop,
                                                files, body.path or "")
        return prep, max_tokens

    return await _complete(request, body, prepare)


@router.get("/props")
async def props(request: Request) -> dict:
    st = ServerState.of(request)
    spec = st.engine.spec
    return {"default_generation_settings": {"n_ctx": st.engine.n_ctx, "model": spec.id,
                                            "params": {"n_predict": -1, "temperature": 0.8,
                                                       "top_k": 40, "top_p": 0.95, "min_p": 0.05,
                                                       "samplers": lc.DEFAULT_SAMPLERS}},
            "total_slots": st.engine.max_concurrency, "model_path": spec.path,
            "model_alias": spec.id, "chat_template": st.engine.chat_template() or "",
            "modalities": {"vision": False, "audio": False},
            "build_info": f"codecommons {__version__}"}
