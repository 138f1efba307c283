"""The dataset explorer's routes (`commons serve --dataset DIR`), under /v1/dataset.

    GET  /v1/dataset                           -> card (README.md), stats.json, counts
    GET  /v1/dataset/repos?q=h11               -> repositories matching, with files kept and excluded
    GET  /v1/dataset/files?repo=&path=&exact=  -> files (metadata) by repository and/or path (glob ok)
    GET  /v1/dataset/file?repo=R&path=P        -> one file with its content and provenance
    GET  /v1/dataset/excluded?repo=R           -> files read from R and dropped, with the reason
    GET  /v1/dataset/authors?q=Jane+Doe        -> files whose text mentions a name or email
    POST /v1/dataset/search/code {"input": CODE, "language"?}
                                               -> indexed files this code copies (needs --index)

Errors are OpenAI-shaped, as every /v1 route's.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from codecommons.serve.generation import RequestError
from codecommons.serve.state import ServerState

router = APIRouter(prefix="/v1/dataset")
MIN_AUTHOR_CHARS = 3


class CodeSearch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input: str = Field(min_length=1, max_length=1 << 20)
    language: str | None = None  # a Pygments name or alias; default: the index's languages


def catalog(request: Request):
    ui = request.app.state.ui
    if ui.dataset is None:
        raise RequestError("this server has no dataset loaded: start it with `commons serve "
                           "--dataset DIR` (a `commons curate` output)",
                           code="dataset_not_configured", status=404)
    return ui.dataset


@router.get("")
async def dataset(request: Request) -> dict:
    c = catalog(request)
    policy = ServerState.of(request).public_code
    return {"path": str(c.root), "card": c.card, "stats": c.stats, "files": c.n_files,
            "repos": c.n_repos, "snippet_search": policy is not None,
            "min_chars": policy.min_chars if policy else None}


@router.get("/repos")
async def repos(request: Request, q: str = Query(min_length=1, max_length=300),
                limit: int = Query(50, ge=1, le=500)) -> dict:
    total, rows = catalog(request).repos(q, limit)
    return {"total": total, "repos": rows}


@router.get("/files")
async def files(request: Request, repo: str = Query("", max_length=300),
                path: str = Query("", max_length=1000), exact: bool = False,
                offset: int = Query(0, ge=0), limit: int = Query(100, ge=1, le=500)) -> dict:
    if not repo and not path:
        raise RequestError("give `repo` or `path` (or both)", param="repo")
    total, rows = catalog(request).files(repo, path, exact, offset, limit)
    return {"total": total, "files": rows}


@router.get("/file")
async def file(request: Request, repo: str = Query(max_length=300),
               path: str = Query(max_length=1000)) -> dict:
    c = catalog(request)
    row = await asyncio.to_thread(c.file, repo, path)
    if row is None:
        raise RequestError(f"no file {path!r} of {repo!r} in this dataset", param="path",
                           code="file_not_found", status=404)
    return row


@router.get("/excluded")
async def excluded(request: Request, repo: str = Query(min_length=1, max_length=300),
                   limit: int = Query(50, ge=1, le=500)) -> dict:
    total, rows = catalog(request).excluded_files(repo, limit)
    return {"total": total, "files": rows}


@router.get("/authors")
async def authors(request: Request, q: str = Query(max_length=300),
                  limit: int = Query(50, ge=1, le=500)) -> dict:
    q = q.strip()
    if len(q) < MIN_AUTHOR_CHARS:
        raise RequestError(f"give at least {MIN_AUTHOR_CHARS} characters of a name or email",
                           param="q")
    # reads every shard's content: off the event loop
    total, scanned, rows = await asyncio.to_thread(catalog(request).mentions, q, limit)
    return {"total": total, "scanned": scanned, "files": rows}


@router.post("/search/code")
async def search_code(body: CodeSearch, request: Request) -> dict:
    c = request.app.state.ui.dataset  # optional here: the index alone answers
    policy = ServerState.of(request).public_code
    if policy is None:
        raise RequestError("snippet search needs a code index: start the server with "
                           "`--index INDEX` (built by `commons index build DATASET`)",
                           code="attribution_not_configured", status=404)
    matches = await asyncio.to_thread(policy.index.attribute, body.input, body.language)
    return {"min_chars": policy.min_chars,
            "matches": [{**m.to_dict(), "in_dataset": bool(c and c.has(m.repo, m.path))} for m in matches]}
