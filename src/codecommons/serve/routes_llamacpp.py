"""llama.cpp server dialect: the routes llama.cpp's own server (`llama-server`) has and
editor plugins written for it call (llama.vscode, llama.vim).

`POST /tokenize` and `POST /detokenize` answer in llama.cpp's shape and also read
vLLM's field names (`prompt`, `add_special_tokens`) and add its `count` and
`max_model_len`, so a Code Commons server in front of either (`--remote-url`), or an
evaluation through `--endpoint`, counts tokens exactly.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from codecommons.serve.generation import RequestError
from codecommons.serve.state import ServerState

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
