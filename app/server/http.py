"""uvicorn's httptools protocol with the limits it lacks: a request's head (request line and
headers) is bounded in size and must arrive within a time limit.

uvicorn reads a head of any length for as long as the client takes: a head that never ends
keeps the event loop parsing, and connections that send a byte now and then are held for
ever. `agx serve` (and so `make serve`) runs uvicorn with `UVICORN_OPTIONS`.
"""

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 64 * 1024
HEAD_TIMEOUT_S = 10.0
# uvicorn's command-line options for the server as users run it: bounded request heads (this
# module), idle connections closed after 5 s, and at most 512 connections at once (503
# beyond), so that a crowd of stalled clients cannot hold the server.
UVICORN_LIMITS = (
    "--http",
    "app.server.http:BoundedHttp",
    "--timeout-keep-alive",
    "5",
    "--limit-concurrency",
    "512",
)
# The app writes its own access log (JSON lines, app/server/observe.py) and reads X-Forwarded-For
# from AGX_TRUSTED_PROXIES only: uvicorn's text log and its trust in 127.0.0.1 are off.
UVICORN_OPS = ("--no-access-log", "--no-proxy-headers")
# Everything `agx serve` adds to uvicorn's command line.
UVICORN_OPTIONS = (*UVICORN_LIMITS, *UVICORN_OPS)


class BoundedHttp(HttpToolsProtocol):
    """A head over MAX_HEAD_BYTES gets 400 and the connection is closed; so is a connection
    whose head has not arrived within HEAD_TIMEOUT_S."""

    head_bytes = 0
    in_head = True
    head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        counted = self.in_head
        super().data_received(data)
        # Counted after parsing, so the body that follows a head in the same read is not.
        if counted and self.in_head and not self.transport.is_closing():
            self.head_bytes += len(data)
            if self.head_bytes > MAX_HEAD_BYTES:
                self._stop_timer()
                self.send_400_response("Request head too large.")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self.in_head:
            self._start_head()

    def on_headers_complete(self) -> None:
        self.in_head = False
        self._stop_timer()
        super().on_headers_complete()

    def _start_head(self) -> None:
        self.in_head = True
        self.head_bytes = 0
        self._stop_timer()
        self.head_timer = self.loop.call_later(HEAD_TIMEOUT_S, self._head_timed_out)

    def _head_timed_out(self) -> None:
        self.head_timer = None
        if self.in_head and not self.transport.is_closing():
            self.transport.close()

    def _stop_timer(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None
