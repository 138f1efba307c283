"""The checks every request passes before a route, as pure ASGI middleware (Starlette's
BaseHTTPMiddleware would buffer streams and wrap errors raised while reading the body):

  * Host: a server on this machine must not answer a web page that rebound its own
    name to 127.0.0.1 (DNS rebinding, the hole local model servers have had CVEs for):
    the Host header must name the bind address, a loopback name or address, an address
    of a wildcard bind (0.0.0.0 / ::), or a name given with --allowed-hosts; else 403.
  * Authorization: with an API key, `Bearer KEY` on every route but /health and the
    web UI's static files (compared
    in constant time); two Authorization headers are ambiguous (which one would a proxy
    check?) and refused;
  * the body: a size cap enforced while it streams in (a lying Content-Length cannot
    pass) and a deadline for the whole body (a client that sends less than its
    Content-Length, or nothing, gets a 408 instead of holding a worker forever);
  * the request counter for /metrics.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
from typing import Callable

from starlette.exceptions import HTTPException

from codecommons.serve.errors import error_response

LOOPBACK_NAMES = {"localhost", "localhost.", "127.0.0.1", "::1"}
WILDCARDS = {"0.0.0.0", "::", ""}


def host_name(header: str) -> str:
    """The host of a Host header, without port or IPv6 brackets, lower-cased."""
    h = header.strip().lower()
    if h.startswith("["):
        return h[1:h.find("]")] if "]" in h else h
    return h.rsplit(":", 1)[0] if h.count(":") == 1 else h


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class HostCheck:
    def __init__(self, bind_host: str, allowed: tuple[str, ...] = ()) -> None:
        self.bind = host_name(bind_host)
        self.any = "*" in allowed
        self.allowed = {host_name(a) for a in allowed} | LOOPBACK_NAMES | {self.bind}

    def ok(self, header: str | None) -> bool:
        if header is None or self.any:  # HTTP/1.0 without Host: no browser sends that
            return True
        name = host_name(header)
        if name in self.allowed or name.endswith(".localhost"):
            return True
        # Bound to every interface: any of this machine's addresses (a literal IP cannot
        # be a rebound name); names still need --allowed-hosts.
        return self.bind in WILDCARDS and _is_ip(name)


def _public(scope) -> bool:
    """Open without the key: the health check, and the web UI's static page (which
    then asks for the key); GET only, since POST / is TGI's generate route."""
    path = scope["path"]
    return path == "/health" or (scope["method"] in ("GET", "HEAD") and
                                 (path in ("/", "/ui") or path.startswith("/ui/")))


class GuardMiddleware:
    def __init__(self, app, api_key: str | None, max_body_bytes: int,
                 count: Callable[[str, int], None], hosts: HostCheck | None = None,
                 body_timeout_s: float = 30.0) -> None:
        self.app, self.api_key, self.max_body, self.count = app, api_key, max_body_bytes, count
        self.hosts, self.body_timeout_s = hosts, body_timeout_s

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        status = 500

        async def counted_send(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._guarded(scope, receive, counted_send)
        finally:
            route = scope.get("route")
            self.count(getattr(route, "path", "unmatched"), status)

    async def _guarded(self, scope, receive, send):
        path = scope["path"]
        raw = scope["headers"]
        headers = dict(raw)
        host = headers.get(b"host")
        if self.hosts is not None and not self.hosts.ok(host.decode("latin-1") if host else None):
            return await error_response(path, 403, "Host not allowed: this server answers requests "
                                        "for its own address and localhost; start it with "
                                        "--allowed-hosts NAME to allow another name")(scope, receive, send)
        auths = [v for k, v in raw if k == b"authorization"]
        if len(auths) > 1:
            return await error_response(path, 400, "more than one Authorization header: send "
                                        "exactly one")(scope, receive, send)
        if self.api_key and not _public(scope) and not self._authorized(auths[0] if auths else b""):
            return await error_response(path, 401, "invalid or missing API key: send "
                                        "'Authorization: Bearer <key>'")(scope, receive, send)
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            return await error_response(path, 413, f"request body is larger than {self.max_body} "
                                        f"bytes")(scope, receive, send)
        await self.app(scope, self._limited(receive), send)

    def _limited(self, receive):
        seen, done = 0, False
        deadline = asyncio.get_running_loop().time() + self.body_timeout_s

        async def limited_receive():
            nonlocal seen, done
            if done:  # after the body: disconnect polling waits as long as it likes
                return await receive()
            left = deadline - asyncio.get_running_loop().time()
            try:
                message = await asyncio.wait_for(receive(), max(left, 0.001))
            except asyncio.TimeoutError:
                # FastAPI re-raises an HTTPException from the body read as is.
                raise HTTPException(408, f"the request body did not arrive within "
                                         f"{self.body_timeout_s:g} s") from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise HTTPException(413, f"request body is larger than {self.max_body} bytes")
                done = not message.get("more_body", False)
            else:
                done = True
            return message

        return limited_receive

    def _authorized(self, auth: bytes) -> bool:
        auth_s = auth.decode("latin-1")
        token = auth_s[7:] if auth_s.lower().startswith("bearer ") else ""
        return hmac.compare_digest(token.encode(), self.api_key.encode())
