"""The one interface every upstream kind implements, and the upstream wrapper that applies it around a send.

A `Kind` is a small translator, sans-IO apart from fetching its credentials:

- `Kind.request(method, path, headers, body, key)` → the `UpstreamCall` to send (method, path, header pairs, body,
  and the credentials it put on), or a `Refusal` answered at once in the Anthropic error shape (an endpoint the
  upstream does not have). `key` is the gateway's key the pool chose for this attempt, as a value (None: it holds
  none): the kind makes it its cloud's auth (a bearer, ``api-key``), never reading it back out of header bytes;
- `Kind.response(call, status, headers)` → a `ResponseTranslator` that turns the upstream's head and body chunks
  into the Anthropic API's: status, header pairs, and bytes (SSE events for a stream, JSON otherwise). One that
  sets `done` has ended the answer (an error event, a corrupt frame): nothing more is read from the upstream. One
  that is `pingless` makes a stream of whole SSE events from an upstream stream without pings of its own (Bedrock's
  event stream): the gateway writes ``ping`` events into its silences, between two of its events;
- `CannotCount`: a ``count_tokens`` the upstream refused (it cannot count there) becomes 501 ``not_supported``, the
  protocol's answer on which Claude Code falls back to counting another way.

`KindUpstream` wraps the gateway's connection pool (`Upstream`) with a kind and looks like one to the exchange:
``send(...)`` gives a response with ``status``, ``headers``, ``next_chunk`` and ``read``, already in Anthropic form,
so retries, failover, the first-delta hold and metrics work unchanged for every kind.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Protocol

from claudewire.gateway.upstream.kinds.errors import error_message, not_supported_body
from claudewire.gateway.upstream.pool import Headers, Upstream, UpstreamResponse
from claudewire.gateway.wire import first_header

__all__ = [
    "CANNOT_COUNT",
    "CannotCount",
    "KeyRing",
    "Kind",
    "KindUpstream",
    "PassThrough",
    "Refusal",
    "ResponseTranslator",
    "UpstreamCall",
    "WholeBody",
    "anthropic_error",
    "without_headers",
]

_JSON_CT = (b"content-type", b"application/json")
_NO_RETRY = (b"x-should-retry", b"false")

CANNOT_COUNT = frozenset({400, 403, 404, 405, 501})
"""Statuses of a refused ``count_tokens`` that mean "not here" (no such operation, model or permission): answered
501 ``not_supported``. A throttled or failing one (429, 5xx) stays what it is, for the policy to retry."""


@dataclass(frozen=True, slots=True)
class UpstreamCall:
    """One translated request: what goes on the wire (`path` below the upstream's base URL), and what it stands for.

    `op` is the Anthropic operation (``messages``, ``count_tokens``); `stream` whether the answer is a stream;
    `minted` the credentials the kind put in `headers` (a key, a token, a signature, a session token), which are
    scrubbed from the answer to this call; `betas` the ``anthropic-beta`` values the caller sent, verbatim (an
    error naming one gets its capability token).
    """

    method: bytes
    path: bytes
    headers: Headers
    body: bytes
    op: str = "messages"
    stream: bool = False
    minted: tuple[str, ...] = ()
    betas: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Refusal:
    """An answer given without asking the upstream: status, Anthropic ``error.type`` and message; `should_retry`
    False sends ``x-should-retry: false`` (a 501 ``not_supported``: no client asks again)."""

    status: int
    error_type: str
    message: str
    should_retry: bool | None = None


class ResponseTranslator(Protocol):
    """Turns one upstream response into the Anthropic API's: head first, then body bytes as they come."""

    status: int
    headers: Headers
    whole_body: bool  # True: the body must be read whole before translating (`feed` then sees it all at once)
    done: bool  # True once the translated answer has ended (an error event): the rest is not read
    pingless: bool  # True: whole SSE events of a stream that has no pings of its own (the gateway adds them)

    def feed(self, chunk: bytes) -> bytes:
        """Anthropic bytes for the next upstream bytes (maybe none yet)."""
        ...

    def end(self) -> bytes:
        """Anthropic bytes once the upstream body ended."""
        ...


class Kind(Protocol):
    """An upstream kind: ``anthropic`` passes through; cloud kinds translate."""

    name: str

    async def request(
        self, method: bytes, path: bytes, headers: Headers, body: bytes, key: str | None
    ) -> UpstreamCall | Refusal:
        """The upstream request for the client's, with `key` (the gateway's, chosen for this attempt) or the
        kind's own credentials (async only to refresh those without blocking)."""
        ...

    def response(self, call: UpstreamCall, status: int, headers: Headers) -> ResponseTranslator:
        """The translator for the upstream's answer to `call`."""
        ...


def anthropic_error(error_type: str, message: str) -> bytes:
    """An Anthropic error body."""
    return json.dumps({"type": "error", "error": {"type": error_type, "message": message}}).encode()


def without_headers(headers: Headers, names: frozenset[bytes]) -> Headers:
    """Header pairs minus those named (lower-case)."""
    return [(name, value) for name, value in headers if name.lower() not in names]


class KeyRing:
    """An upstream's own credentials: the one the pool chose for this attempt, else the next in turn."""

    __slots__ = ("_next", "keys")

    def __init__(self, keys: tuple[str, ...]) -> None:
        self.keys = keys
        self._next = 0

    def pick(self, chosen: str | None) -> str | None:
        """The key for this attempt (`chosen` when it is one of ours); None when the upstream holds none."""
        if not self.keys:
            return None
        if chosen is not None and chosen in self.keys:
            return chosen
        key = self.keys[self._next % len(self.keys)]
        self._next += 1
        return key


@dataclass(slots=True)
class _AsItIs:
    """An answer whose bytes go on unchanged; `whole_body` says whether they are read whole first."""

    status: int
    headers: Headers
    whole_body: bool = False
    done: bool = False
    pingless: bool = False

    def feed(self, chunk: bytes) -> bytes:
        return chunk

    def end(self) -> bytes:
        return b""


@dataclass(slots=True)
class PassThrough(_AsItIs):
    """A response that needs no translation (the Anthropic API's own shape)."""


@dataclass(slots=True)
class WholeBody(_AsItIs):
    """A response read whole (bounded, scrubbed) before `feed` sees it: as it is (a JSON answer), or rewritten by a
    subclass (an error)."""

    whole_body: bool = True


@dataclass(slots=True)
class CannotCount(WholeBody):
    """A ``count_tokens`` refused as not available (`CANNOT_COUNT`) → 501 ``not_supported`` with ``x-should-retry:
    false``, the upstream's own words in the message; `where` names the upstream."""

    where: str = ""

    def __post_init__(self) -> None:
        self.status = 501
        kept = [(k, v) for k, v in self.headers if k.lower() not in (b"content-type", b"x-should-retry")]
        self.headers = [*kept, _JSON_CT, _NO_RETRY]

    def feed(self, chunk: bytes) -> bytes:
        said = error_message(chunk)
        why = f": {said}" if said else ""
        return not_supported_body(f"count_tokens is not available on {self.where}{why}")


class _Answer:
    """A response made here (a `Refusal`, or a translated whole body) with the `UpstreamResponse` surface."""

    pingless = False

    def __init__(self, status: int, headers: Headers, body: bytes) -> None:
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
    def headers(self) -> Headers:
        return self.translator.headers

    def header(self, name: bytes) -> bytes | None:
        return first_header(self.translator.headers, name)

    @property
    def complete(self) -> bool:
        return self._ended or (self.inner.complete and not self.translator.whole_body)

    @property
    def pingless(self) -> bool:
        """Whether this is a stream of whole SSE events with no pings of its own (the gateway adds them)."""
        return self.translator.pingless

    async def next_chunk(self, within: float | None = None) -> bytes | None:
        """The next translated bytes; upstream bytes that complete no event yet are read on (`within` per read).

        A whole-body translation comes as one chunk (read whole first, bounded). Once the translator is `done`
        the upstream's connection is dropped unread: an error event ends the answer now, not when the upstream
        stops sending."""
        translator = self.translator
        if translator.whole_body:
            return None if self._ended else (await self.read(within)) or None
        while not self._ended:
            chunk = await self.inner.next_chunk(within)
            if chunk is None:
                self._ended = True
                out = translator.end()
                return out or None
            out = translator.feed(chunk)
            if translator.done:
                self._ended = True
                self.inner.close()
                return out or None
            if out:
                return out
        return None

    async def read(self, within: float | None = None) -> bytes:
        if self.translator.whole_body:
            raw = await self.inner.read(within)  # bounded by the pool's body_limit, scrubbed
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
        self.name = upstream.name
        self.target = upstream.target

    async def send(
        self,
        method: bytes,
        path: bytes,
        headers: Headers,
        body: bytes,
        *,
        head_within: float | None,
        key: str | None = None,
    ) -> UpstreamResponse:
        """Translate (with `key`, the gateway's key chosen for this attempt), send, and hand back the answer in the
        Anthropic API's form."""
        call = await self.kind.request(method, path, headers, body, key)
        if isinstance(call, Refusal):
            head = [_JSON_CT] if call.should_retry is not False else [_JSON_CT, _NO_RETRY]
            answer = _Answer(call.status, head, anthropic_error(call.error_type, call.message))
            return answer  # type: ignore[return-value]  # the same surface as UpstreamResponse
        resp = await self.inner.send(
            call.method, call.path, call.headers, call.body, head_within=head_within, minted=call.minted
        )
        translator = self.kind.response(call, resp.status, resp.headers)
        if isinstance(translator, PassThrough):
            return resp
        return _Translated(resp, translator)  # type: ignore[return-value]

    def close(self) -> None:
        """Close the pooled connections."""
        self.inner.close()
