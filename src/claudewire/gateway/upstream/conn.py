"""One upstream HTTP/1.1 connection: an asyncio Protocol feeding httptools' response parser, one response at a time.

`UpstreamConn` parses the response head (capped in bytes and fields), queues body chunks as they arrive (pausing
the socket past a high-water mark so a slow client pushes back) and hands them out with per-wait timeouts. The
keep-alive pool that owns these connections is `claudewire.gateway.upstream.pool`.

Interim answers (``100 Continue``, ``103 Early Hints``: any 1xx but 101) are read and dropped: the head the caller
waits for is the final one, and their bytes count against the same head cap. A ``101`` (nobody asked to switch
protocols) and any byte after the final answer's end (an answer nobody asked for) make the connection unusable: the
one queued for the next client could otherwise be this client's answer.

Exceptions raised here are the standard library's (`ConnectionResetError`, `TimeoutError` ...) or the taxonomy's
`NoResponseError` (a TimeoutError: connected, but no response head in time), so `claudewire._errors.classify` maps
them without knowing this module.
"""

from __future__ import annotations

import asyncio
import collections
from typing import cast

import httptools

from claudewire._errors import NoResponseError
from claudewire.gateway.wire import set_nodelay

__all__ = ["UpstreamConn"]

_READ_HIGH_WATER = 256 * 1024  # bytes buffered from upstream before we stop reading (a slow client pushes back)


class _HeadTooLarge(Exception):
    """Raised from a parser callback: the response head is over the cap."""


class _Unasked(Exception):
    """Raised from a parser callback: bytes of an answer nobody asked for (after the final one, or a 101)."""


class UpstreamConn(asyncio.Protocol):
    """One upstream connection; parses one response at a time and queues its body chunks."""

    __slots__ = (
        "_chunks",
        "_exc",
        "_head",
        "_head_bytes",
        "_head_limit",
        "_interim",
        "_max_headers",
        "_parser",
        "_paused",
        "_waiter",
        "buffered",
        "complete",
        "headers",
        "idle_since",
        "keep_alive",
        "received",
        "status",
        "transport",
    )

    def __init__(self, head_limit: int = 64 * 1024, max_headers: int = 200) -> None:
        self._head_limit = head_limit
        self._max_headers = max_headers
        self._head_bytes = 0
        self.transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._chunks: collections.deque[bytes] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self._exc: BaseException | None = None
        self._head: asyncio.Future[None] | None = None
        self._paused = False
        self._interim = False
        self.headers: list[tuple[bytes, bytes]] = []
        self.status = 0
        self.complete = False
        self.keep_alive = False
        self.received = False
        self.buffered = 0
        self.idle_since = 0.0

    # --- asyncio.Protocol --------------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not asyncio subclasses
        set_nodelay(self.transport)

    def data_received(self, data: bytes) -> None:
        self.received = True
        in_head = not self.status
        if in_head:
            self._head_bytes += len(data)
        try:
            self._parser.feed_data(data)
        except _HeadTooLarge:
            self._head_too_large()
        except httptools.HttpParserError as exc:
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, _HeadTooLarge):
                self._head_too_large()
            elif isinstance(cause, _Unasked):
                self._fail(ConnectionResetError(f"invalid HTTP response from upstream: {cause}"))
                self.close()
            else:
                self._fail(ConnectionResetError(f"invalid HTTP response from upstream: {exc}"))
                self.close()
        else:
            # a head line is kept by the parser until it ends: bound what an endless head can make us hold
            if in_head and not self.status and self._head_bytes > self._head_limit:
                self._head_too_large()

    def _head_too_large(self) -> None:
        why = f"the upstream's response head is over {self._head_limit} bytes or {self._max_headers} fields"
        self._fail(ConnectionResetError(f"invalid HTTP response from upstream: {why}"))
        self.close()

    def eof_received(self) -> bool | None:
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if not self.complete:
            if exc is None or not isinstance(exc, OSError):
                why = "upstream closed the connection before the response was complete"
                err: BaseException = ConnectionResetError(why if exc is None else f"{why}: {exc}")
                if exc is not None:
                    err.__cause__ = exc
            else:
                err = exc
            self._fail(err)

    # --- httptools callbacks -------------------------------------------------------------------------------------
    def on_message_begin(self) -> None:
        if self.complete:  # the final answer has ended: whatever comes now answers no request of ours
            self.keep_alive = False
            raise _Unasked("bytes after the end of the answer")

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))
        if len(self.headers) > self._max_headers:
            raise _HeadTooLarge

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if status < 200:
            if status == 101:
                raise _Unasked("101 Switching Protocols, and no upgrade was asked for")
            self._interim = True  # 100, 103 ...: dropped; the final answer follows on this connection
            self.headers = []
            return
        self.status = status
        self.keep_alive = self._parser.should_keep_alive()
        head = self._head
        if head is not None and not head.done():
            head.set_result(None)

    def on_body(self, body: bytes) -> None:
        self._chunks.append(body)
        self.buffered += len(body)
        if self.buffered > _READ_HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            return
        self.complete = True
        self._wake()

    # --- used by Upstream / UpstreamResponse -------------------------------------------------------------------
    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, exc: BaseException) -> None:
        if self._exc is None:
            self._exc = exc
        head = self._head
        if head is not None and not head.done():
            head.set_exception(exc)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def reset(self) -> None:
        """Prepare for the next request on this connection."""
        self.headers = []
        self.status = 0
        self._head_bytes = 0
        self._interim = False
        self.complete = False
        self.received = False
        self.buffered = 0
        self._chunks.clear()
        self._head = None
        self._waiter = None

    async def wait_head(self, within: float | None) -> None:
        if self.status:
            return
        if self._exc is not None:
            raise self._exc
        loop = asyncio.get_running_loop()
        self._head = head = loop.create_future()
        handle = loop.call_later(within, _expire, head, "response headers") if within else None
        try:
            await head
        finally:
            if handle is not None:
                handle.cancel()
            self._head = None

    async def next_chunk(self, within: float | None) -> bytes | None:
        chunks = self._chunks
        while not chunks:
            if self.complete:
                return None
            if self._exc is not None:
                raise self._exc
            loop = asyncio.get_running_loop()
            self._waiter = waiter = loop.create_future()
            handle = loop.call_later(within, _expire, waiter, "response body") if within else None
            try:
                await waiter
            finally:
                if handle is not None:
                    handle.cancel()
                self._waiter = None
        # everything that has arrived goes out together: one client write per wake-up, not one per upstream chunk
        chunk = chunks.popleft() if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        self.buffered = 0
        if self._paused and self.buffered <= _READ_HIGH_WATER // 4 and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        return chunk

    def close(self) -> None:
        if self.transport is not None:
            self.transport.abort()
            self.transport = None


def _expire(fut: asyncio.Future[None], what: str) -> None:
    if not fut.done():
        # no head at all is a connection made but never answered (a bare TimeoutError would read as connecting)
        error = NoResponseError if what == "response headers" else TimeoutError
        fut.set_exception(error(f"upstream sent no {what} in time"))
