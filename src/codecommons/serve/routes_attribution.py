"""POST /v1/attribution: `commons attribute` over HTTP, for editors and CI hooks
that want to check any code (not only this server's suggestions) against the
code index the server was started with (`commons serve --index INDEX`).

    curl -s localhost:8000/v1/attribution -H 'Content-Type: application/json' \\
      -d '{"input": "def dedent(text): ...", "language": "python"}'
    -> {"object": "attribution", "matched": true, "min_chars": 150, "matches": [...]}

Each match: repo, path, license, license_type, query_start/query_end (character
offsets in `input`), source_start/source_end (in the source file), length
(normalised characters) and similarity (fraction of fingerprints shared).
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from codecommons.serve.generation import RequestError
from codecommons.serve.state import ServerState

router = APIRouter()


class AttributionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input: str = Field(min_length=1, max_length=1 << 20)
    language: str | None = None  # a Pygments name or alias; default: the index's languages
    min_chars: int | None = Field(None, ge=1)  # default: the server's --attribution-min-chars


@router.post("/v1/attribution")
async def attribution(body: AttributionRequest, request: Request) -> dict:
    policy = ServerState.of(request).public_code
    if policy is None:
        raise RequestError("this server has no code index: start it with "
                           "`commons serve --index INDEX` (built by `commons index build`)",
                           code="attribution_not_configured", status=404)
    min_chars = body.min_chars or policy.min_chars
    # SQLite lookups block: off the event loop (CodeIndex keeps a connection per thread)
    matches = await asyncio.to_thread(policy.index.attribute, body.input, body.language, min_chars)
    return {"object": "attribution", "matched": bool(matches), "min_chars": min_chars,
            "matches": [m.to_dict() for m in matches]}
