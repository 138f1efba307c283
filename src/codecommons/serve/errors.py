"""Every failure in the API's own shape, and the checks that run before a route.

Routes under /v1 answer with OpenAI's `{"error": {...}}`; the TGI routes with
`{"error": str, "error_type": str}`. Bad input is a 4xx, never a 500: invalid JSON,
wrong types, non-UTF-8 bodies (FastAPI's parser), a body over the size limit (413,
checked before it is read whole), a wrong API key (401), an unknown model (404), a
full queue (503 for OpenAI clients, which retry it; 429 for TGI).
"""

from __future__ import annotations

import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from codecommons.serve import protocol_openai, protocol_tgi
from codecommons.engines.remote import RemoteError
from codecommons.engines.infill import PromptError
from codecommons.serve.scheduler import QueueFull

log = logging.getLogger("codecommons.serve")

OPENAI_TYPES = {400: "invalid_request_error", 401: "authentication_error",
                404: "not_found_error", 413: "invalid_request_error",
                429: "rate_limit_error", 503: "server_overloaded", 500: "server_error"}
TGI_TYPES = {400: "validation", 401: "authentication", 404: "not_found", 413: "validation",
             422: "validation", 429: "overloaded", 500: "generation", 503: "overloaded"}


LLAMACPP_PATHS = ("/tokenize", "/detokenize", "/infill", "/completion", "/props", "/slots")
LLAMACPP_TYPES = {400: "invalid_request_error", 401: "authentication_error",
                  403: "permission_error", 404: "not_found_error", 501: "not_supported_error",
                  503: "unavailable_error"}


def dialect(path: str) -> str:
    """Which API a path belongs to, for its error shape: openai | llamacpp | ollama | tgi."""
    if path.startswith("/v1/"):
        return "openai"
    if path.startswith("/api/"):
        return "ollama"
    if path in LLAMACPP_PATHS:
        return "llamacpp"
    return "tgi"


def is_openai(path: str) -> bool:
    return dialect(path) == "openai"


def error_body(path: str, status: int, message: str, param: str | None = None,
               code: str | None = None) -> tuple[int, dict]:
    """(status, body) in the shape of the path's API:
    OpenAI `{"error": {"message", "type", "param", "code"}}`; llama.cpp's server
    `{"error": {"code": status, "message", "type"}}`; Ollama `{"error": message}`; TGI
    `{"error": message, "error_type": type}` with validation failures as 422."""
    kind = dialect(path)
    if kind == "openai":
        return status, protocol_openai.error_body(
            message, OPENAI_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error"),
            param, code)
    if kind == "llamacpp":
        return status, {"error": {"code": status, "message": message,
                                  "type": LLAMACPP_TYPES.get(status, "server_error" if status >= 500
                                                             else "invalid_request_error")}}
    if kind == "ollama":
        return status, {"error": message}
    status = 422 if status == 400 else status
    return status, protocol_tgi.error_body(message, TGI_TYPES.get(status, "validation"))


def error_response(path: str, status: int, message: str, param: str | None = None,
                   code: str | None = None) -> JSONResponse:
    status, body = error_body(path, status, message, param, code)
    return JSONResponse(body, status_code=status)


def error_event(path: str, status: int, message: str) -> str:
    """An error inside a stream that already sent 200: one SSE event (Ollama streams
    NDJSON: one JSON line)."""
    _, body = error_body(path, status, message)
    if dialect(path) == "ollama":
        return json.dumps(body) + "\n"
    return f"data: {json.dumps(body)}\n\n"


def log_stream_error(exc: Exception) -> int:
    """Status for an error raised mid-stream; unexpected ones are logged in full."""
    if isinstance(exc, (PromptError, RemoteError)):
        return exc.status
    if isinstance(exc, QueueFull):
        return 503
    log.exception("generation failed mid-stream", exc_info=exc)
    return 500


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    errs = exc.errors()
    parts, param = [], None
    for e in errs:
        loc = [str(x) for x in e.get("loc", ()) if x != "body"]
        param = param or (loc[0] if loc else None)
        if e.get("type") == "json_invalid":
            parts.append("request body is not valid JSON: " + str(e.get("ctx", {}).get("error", "")))
        else:
            parts.append(f"{'.'.join(loc) or 'body'}: {e.get('msg')}")
    return "; ".join(parts) or "invalid request", param


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        msg, param = _validation_message(exc)
        return error_response(request.url.path, 400, msg, param)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        if exc.status_code == 400 and "parsing the body" in detail:
            detail = "could not parse the request body: send UTF-8 encoded JSON"
        return error_response(request.url.path, exc.status_code, detail)

    @app.exception_handler(PromptError)
    async def _request(request: Request, exc: PromptError):
        return error_response(request.url.path, exc.status, exc.message, exc.param, exc.code)

    @app.exception_handler(QueueFull)
    async def _full(request: Request, exc: QueueFull):
        status = 503 if is_openai(request.url.path) else 429
        return error_response(request.url.path, status, str(exc))

    @app.exception_handler(RemoteError)
    async def _remote(request: Request, exc: RemoteError):
        status = exc.status if 400 <= exc.status < 500 else 502
        return error_response(request.url.path, status, str(exc))
