"""The gateway's HTTP/1.1 server side: an asyncio Protocol over httptools' request parser.

Leaner than aiohttp.web's default path (docs/benchmarks.md, "Gateway"): one object per connection, one `Request`
per message, headers kept as raw bytes pairs, and a response written with at most one `transport.write` for the
head. Each request runs as one task created at message end; the connection's loss cancels it, so a client that goes
away cancels its upstream call. Pipelined requests are answered in order.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable, Coroutine
from http import HTTPStatus
from typing import Any, cast

import httptools

from claudewire.gateway.upstream import first_header, set_nodelay

__all__ = ["Connection", "Handler", "Request", "status_line"]

_STATUS_LINES: dict[int, bytes] = {s.value: f"HTTP/1.1 {s.value} {s.phrase}\r\n".encode("latin-1") for s in HTTPStatus}
_STATUS_LINES[529] = b"HTTP/1.1 529 Site Overloaded\r\n"
_MAX_PIPELINE = 16
_WRITE_HIGH_WATER = 256 * 1024


def status_line(status: int) -> bytes:
    """The ``HTTP/1.1 <code> <reason>`` line for `status` (with CRLF)."""
    line = _STATUS_LINES.get(status)
    if line is None:
        line = _STATUS_LINES[status] = f"HTTP/1.1 {status} Unknown\r\n".encode("latin-1")
    return line


class Request:
    """One parsed request: method, target (path and query) and headers as raw bytes, and the whole body."""

    __slots__ = ("body", "headers", "keep_alive", "method", "target", "too_large")

    def __init__(self, method: bytes, target: bytes, headers: list[tuple[bytes, bytes]], keep_alive: bool) -> None:
        self.method = method
        self.target = target
        self.headers = headers
        self.body = b""
        self.keep_alive = keep_alive
        self.too_large = False

    def header(self, name: bytes) -> bytes | None:
        """The first value of header `name` (give it lower-case), or None."""
        return first_header(self.headers, name)

    @property
    def path(self) -> bytes:
        """The target without its query string."""
        q = self.target.find(b"?")
        return self.target if q < 0 else self.target[:q]


Handler = Callable[["Request", "Connection"], Coroutine[Any, Any, None]]


class Connection(asyncio.Protocol):
    """One client connection: parses requests, runs the handler for each, writes its response."""

    def __init__(self, handler: Handler, body_limit: int, keepalive_timeout: float = 75.0) -> None:
        self._handler = handler
        self._body_limit = body_limit
        self._keepalive_timeout = keepalive_timeout
        self._parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._body_size = 0
        self._current: Request | None = None
        self._pending: collections.deque[Request] = collections.deque()
        self._task: asyncio.Task[None] | None = None
        self._write_paused = False
        self._drain: asyncio.Future[None] | None = None
        self._idle_handle: asyncio.TimerHandle | None = None
        self._chunked = False
        self._close_after = False
        self.closed = False
        self.committed = False

    # --- asyncio.Protocol --------------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not asyncio subclasses
        set_nodelay(self.transport)
        self.transport.set_write_buffer_limits(high=_WRITE_HIGH_WATER)
        self._arm_idle()

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._reject(b"upgrades are not supported")
        except httptools.HttpParserError:
            self._reject(b"malformed HTTP request")

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.transport = None
        if self._idle_handle is not None:
            self._idle_handle.cancel()
        if self._task is not None and not self._task.done():
            self._task.cancel()  # the client went away: stop the upstream call too
        self._pending.clear()
        drain = self._drain
        if drain is not None and not drain.done():
            drain.set_exception(ConnectionResetError("client disconnected"))

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        drain = self._drain
        if drain is not None and not drain.done():
            drain.set_result(None)

    # --- httptools callbacks -------------------------------------------------------------------------------------
    def on_message_begin(self) -> None:
        if self._idle_handle is not None:
            self._idle_handle.cancel()
            self._idle_handle = None
        self._url = b""
        self._headers = []
        self._body = []
        self._body_size = 0

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        parser = self._parser
        req = Request(parser.get_method(), self._url, self._headers, parser.should_keep_alive())
        if parser.get_http_version() == "1.0":
            req.keep_alive = False  # keep it simple for 1.0 clients: close-delimited answers
        length = req.header(b"content-length")
        if length is not None and length.isdigit() and int(length) > self._body_limit:
            req.too_large = True
        elif self.transport is not None and (req.header(b"expect") or b"").lower() == b"100-continue":
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # curl waits a second for this otherwise
        self._current = req

    def on_body(self, body: bytes) -> None:
        req = self._current
        if req is None or req.too_large:
            return
        self._body_size += len(body)
        if self._body_size > self._body_limit:
            req.too_large = True
            self._body = []
        else:
            self._body.append(body)

    def on_message_complete(self) -> None:
        req = self._current
        if req is None:
            return
        self._current = None
        if not req.too_large:
            body = self._body
            req.body = body[0] if len(body) == 1 else b"".join(body)
        self._body = []
        if self._task is None:
            self._start(req)
        else:
            self._pending.append(req)
            if len(self._pending) >= _MAX_PIPELINE and self.transport is not None:
                self.transport.pause_reading()

    # --- request lifecycle ----------------------------------------------------------------------------------------
    def _start(self, req: Request) -> None:
        self.committed = False
        self._chunked = False
        self._close_after = not req.keep_alive
        task = asyncio.get_running_loop().create_task(self._handler(req, self))
        self._task = task
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._task = None
        if self.closed:
            return
        if not task.cancelled() and task.exception() is not None:
            # the handler failed after committing (or could not answer): the stream is unusable
            self.abort()
            return
        if self._close_after:
            self.close()
            return
        if self._pending:
            if self.transport is not None:
                self.transport.resume_reading()
            self._start(self._pending.popleft())
        else:
            self._arm_idle()

    def _arm_idle(self) -> None:
        if self._keepalive_timeout > 0:
            loop = asyncio.get_running_loop()
            self._idle_handle = loop.call_later(self._keepalive_timeout, self.close)

    def _reject(self, message: bytes) -> None:
        body = b'{"type":"error","error":{"type":"invalid_request_error","message":"' + message + b'"}}'
        if self.transport is not None and not self.committed:
            self.transport.write(
                status_line(400)
                + b"content-type: application/json\r\nconnection: close\r\ncontent-length: "
                + str(len(body)).encode()
                + b"\r\n\r\n"
                + body
            )
        self.close()

    # --- writing the response (used by the handler) -------------------------------------------------------------
    def respond(self, status: int, headers: bytes, body: bytes) -> None:
        """Write a whole response: `headers` are ready-made ``name: value\\r\\n`` lines without framing headers."""
        self.committed = True
        transport = self.transport
        if transport is None:
            return
        extra = b"connection: close\r\n" if self._close_after else b""
        transport.write(
            b"".join(
                (status_line(status), headers, extra, b"content-length: ", str(len(body)).encode(), b"\r\n\r\n", body)
            )
        )

    def start(self, status: int, headers: bytes, first: bytes = b"") -> None:
        """Commit a streamed response (chunked, or close-delimited for HTTP/1.0) and write its `first` bytes."""
        self.committed = True
        transport = self.transport
        if transport is None:
            return
        if self._close_after:
            transport.write(b"".join((status_line(status), headers, b"connection: close\r\n\r\n", first)))
            return
        self._chunked = True
        head = status_line(status) + headers + b"transfer-encoding: chunked\r\n\r\n"
        if first:
            head += b"%x\r\n%b\r\n" % (len(first), first)
        transport.write(head)

    def write(self, data: bytes) -> None:
        """Write body bytes of a response begun with `start` (sent at once, never buffered here)."""
        transport = self.transport
        if transport is None or not data:
            return
        if self._chunked:
            transport.write(b"%x\r\n%b\r\n" % (len(data), data))
        else:
            transport.write(data)

    async def drain(self) -> None:
        """Wait while the client reads slower than we write (only this request waits; others go on)."""
        if not self._write_paused:
            return
        if self.transport is None:
            raise ConnectionResetError("client disconnected")
        self._drain = asyncio.get_running_loop().create_future()
        try:
            await self._drain
        finally:
            self._drain = None

    def finish(self) -> None:
        """End a response begun with `start`."""
        if self._chunked and self.transport is not None:
            self.transport.write(b"0\r\n\r\n")
        elif not self._chunked:
            self._close_after = True

    def abort(self) -> None:
        """Drop the connection at once (the client sees an incomplete response, as the upstream cut it)."""
        self._close_after = True
        if self.transport is not None:
            self.transport.abort()

    def close(self) -> None:
        """Close the connection after what was written has been sent."""
        if self.transport is not None:
            self.transport.close()
