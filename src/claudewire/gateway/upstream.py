"""The gateway's HTTP/1.1 client for upstream calls: a keep-alive connection pool over httptools' parser.

Chosen by measurement (docs/benchmarks.md, "Gateway"): aiohttp's ClientSession costs several times more CPU per
request than a plain asyncio Protocol feeding httptools, and the gateway's throughput target leaves ~120 µs per
request for everything. This module is the only place that knows how upstream bytes move; the rest of the gateway
sees `Upstream.send(...)` → `UpstreamResponse` (status, raw headers, body chunks as they arrive).

Exceptions raised here are the standard library's (`ConnectionResetError`, `TimeoutError`, `ssl.SSLError`,
`socket.gaierror` ...) or the taxonomy's `NoResponseError` (a TimeoutError: connected, but no response head in
time), so `claudewire._errors.classify` maps them without knowing this module.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

import httptools

from claudewire._errors import NoResponseError

__all__ = ["Upstream", "UpstreamResponse", "UpstreamTarget", "first_header", "set_nodelay"]

_READ_HIGH_WATER = 256 * 1024  # bytes buffered from upstream before we stop reading (a slow client pushes back)
# A reused connection found closed this soon after the request was written, with no byte back, was dead before
# the request reached it (the server closed it while idle): resending cannot duplicate anything.
_STALE_WINDOW = 0.05


class _HeadTooLarge(Exception):
    """Raised from a parser callback: the response head is over the cap."""


@dataclass(frozen=True, slots=True)
class UpstreamTarget:
    """Where upstream calls go: scheme, host, port and the path prefix of the base URL."""

    scheme: str
    host: str
    port: int
    prefix: str
    host_header: bytes

    @classmethod
    def parse(cls, url: str) -> UpstreamTarget:
        """Parse a base URL such as ``https://api.anthropic.com`` or ``http://127.0.0.1:8780``."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"upstream must be an http:// or https:// URL with a host, got {url!r}")
        default = 443 if parts.scheme == "https" else 80
        port = parts.port or default
        host = parts.hostname
        shown = f"[{host}]" if ":" in host else host
        host_header = shown if port == default else f"{shown}:{port}"
        return cls(parts.scheme, host, port, parts.path.rstrip("/"), host_header.encode("ascii"))


class _Conn(asyncio.Protocol):
    """One upstream connection; parses one response at a time and queues its body chunks."""

    __slots__ = (
        "_chunks",
        "_exc",
        "_head",
        "_head_bytes",
        "_head_limit",
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
            if isinstance(exc.__cause__ or exc.__context__, _HeadTooLarge):
                self._head_too_large()
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
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))
        if len(self.headers) > self._max_headers:
            raise _HeadTooLarge

    def on_headers_complete(self) -> None:
        self.status = self._parser.get_status_code()
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


def first_header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    """The first value of header `name` (give it lower-case) in a parsed header list, or None."""
    for key, value in headers:
        if len(key) == len(name) and key.lower() == name:
            return value
    return None


def set_nodelay(transport: asyncio.Transport) -> None:
    """Switch Nagle's algorithm off on a TCP transport."""
    # small request/response pairs must not wait for Nagle's algorithm and delayed ACKs (40 ms stalls)
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _expire(fut: asyncio.Future[None], what: str) -> None:
    if not fut.done():
        # no head at all is a connection made but never answered (a bare TimeoutError would read as connecting)
        error = NoResponseError if what == "response headers" else TimeoutError
        fut.set_exception(error(f"upstream sent no {what} in time"))


class UpstreamResponse:
    """An upstream response whose head has arrived; its body is read chunk by chunk, as the bytes arrive.

    Call `release()` once the body is fully read (the connection goes back to the pool) or `close()` to drop it.
    """

    __slots__ = ("_conn", "_upstream", "headers", "status")

    def __init__(self, upstream: Upstream, conn: _Conn) -> None:
        self._upstream = upstream
        self._conn: _Conn | None = conn
        self.status: int = conn.status
        self.headers: list[tuple[bytes, bytes]] = conn.headers

    def header(self, name: bytes) -> bytes | None:
        """The first value of header `name` (lower-case bytes), or None."""
        return first_header(self.headers, name)

    @property
    def complete(self) -> bool:
        """True once the whole body has arrived (chunks may still be queued for reading)."""
        return self._conn is None or self._conn.complete

    async def next_chunk(self, within: float | None = None) -> bytes | None:
        """The body bytes that arrived since the last call (waiting for some), None at the end.

        Raises `TimeoutError` after `within` seconds without a byte.
        """
        if self._conn is None:
            return None
        return await self._conn.next_chunk(within)

    async def read(self, within: float | None = None) -> bytes:
        """The rest of the body (`within` seconds allowed between chunks), then the connection goes back to the pool."""
        parts: list[bytes] = []
        while (chunk := await self.next_chunk(within)) is not None:
            parts.append(chunk)
        self.release()
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def release(self) -> None:
        """Return the connection to the pool if the body was fully read and it can be reused, else close it."""
        conn, self._conn = self._conn, None
        if conn is not None:
            self._upstream._release(conn)

    def close(self) -> None:
        """Drop the connection (the body is abandoned: a client went away, or a retry follows)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


class Upstream:
    """A keep-alive pool of HTTP/1.1 connections to one upstream base URL."""

    def __init__(
        self,
        url: str,
        *,
        ssl_context: ssl.SSLContext | None = None,
        connect_timeout: float = 10.0,
        max_idle: int = 256,
        idle_timeout: float = 30.0,
        head_limit: int = 64 * 1024,
        max_headers: int = 200,
        on_resend: Callable[[], None] | None = None,
    ) -> None:
        self.target = UpstreamTarget.parse(url)
        self._head_limit = head_limit
        self._max_headers = max_headers
        self._on_resend = on_resend
        self.resends = 0
        self._ssl: ssl.SSLContext | None = None
        if self.target.scheme == "https":
            self._ssl = ssl_context or ssl.create_default_context()
        self._connect_timeout = connect_timeout
        self._max_idle = max_idle
        self._idle_timeout = idle_timeout
        self._idle: list[_Conn] = []

    async def _connect(self) -> _Conn:
        loop = asyncio.get_running_loop()
        target = self.target
        async with asyncio.timeout(self._connect_timeout):
            _, conn = await loop.create_connection(
                lambda: _Conn(self._head_limit, self._max_headers),
                target.host,
                target.port,
                ssl=self._ssl,
                server_hostname=target.host if self._ssl is not None else None,
            )
        return conn

    def _take_idle(self) -> _Conn | None:
        idle = self._idle
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if conn.transport is not None and now - conn.idle_since < self._idle_timeout:
                conn.reset()
                return conn
            conn.close()
        return None

    def _release(self, conn: _Conn) -> None:
        if conn.complete and conn.keep_alive and conn.transport is not None and len(self._idle) < self._max_idle:
            conn.idle_since = time.monotonic()
            self._idle.append(conn)
        else:
            conn.close()

    async def send(
        self, method: bytes, path: bytes, headers: bytes, body: bytes, *, head_within: float | None
    ) -> UpstreamResponse:
        """Send one request and wait for the response head.

        `path` is the client's path (``/v1/messages?beta=true``); the base URL's prefix is put in front. `headers`
        are ready-made ``name: value\\r\\n`` lines without Host and Content-Length, which are added here.

        Every send is an attempt the caller sees, with one exception: a reused connection found dead before anything
        of the request can have been processed (closed before the write, or closed with no byte back within 50 ms of
        it: the server had closed it while idle) is replaced once by a fresh one, and counted (`resends`,
        `on_resend`). Any other failure is raised, so the caller's policy decides about another attempt.
        """
        target = self.target
        head = b"".join(
            (
                method,
                b" ",
                target.prefix.encode() + path if target.prefix else path,
                b" HTTP/1.1\r\nhost: ",
                target.host_header,
                b"\r\ncontent-length: ",
                str(len(body)).encode(),
                b"\r\n",
                headers,
                b"\r\n",
            )
        )
        conn = self._take_idle()
        reused = conn is not None
        loop = asyncio.get_running_loop()
        while True:
            if conn is None:
                conn = await self._connect()
            transport = conn.transport
            written = 0.0
            try:
                if transport is None or transport.is_closing():
                    raise ConnectionResetError("upstream connection closed before the request was sent")
                if len(body) < 65536:
                    transport.write(head + body)
                else:
                    transport.write(head)
                    transport.write(body)
                written = loop.time()
                await conn.wait_head(head_within)
            except (ConnectionError, OSError) as exc:
                conn.close()
                stale = not written or loop.time() - written < _STALE_WINDOW
                if reused and stale and not conn.received and not isinstance(exc, TimeoutError):
                    conn, reused = None, False
                    self.resends += 1
                    if self._on_resend is not None:
                        self._on_resend()
                    continue
                raise
            except BaseException:
                conn.close()
                raise
            if method == b"HEAD":
                conn.complete = True
                conn.keep_alive = False
            return UpstreamResponse(self, conn)

    def close(self) -> None:
        """Close every idle connection."""
        for conn in self._idle:
            conn.close()
        self._idle.clear()
