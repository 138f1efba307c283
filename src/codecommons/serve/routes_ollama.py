"""Ollama dialect: /api/generate (FIM through `suffix`), /api/chat, /api/tags,
/api/show, /api/version, for plugins written for Ollama (Continue, Twinny, Zed,
JetBrains). HTTP only; shapes in protocol_ollama.py. Streams are NDJSON."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from datetime import datetime, timezone
from typing import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from codecommons import __version__
from codecommons.serve import protocol_ollama as ol
from codecommons.serve.errors import error_event, log_stream_error
from codecommons.serve.generation import Delta
from codecommons.serve.state import ServerState, collect
from codecommons.tokenizer.fim import ContextFile

router = APIRouter()
NS = 1_000_000_000


def _now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def _final(st: ServerState, done, extra: dict) -> dict:
    total = int(done.total_s * NS)
    prompt_ns = int((done.ttft_s if done.ttft_s is not None else done.total_s) * NS)
    return {"model": st.model_id, "created_at": _now(), **extra, "done": True,
            "done_reason": "length" if done.finish_reason in ("length", "time_limit") else "stop",
            "total_duration": total, "load_duration": 0,
            "prompt_eval_count": done.stats.n_evaluated, "prompt_eval_duration": prompt_ns,
            "eval_count": done.n_generated, "eval_duration": max(total - prompt_ns, 0),
            **({"attribution": done.attribution} if done.attribution is not None else {}),
            **({"context_files": [f.describe() for f in done.files]} if done.files else {})}


def _ndjson(request: Request, st: ServerState, events, piece, last) -> StreamingResponse:
    async def lines() -> AsyncIterator[str]:
        try:
            async for ev in events:
                if isinstance(ev, Delta):
                    yield json.dumps({"model": st.model_id, "created_at": _now(), **piece(ev.text),
                                      "done": False}) + "\n"
                else:
                    yield json.dumps(_final(st, ev, last)) + "\n"
        except asyncio.CancelledError:
            raise
        except Exception as e:  # the 200 is sent: an error line, as Ollama does
            yield error_event(request.url.path, log_stream_error(e), str(e))

    return StreamingResponse(lines(), media_type="application/x-ndjson")


@router.post("/api/generate")
async def generate(body: ol.GenerateBody, request: Request):
    st = ServerState.of(request)
    body.refuse_unsupported()
    if not body.prompt and body.suffix is None:  # Ollama's "load the model" request
        return {"model": st.model_id, "created_at": _now(), "response": "", "done": True,
                "done_reason": "load"}
    files = [ContextFile(str(c.get("filename", "context")), str(c.get("text", "")))
             for c in body.extra_context or []]

    def prepare():
        gen = st.generation
        room = max(st.engine.n_ctx // 2, 1)
        params = body.options.sampling(room)
        stops = body.options.stop or []
        chat = (body.suffix is None and not body.raw and st.engine.chat_template() is not None
                and (gen.fim is None or gen.fim.parse(body.prompt) is None))
        if chat:  # Ollama applies the model's template to a plain prompt
            messages = ([{"role": "system", "content": body.system}] if body.system else []) + [
                {"role": "user", "content": body.prompt}]
            prep, _ = gen.prepare_chat(messages, params.max_tokens, stops)
        else:
            prep = gen.prepare_completion(body.prompt, body.suffix, params.max_tokens, stops,
                                          files, body.path or "")
        return prep, params

    prep, params = await asyncio.to_thread(prepare)
    key = st.document_key(request, body.path)
    if body.stream:
        return _ndjson(request, st, st.sample(prep, params, key=key),
                       lambda t: {"response": t}, {"response": ""})
    text, done = await collect(request, st.sample(prep, params, stream=False, key=key))
    return _final(st, done, {"response": "" if done.blocked else text})


@router.post("/api/chat")
async def chat(body: ol.ChatBody, request: Request):
    st = ServerState.of(request)
    body.refuse_unsupported()
    messages = [{"role": m.role, "content": m.content} for m in body.messages]

    def prepare():
        params = body.options.sampling(max(st.engine.n_ctx // 2, 1))
        prep, _ = st.generation.prepare_chat(messages, params.max_tokens, body.options.stop or [])
        return prep, params

    prep, params = await asyncio.to_thread(prepare)
    role = {"role": "assistant"}
    if body.stream:
        return _ndjson(request, st, st.sample(prep, params), lambda t: {"message": {**role, "content": t}},
                       {"message": {**role, "content": ""}})
    text, done = await collect(request, st.sample(prep, params, stream=False))
    return _final(st, done, {"message": {**role, "content": "" if done.blocked else text}})


# GGUF general.file_type (llama.cpp's llama_ftype) -> Ollama's quantization_level names
FILE_TYPES = {"0": "F32", "1": "F16", "2": "Q4_0", "3": "Q4_1", "7": "Q8_0", "8": "Q5_0",
              "9": "Q5_1", "10": "Q2_K", "11": "Q3_K_S", "12": "Q3_K_M", "13": "Q3_K_L",
              "14": "Q4_K_S", "15": "Q4_K_M", "16": "Q5_K_S", "17": "Q5_K_M", "18": "Q6_K",
              "32": "BF16"}


def _details(st: ServerState) -> dict:
    spec = st.engine.spec
    meta = st.engine.metadata()
    family = meta.get("general.architecture", spec.family)
    return {"parent_model": "", "format": spec.format, "family": family, "families": [family],
            "parameter_size": meta.get("general.size_label", ""),
            "quantization_level": FILE_TYPES.get(str(meta.get("general.file_type", "")), "")}


def _digest(path: str) -> str:
    """An identifier of the model file (not its content hash, which would take seconds)."""
    try:
        s = os.stat(path)
        key = f"{os.path.realpath(path)}:{s.st_size}:{s.st_mtime_ns}"
    except OSError:
        key = path
    return hashlib.sha256(key.encode()).hexdigest()


@router.get("/api/tags")
async def tags(request: Request) -> dict:
    st = ServerState.of(request)
    spec = st.engine.spec
    try:
        size = os.path.getsize(spec.path)
        mtime = datetime.fromtimestamp(os.path.getmtime(spec.path), timezone.utc).isoformat()
    except OSError:
        size, mtime = 0, _now()
    return {"models": [{"name": spec.id, "model": spec.id, "modified_at": mtime, "size": size,
                        "digest": _digest(spec.path), "details": _details(st)}]}


@router.post("/api/show")
async def show(body: ol.ShowBody, request: Request) -> dict:
    st = ServerState.of(request)
    fim = st.generation.fim
    stops = list(fim.stops) if fim else []
    # Continue uses FIM when the template mentions .Suffix; the template shows the
    # format this server applies (it is not used to render anything).
    template = (f"{{{{- if .Suffix }}}}{fim.layout.replace('{prefix}', '{{ .Prompt }}').replace('{suffix}', '{{ .Suffix }}')}"
                f"{{{{- else }}}}{{{{ .Prompt }}}}{{{{- end }}}}") if fim else "{{ .Prompt }}"
    caps = ["completion"] + (["insert"] if fim else [])
    return {"license": st.engine.spec.license, "modelfile": f"FROM {st.engine.spec.path}\n",
            "parameters": "\n".join([f"num_ctx {st.engine.n_ctx}"] + [f'stop "{s}"' for s in stops]),
            "template": template, "details": _details(st),
            "model_info": {"general.architecture": _details(st)["family"],
                           "general.context_length": st.engine.n_ctx},
            "capabilities": caps, "modified_at": _now()}


@router.get("/api/version")
async def version() -> dict:
    return {"version": __version__}
