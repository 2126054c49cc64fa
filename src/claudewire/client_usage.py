"""Reading a streamed answer in the client: a tap on the response's byte stream, read by the SDK.

The official SDK parses the stream after the middleware has returned, so the policy middleware cannot see the
final usage or when the first byte came. It wraps the response's byte stream instead (httpx2's own
`SyncByteStream` / `AsyncByteStream` interface): every chunk goes to the SDK unchanged and through
`claudewire._sse.StreamScanner`, which reads the usage of ``message_start`` and the cumulative ``message_delta``
(cache read and creation tokens included). The call's record gets its first byte at the first chunk, and its usage
when the stream ends or is closed (an abandoned stream counts what it said so far); then the call ends, once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx2

from claudewire._sse import StreamScanner
from claudewire.calls import Call

__all__ = ["tap_stream"]


class _UsageTap:
    """Watches a stream's bytes as the SDK reads them; ends its call once, when the stream ends or is closed."""

    def __init__(self, call: Call) -> None:
        self.scanner = StreamScanner()
        self.call = call
        self.first = True

    def feed(self, chunk: bytes) -> None:
        if self.first:
            self.first = False
            self.call.first_byte()
        self.scanner.feed(chunk)

    def report(self) -> None:
        call = self.call
        if call.ended:
            return
        scanner = self.scanner
        call.record.usage = scanner.usage
        call.record.usage_final = scanner.saw_stop
        call.end()


class _SyncTapStream(httpx2.SyncByteStream):
    def __init__(self, inner: httpx2.SyncByteStream, tap: _UsageTap) -> None:
        self.inner = inner
        self.tap = tap

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.inner:
            self.tap.feed(chunk)
            yield chunk
        self.tap.report()

    def close(self) -> None:
        self.inner.close()
        self.tap.report()  # abandoned early: what message_start and any message_delta said


class _AsyncTapStream(httpx2.AsyncByteStream):
    def __init__(self, inner: httpx2.AsyncByteStream, tap: _UsageTap) -> None:
        self.inner = inner
        self.tap = tap

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.inner:
            self.tap.feed(chunk)
            yield chunk
        self.tap.report()

    async def aclose(self) -> None:
        await self.inner.aclose()
        self.tap.report()


def tap_stream(response: httpx2.Response, call: Call) -> bool:
    """Read a streamed answer's first byte and usage (``message_start``, ``message_delta``) as the SDK reads it,
    and end `call` when the stream has ended or been closed.

    The bytes reach the SDK unchanged: the tap wraps the response's byte stream (httpx2's own stream interface) and
    only looks. A compressed stream is left alone (its raw bytes are not SSE). True when the tap is in place
    (False: the caller ends the call itself).
    """
    if response.headers.get("content-encoding", "identity") not in ("", "identity"):
        return False
    tap = _UsageTap(call)
    stream = response.stream
    if isinstance(stream, httpx2.AsyncByteStream):
        response.stream = _AsyncTapStream(stream, tap)
    elif isinstance(stream, httpx2.SyncByteStream):
        response.stream = _SyncTapStream(stream, tap)
    else:
        return False
    return True
