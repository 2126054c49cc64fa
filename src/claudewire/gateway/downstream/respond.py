"""The write half of a client connection: a response written whole or streamed, and the write side's flow control.

A `ResponseWriter` is owned by its `downstream.http.Connection`, which attaches the transport, tells it when the
transport asks to pause or resume writing, and `begin`s each answer in turn; a handler writes through the
connection. A streamed response is chunked (close-delimited for an HTTP/1.0 client). The transport buffers at most
`WRITE_HIGH_WATER` bytes before it asks to pause: a handler then waits in `drain` (only its own request waits), and a
client that reads nothing for `write_timeout` is cut through the server's reaper, which cancels its handler and so
releases its upstream connection and slot. A HEAD answer is the head a GET would get and no byte of body.
"""

from __future__ import annotations

import asyncio
from typing import cast

from claudewire.gateway.downstream.limits import ServerState
from claudewire.gateway.downstream.request import Request
from claudewire.gateway.wire import set_nodelay, status_line

__all__ = ["WRITE_HIGH_WATER", "ResponseWriter"]

WRITE_HIGH_WATER = 256 * 1024
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class ResponseWriter:
    """Writes a connection's answers, one at a time, and waits while the client reads slower than that."""

    __slots__ = (
        "_chunked",
        "_drain",
        "_head_only",
        "_loop",
        "_state",
        "_write_handle",
        "_write_paused",
        "close_after",
        "closed",
        "committed",
        "transport",
    )

    def __init__(self, state: ServerState) -> None:
        self._state = state
        self._loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self._write_paused = False
        self._drain: asyncio.Future[None] | None = None
        self._write_handle: asyncio.TimerHandle | None = None
        self._chunked = False
        self._head_only = False  # answering a HEAD: the head a GET would get, never a byte of body
        self.close_after = False  # the connection closes once this answer is out
        self.closed = False
        self.committed = False

    # --- what the connection tells its writer ---------------------------------------------------------------------
    def attach(self, transport: asyncio.BaseTransport) -> None:
        """Write to `transport` from now on."""
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not asyncio subclasses
        set_nodelay(self.transport)
        self.transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)

    def lost(self) -> None:
        """The connection is gone: a handler waiting to write is told so."""
        self.closed = True
        self.transport = None
        if self._write_handle is not None:
            self._write_handle.cancel()
        drain = self._drain
        if drain is not None and not drain.done():
            drain.set_exception(ConnectionResetError("client disconnected"))

    def pause_writing(self) -> None:
        """The transport's buffer is over the high-water mark: writers wait, the client has write_timeout to read."""
        self._write_paused = True
        if self._write_handle is None:
            self._write_handle = self._loop.call_later(self._state.limits.write_timeout, self._write_due)

    def resume_writing(self) -> None:
        """The transport drained below its low-water mark: a waiting writer goes on."""
        self._write_paused = False
        if self._write_handle is not None:
            self._write_handle.cancel()
            self._write_handle = None
        drain = self._drain
        if drain is not None and not drain.done():
            drain.set_result(None)

    def begin(self, req: Request) -> None:
        """The answer to `req` is the one written from now on."""
        self.committed = False
        self._chunked = False
        self.close_after = not req.keep_alive
        self._head_only = req.method == b"HEAD"

    def send(self, answer: bytes) -> None:
        """Write a whole ready-made answer (a refusal the HTTP layer makes itself), only its head for a HEAD."""
        if self.transport is not None:
            self.transport.write(answer[: answer.index(b"\r\n\r\n") + 4] if self._head_only else answer)

    def interim_continue(self) -> None:
        """Tell a client that sent `Expect: 100-continue` to send its body (curl waits a second otherwise)."""
        if self.transport is not None:
            self.transport.write(_CONTINUE)

    def _write_due(self) -> None:
        self._write_handle = None
        self._state.reaper.push(self._write_stalled)

    def _write_stalled(self) -> None:
        # the client has read nothing for write_timeout: cut it (its task is cancelled, its upstream released)
        if self._write_paused and self._write_handle is None and not self.closed:
            self._state.refused("write_timeout")
            self.abort()

    # --- what a handler writes (through its connection) ------------------------------------------------------------
    def respond(self, status: int, headers: bytes, body: bytes) -> None:
        """Write a whole response: `headers` are ready-made ``name: value\\r\\n`` lines without framing headers."""
        self.committed = True
        transport = self.transport
        if transport is None:
            return
        extra = b"connection: close\r\n" if self.close_after else b""
        length = str(len(body)).encode()
        if self._head_only:
            body = b""
        transport.write(b"".join((status_line(status), headers, extra, b"content-length: ", length, b"\r\n\r\n", body)))

    def start(self, status: int, headers: bytes, first: bytes = b"") -> None:
        """Commit a streamed response (chunked, or close-delimited for HTTP/1.0) and write its `first` bytes."""
        self.committed = True
        transport = self.transport
        if transport is None:
            return
        if self._head_only:
            framing = b"connection: close\r\n\r\n" if self.close_after else b"transfer-encoding: chunked\r\n\r\n"
            transport.write(status_line(status) + headers + framing)
            return
        if self.close_after:
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
        if transport is None or not data or self._head_only:
            return
        if self._chunked:
            transport.write(b"%x\r\n%b\r\n" % (len(data), data))
        else:
            transport.write(data)

    async def drain(self) -> None:
        """Wait while the client reads slower than we write (only this request waits; others go on).

        A client that reads nothing for the write timeout is cut: this raises and the handler's task is cancelled.
        """
        if not self._write_paused:
            return
        if self.transport is None:
            raise ConnectionResetError("client disconnected")
        self._drain = self._loop.create_future()
        try:
            await self._drain
        finally:
            self._drain = None

    def finish(self) -> None:
        """End a response begun with `start`."""
        if self._chunked and self.transport is not None:
            self.transport.write(b"0\r\n\r\n")
        elif not self._chunked and not self._head_only:
            self.close_after = True

    def abort(self) -> None:
        """Drop the connection at once (the client sees an incomplete response, as the upstream cut it)."""
        self.close_after = True
        if self.transport is not None:
            self.transport.abort()

    def close(self) -> None:
        """Close the connection after what was written has been sent."""
        if self.transport is not None:
            self.transport.close()
