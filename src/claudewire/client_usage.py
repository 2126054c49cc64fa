"""Counting a streamed answer's tokens in the client: a tap on the response's byte stream, read by the SDK.

The official SDK parses the stream after the middleware has returned, so the policy middleware cannot see the
final usage. It wraps the response's byte stream instead (httpx2's own `SyncByteStream` / `AsyncByteStream`
interface): every chunk goes to the SDK unchanged and through `claudewire._sse.StreamScanner`, which reads the usage
of ``message_start`` and the cumulative ``message_delta`` (cache read and creation tokens included). The tokens are
counted once, when the stream ends or is closed (an abandoned stream counts what it said so far).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING

import httpx2

from claudewire._sse import StreamScanner, Usage

if TYPE_CHECKING:
    from claudewire.metrics import Metrics

__all__ = ["tap_stream"]


class _UsageTap:
    """Watches a stream's bytes as the SDK reads them; reports its usage once, when it ends or is closed."""

    def __init__(self, metrics: Metrics | None, done: Callable[[Usage], None] | None, upstream: str = "") -> None:
        self.scanner = StreamScanner()
        self.upstream = upstream
        self.metrics = metrics
        self.done = done
        self.reported = False

    def report(self) -> None:
        if self.reported:
            return
        self.reported = True
        usage = self.scanner.usage
        seen = usage.input_tokens or usage.output_tokens or usage.cache_read or usage.cache_creation
        if seen and self.metrics is not None:
            self.metrics.add_usage(usage, self.upstream)
        if self.done is not None:
            self.done(usage)


class _SyncTapStream(httpx2.SyncByteStream):
    def __init__(self, inner: httpx2.SyncByteStream, tap: _UsageTap) -> None:
        self.inner = inner
        self.tap = tap

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.inner:
            self.tap.scanner.feed(chunk)
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
            self.tap.scanner.feed(chunk)
            yield chunk
        self.tap.report()

    async def aclose(self) -> None:
        await self.inner.aclose()
        self.tap.report()


def tap_stream(
    response: httpx2.Response,
    metrics: Metrics | None,
    done: Callable[[Usage], None] | None = None,
    upstream: str = "",
) -> bool:
    """Count a streamed answer's tokens from its ``message_start`` and ``message_delta`` usage as it is read.

    The bytes reach the SDK unchanged: the tap wraps the response's byte stream (httpx2's own stream interface) and
    only looks. A compressed stream is left alone (its raw bytes are not SSE). `done` is told the usage once the
    stream has ended or been closed. True when the tap is in place (False: `done` will never be called).
    """
    if response.headers.get("content-encoding", "identity") not in ("", "identity"):
        return False
    tap = _UsageTap(metrics, done, upstream)
    stream = response.stream
    if isinstance(stream, httpx2.AsyncByteStream):
        response.stream = _AsyncTapStream(stream, tap)
    elif isinstance(stream, httpx2.SyncByteStream):
        response.stream = _SyncTapStream(stream, tap)
    else:
        return False
    return True
