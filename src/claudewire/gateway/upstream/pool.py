"""The gateway's HTTP/1.1 client for upstream calls: a keep-alive pool of connections to one base URL.

Chosen by measurement (docs/benchmarks.md, "Gateway"): aiohttp's ClientSession costs several times more CPU per
request than a plain asyncio Protocol feeding httptools, and the gateway's throughput target leaves ~120 µs per
request for everything. This module and `claudewire.gateway.upstream.conn` (one connection: the response parser
and body reader) are the only places that know how upstream bytes move; the rest of the gateway sees
`Upstream.send(...)` → `UpstreamResponse` (status, raw headers, body chunks as they arrive).

Headers go out as the pairs they came in and a gateway-held key as a value (`send(..., key=)`, or bound once per
target with `KeyedUpstream`): it becomes a header line only here, replacing the client's credentials. What comes
back is scrubbed (`Scrubber`: every held key, and the credentials this call carried) from the headers and from a
body read whole, and a body read whole is bounded (`body_limit`).

Exceptions raised here are the standard library's (`ConnectionResetError`, `TimeoutError`, `ssl.SSLError`,
`socket.gaierror` ...), the taxonomy's `NoResponseError` (a TimeoutError: connected, but no response head in
time), so `claudewire._errors.classify` maps them without knowing this module, or `UnusableAnswer` (a body past the
bound), which carries its own `Failure`.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from claudewire._net import origin
from claudewire._secrets import Scrubber
from claudewire.gateway.upstream.answers import DEFAULT_BODY_LIMIT, UnusableAnswer, unusable
from claudewire.gateway.upstream.conn import UpstreamConn
from claudewire.gateway.wire import first_header

__all__ = [
    "Headers",
    "KeyedUpstream",
    "Sender",
    "Upstream",
    "UpstreamResponse",
    "UpstreamTarget",
]

Headers = list[tuple[bytes, bytes]]
"""Header pairs as they cross the gateway: (name, value), raw bytes, in order."""

_CREDENTIALS = (b"x-api-key", b"authorization")

# A reused connection found closed this soon after the request was written, with no byte back, was dead before
# the request reached it (the server closed it while idle): resending cannot duplicate anything.
_STALE_WINDOW = 0.05


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
        try:
            where = origin(url)
        except ValueError as exc:
            raise ValueError(f"upstream {exc}") from None
        return cls(where.scheme, where.host, where.port, where.path.rstrip("/"), where.authority.encode("ascii"))


class UpstreamResponse:
    """An upstream response whose head has arrived; its body is read chunk by chunk, as the bytes arrive.

    Call `release()` once the body is fully read (the connection goes back to the pool) or `close()` to drop it.
    `headers` are already scrubbed of every credential the gateway holds and of those this call carried (`minted`);
    so is a body from `read`, which is bounded by the pool's `body_limit`. Chunks from `next_chunk` (a stream, a
    large success) pass as they came.
    """

    __slots__ = ("_conn", "_minted", "_upstream", "headers", "status")

    pingless = False  # the upstream's own bytes: a stream carries its own pings (a translating kind's may not)

    def __init__(self, upstream: Upstream, conn: UpstreamConn, minted: tuple[bytes, ...] = ()) -> None:
        self._upstream = upstream
        self._conn: UpstreamConn | None = conn
        self._minted = minted
        self.status: int = conn.status
        scrubber = upstream.scrubber
        self.headers: Headers = (
            scrubber.scrub_headers(conn.headers, minted) if scrubber.active or minted else conn.headers
        )

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
        """The rest of the body (`within` seconds allowed between chunks), scrubbed; the connection goes back to
        the pool. Past the pool's `body_limit` (announced or arriving) the connection is dropped and
        `UnusableAnswer` raised: nothing of such a body is kept or passed on."""
        limit = self._upstream.body_limit
        length = self.header(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            self._too_large()
        parts: list[bytes] = []
        size = 0
        while (chunk := await self.next_chunk(within)) is not None:
            size += len(chunk)
            if size > limit:
                parts.clear()
                self._too_large()
            parts.append(chunk)
        self.release()
        body = parts[0] if len(parts) == 1 else b"".join(parts)
        scrubber = self._upstream.scrubber
        return scrubber.scrub(body, self._minted) if scrubber.active or self._minted else body

    def _too_large(self) -> None:
        self.close()
        upstream = self._upstream
        why = (
            f"answered {self.status} with a body over {upstream.body_limit} bytes (upstream_error_body_limit); "
            "it was not passed on and the connection was dropped"
        )
        raise UnusableAnswer(unusable(upstream.name, self.status, self.headers, why))

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
    """A keep-alive pool of HTTP/1.1 connections to one upstream base URL.

    `name` labels it in what the gateway answers (default: its host); `scrubber` knows the credentials the gateway
    holds (none by default); `body_limit` bounds a body read whole.
    """

    def __init__(
        self,
        url: str,
        *,
        name: str | None = None,
        scrubber: Scrubber | None = None,
        body_limit: int = DEFAULT_BODY_LIMIT,
        ssl_context: ssl.SSLContext | None = None,
        connect_timeout: float = 10.0,
        max_idle: int = 256,
        idle_timeout: float = 30.0,
        head_limit: int = 64 * 1024,
        max_headers: int = 200,
        on_resend: Callable[[], None] | None = None,
    ) -> None:
        self.target = UpstreamTarget.parse(url)
        self.name = name or self.target.host
        self.scrubber = scrubber or Scrubber()
        self.body_limit = body_limit
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
        self._idle: list[UpstreamConn] = []

    async def _connect(self) -> UpstreamConn:
        loop = asyncio.get_running_loop()
        target = self.target
        async with asyncio.timeout(self._connect_timeout):
            _, conn = await loop.create_connection(
                lambda: UpstreamConn(self._head_limit, self._max_headers),
                target.host,
                target.port,
                ssl=self._ssl,
                server_hostname=target.host if self._ssl is not None else None,
            )
        return conn

    def _take_idle(self) -> UpstreamConn | None:
        idle = self._idle
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if conn.transport is not None and now - conn.idle_since < self._idle_timeout:
                conn.reset()
                return conn
            conn.close()
        return None

    def _release(self, conn: UpstreamConn) -> None:
        if conn.complete and conn.keep_alive and conn.transport is not None and len(self._idle) < self._max_idle:
            conn.idle_since = time.monotonic()
            self._idle.append(conn)
        else:
            conn.close()

    async def send(
        self,
        method: bytes,
        path: bytes,
        headers: Headers,
        body: bytes,
        *,
        head_within: float | None,
        key: str | None = None,
        minted: tuple[str, ...] = (),
    ) -> UpstreamResponse:
        """Send one request and wait for the response head.

        `path` is the client's path (``/v1/messages?beta=true``); the base URL's prefix is put in front. `headers`
        are the pairs to send, without Host and Content-Length, which are added here. `key`, a key the gateway
        holds, replaces the client's credentials (``x-api-key``, ``Authorization``) as ``x-api-key``; `minted` are
        the credentials a translator put in `headers` for this call (a token, a signature), scrubbed from its answer.

        Every send is an attempt the caller sees, with one exception: a reused connection found dead before anything
        of the request can have been processed (closed before the write, or closed with no byte back within 50 ms of
        it: the server had closed it while idle) is replaced once by a fresh one, and counted (`resends`,
        `on_resend`). Any other failure is raised, so the caller's policy decides about another attempt.
        """
        target = self.target
        if key is None:
            lines = [b"%b: %b\r\n" % pair for pair in headers]
        else:
            lines = [b"%b: %b\r\n" % (n, v) for n, v in headers if n.lower() not in _CREDENTIALS]
            lines.append(b"x-api-key: %b\r\n" % key.encode("latin-1"))
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
                *lines,
                b"\r\n",
            )
        )
        carried = tuple(m.encode("latin-1") for m in minted)
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
            return UpstreamResponse(self, conn, carried)

    def close(self) -> None:
        """Close every idle connection."""
        for conn in self._idle:
            conn.close()
        self._idle.clear()


class Sender(Protocol):
    """What the gateway sends an attempt through: an `Upstream`, a kind's translator around one, or either with a
    key bound (`KeyedUpstream`)."""

    @property
    def name(self) -> str:
        """The upstream's configured name."""
        ...

    @property
    def target(self) -> UpstreamTarget:
        """Where its connections go."""
        ...

    def send(
        self, method: bytes, path: bytes, headers: Headers, body: bytes, *, head_within: float | None
    ) -> Coroutine[Any, Any, UpstreamResponse]:
        """Send one request; the response once its head has arrived."""
        ...


class _KeyedSend(Protocol):
    name: str
    target: UpstreamTarget

    def send(
        self, method: bytes, path: bytes, headers: Headers, body: bytes, *, head_within: float | None, key: str | None
    ) -> Coroutine[Any, Any, UpstreamResponse]: ...


class KeyedUpstream:
    """An upstream (a pool, or a kind around one) with one of the gateway's keys for it: every `send` carries that
    key, which stays a value until the request is written (or a kind turns it into its own auth)."""

    __slots__ = ("_key", "inner", "name", "target")

    def __init__(self, inner: _KeyedSend, key: str) -> None:
        self.inner = inner
        self.name = inner.name
        self.target = inner.target
        self._key = key

    def send(
        self, method: bytes, path: bytes, headers: Headers, body: bytes, *, head_within: float | None
    ) -> Coroutine[Any, Any, UpstreamResponse]:
        """`inner.send` with the key (its coroutine itself: no frame of its own on every request)."""
        return self.inner.send(method, path, headers, body, head_within=head_within, key=self._key)

    def __repr__(self) -> str:
        return f"KeyedUpstream({self.name!r})"  # never the key
