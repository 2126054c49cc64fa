"""The one interface every upstream kind implements, and the upstream wrapper that applies it around a send.

A `Kind` is a small translator, sans-IO apart from fetching its credentials:

- `Kind.request(method, path, headers, body)` → the `UpstreamCall` to send (method, path, header lines, body), or a
  `Refusal` answered at once in the Anthropic error shape (an endpoint the upstream does not have);
- `Kind.response(call, status, headers)` → a `ResponseTranslator` that turns the upstream's head and body chunks
  into the Anthropic API's: status, header lines, and bytes (SSE events for a stream, JSON otherwise).

`KindUpstream` wraps the gateway's connection pool (`Upstream`) with a kind and looks like one to the exchange:
``send(...)`` gives a response with ``status``, ``headers``, ``next_chunk`` and ``read``, already in Anthropic form,
so retries, failover, the first-delta hold and metrics work unchanged for every kind.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from claudewire.gateway.upstream.pool import Upstream, UpstreamResponse
from claudewire.gateway.wire import first_header

__all__ = [
    "KeyRing",
    "Kind",
    "KindUpstream",
    "PassThrough",
    "Refusal",
    "ResponseTranslator",
    "UpstreamCall",
    "anthropic_error",
    "header_value",
    "without_headers",
]

_JSON_CT = (b"content-type", b"application/json")


@dataclass(frozen=True, slots=True)
class UpstreamCall:
    """One translated request: what goes on the wire (`path` below the upstream's base URL), and what it stands for.

    `op` is the Anthropic operation (``messages``, ``count_tokens``); `stream` whether the answer is a stream.
    """

    method: bytes
    path: bytes
    headers: bytes
    body: bytes
    op: str = "messages"
    stream: bool = False


@dataclass(frozen=True, slots=True)
class Refusal:
    """An answer given without asking the upstream: status, Anthropic ``error.type`` and message."""

    status: int
    error_type: str
    message: str


class ResponseTranslator(Protocol):
    """Turns one upstream response into the Anthropic API's: head first, then body bytes as they come."""

    status: int
    headers: list[tuple[bytes, bytes]]
    whole_body: bool  # True: the body must be read whole before translating (`feed` then sees it all at once)

    def feed(self, chunk: bytes) -> bytes:
        """Anthropic bytes for the next upstream bytes (maybe none yet)."""
        ...

    def end(self) -> bytes:
        """Anthropic bytes once the upstream body ended."""
        ...


class Kind(Protocol):
    """An upstream kind: ``anthropic`` passes through; cloud kinds translate."""

    name: str

    async def request(self, method: bytes, path: bytes, headers: bytes, body: bytes) -> UpstreamCall | Refusal:
        """The upstream request for the client's (async only to refresh credentials without blocking)."""
        ...

    def response(self, call: UpstreamCall, status: int, headers: list[tuple[bytes, bytes]]) -> ResponseTranslator:
        """The translator for the upstream's answer to `call`."""
        ...


def anthropic_error(error_type: str, message: str) -> bytes:
    """An Anthropic error body."""
    return json.dumps({"type": "error", "error": {"type": error_type, "message": message}}).encode()


def header_value(headers: bytes, name: bytes) -> bytes | None:
    """The value of header `name` (lower-case) in ready-made ``name: value\\r\\n`` lines, or None."""
    for line in headers.split(b"\r\n"):
        key, sep, value = line.partition(b":")
        if sep and key.strip().lower() == name:
            return value.strip()
    return None


def without_headers(headers: bytes, names: frozenset[bytes]) -> bytes:
    """Header lines minus those named (lower-case)."""
    kept = [line for line in headers.split(b"\r\n") if line and line.partition(b":")[0].strip().lower() not in names]
    return b"".join(line + b"\r\n" for line in kept)


class KeyRing:
    """An upstream's own credentials: the one the gateway put on this attempt (its ``x-api-key`` line, chosen by
    the pool per attempt), else the next in turn."""

    __slots__ = ("_next", "keys")

    def __init__(self, keys: tuple[str, ...]) -> None:
        self.keys = keys
        self._next = 0

    def pick(self, headers: bytes) -> str | None:
        """The key for this attempt; None when the upstream holds none."""
        if not self.keys:
            return None
        chosen = header_value(headers, b"x-api-key")
        if chosen is not None and chosen.decode("latin-1") in self.keys:
            return chosen.decode("latin-1")
        key = self.keys[self._next % len(self.keys)]
        self._next += 1
        return key


@dataclass(slots=True)
class PassThrough:
    """A response that needs no translation (the Anthropic API's own shape)."""

    status: int
    headers: list[tuple[bytes, bytes]]
    whole_body: bool = False

    def feed(self, chunk: bytes) -> bytes:
        return chunk

    def end(self) -> bytes:
        return b""


@dataclass(slots=True)
class WholeBody:
    """A response read whole before `feed` sees it: subclasses rewrite it (an error, a small JSON answer)."""

    status: int
    headers: list[tuple[bytes, bytes]]
    whole_body: bool = True

    def feed(self, chunk: bytes) -> bytes:
        return chunk

    def end(self) -> bytes:
        return b""


class _Answer:
    """A response made here (a `Refusal`, or a translated whole body) with the `UpstreamResponse` surface."""

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self._body: bytes | None = body

    def header(self, name: bytes) -> bytes | None:
        return first_header(self.headers, name)

    @property
    def complete(self) -> bool:
        return True

    async def next_chunk(self, within: float | None = None) -> bytes | None:
        body, self._body = self._body, None
        return body or None

    async def read(self, within: float | None = None) -> bytes:
        body, self._body = self._body, None
        return body or b""

    def release(self) -> None:
        self._body = None

    def close(self) -> None:
        self._body = None


@dataclass(slots=True)
class _Translated:
    """An upstream response seen through its `ResponseTranslator`."""

    inner: UpstreamResponse
    translator: ResponseTranslator
    _ended: bool = False
    _pending: list[bytes] = field(default_factory=list)

    @property
    def status(self) -> int:
        return self.translator.status

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        return self.translator.headers

    def header(self, name: bytes) -> bytes | None:
        return first_header(self.translator.headers, name)

    @property
    def complete(self) -> bool:
        return self._ended or (self.inner.complete and not self.translator.whole_body)

    async def next_chunk(self, within: float | None = None) -> bytes | None:
        """The next translated bytes; upstream bytes that complete no event yet are read on (`within` per read)."""
        while not self._ended:
            chunk = await self.inner.next_chunk(within)
            if chunk is None:
                self._ended = True
                out = self.translator.end()
                return out or None
            out = self.translator.feed(chunk)
            if out:
                return out
        return None

    async def read(self, within: float | None = None) -> bytes:
        if self.translator.whole_body:
            raw = await self.inner.read(within)
            self._ended = True
            return self.translator.feed(raw) + self.translator.end()
        parts: list[bytes] = []
        while (chunk := await self.next_chunk(within)) is not None:
            parts.append(chunk)
        self.inner.release()
        return b"".join(parts)

    def release(self) -> None:
        self.inner.release()

    def close(self) -> None:
        self.inner.close()


class KindUpstream:
    """The connection pool to one upstream, speaking its kind: Anthropic requests in, Anthropic answers out."""

    def __init__(self, upstream: Upstream, kind: Kind) -> None:
        self.inner = upstream
        self.kind = kind
        self.target = upstream.target

    async def send(
        self, method: bytes, path: bytes, headers: bytes, body: bytes, *, head_within: float | None
    ) -> UpstreamResponse:
        """Translate, send, and hand back the answer in the Anthropic API's form."""
        call = await self.kind.request(method, path, headers, body)
        if isinstance(call, Refusal):
            answer = _Answer(call.status, [_JSON_CT], anthropic_error(call.error_type, call.message))
            return answer  # type: ignore[return-value]  # the same surface as UpstreamResponse
        resp = await self.inner.send(call.method, call.path, call.headers, call.body, head_within=head_within)
        translator = self.kind.response(call, resp.status, resp.headers)
        if isinstance(translator, PassThrough):
            return resp
        return _Translated(resp, translator)  # type: ignore[return-value]

    def close(self) -> None:
        """Close the pooled connections."""
        self.inner.close()


def lower_headers(headers: list[tuple[bytes, bytes]]) -> Mapping[bytes, bytes]:
    """The first value of each header, by lower-case name."""
    out: dict[bytes, bytes] = {}
    for name, value in headers:
        out.setdefault(name.lower(), value)
    return out
