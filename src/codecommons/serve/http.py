"""The HTTP server around the app: uvicorn with the limits a local server needs against
slow and hostile clients, and a shutdown that stops generations first.

uvicorn times out idle keep-alive connections (`timeout_keep_alive`) and caps
connections (`limit_concurrency`: a 503 beyond it) and header size
(`h11_max_incomplete_event_size`), but a new connection that sends nothing, or sends
its headers a byte at a time (slowloris), is never timed out: `HeaderTimeoutH11` closes
a connection whose request headers are not complete within `header_timeout_s`. The
body's deadline is guard.py's. On SIGTERM, `CommonsServer` cancels every generation
before uvicorn waits for in-flight requests, so the drain takes one prompt chunk or
one token, not a whole generation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol


@dataclass
class HttpLimits:
    header_timeout_s: float = 10.0  # request line + headers
    body_timeout_s: float = 30.0  # the whole body (guard.py)
    keep_alive_s: float = 5.0  # an idle connection between requests
    max_connections: int = 64  # open connections and running requests (503 beyond)
    max_header_bytes: int = 64 << 10
    graceful_s: float = 2.0  # backstop for in-flight requests at shutdown


class HeaderTimeoutH11(H11Protocol):
    header_timeout_s = 10.0

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._header_timeout)

    def _header_timeout(self) -> None:
        if self.cycle is None and not self.transport.is_closing():  # headers never completed
            self.transport.close()

    def handle_events(self) -> None:
        super().handle_events()
        if self.cycle is not None and self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def connection_lost(self, exc) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
        super().connection_lost(exc)


class CommonsServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, on_shutdown: Callable[[], None] | None = None) -> None:
        super().__init__(config)
        self.on_shutdown = on_shutdown

    async def shutdown(self, sockets=None) -> None:
        if self.on_shutdown is not None:
            self.on_shutdown()
        await super().shutdown(sockets)


def server(app, host: str, port: int, limits: HttpLimits | None = None,
           log_level: str = "info", on_shutdown: Callable[[], None] | None = None) -> CommonsServer:
    limits = limits or HttpLimits()
    protocol = type("HeaderTimeoutH11", (HeaderTimeoutH11,), {"header_timeout_s": limits.header_timeout_s})
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, http=protocol,
                            timeout_keep_alive=int(max(1, limits.keep_alive_s)),
                            limit_concurrency=limits.max_connections,
                            h11_max_incomplete_event_size=limits.max_header_bytes,
                            timeout_graceful_shutdown=int(max(1, limits.graceful_s)))
    if on_shutdown is None:
        state = getattr(getattr(app, "state", None), "commons", None)
        on_shutdown = state.stop_all if state is not None else None
    return CommonsServer(config, on_shutdown)
