"""Writing an SSE reply: paced event by event, or misshapen on purpose (error event, cut, slow, buffered, a pause)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aiohttp import web

from claudewire.sim.config import Pacing
from claudewire.sim.faults import FaultKind, FaultSpec

__all__ = ["StreamShape", "write_stream"]

_DEFAULT_AFTER = 3
_SLOW_MS = 200.0
_PAUSE_SECONDS = 15.0


@dataclass(frozen=True, slots=True)
class StreamShape:
    """How to deliver one stream: delays, and whether to buffer it, stop it with an error event, cut it, or fall
    silent for `pause` seconds before content delta `pause_after`."""

    ttft: float
    per_token: float
    buffered_hold: float | None = None
    error_after: int | None = None
    cut_after: int | None = None
    error_event: bytes = b""
    pause_after: int | None = None
    pause: float = 0.0

    @classmethod
    def of(cls, spec: FaultSpec | None, pacing: Pacing, *, sse_error: bytes) -> StreamShape:
        """The shape a stream fault (or none) gives a stream under `pacing`."""
        ttft, per_token = pacing.ttft, pacing.per_token
        if spec is None:
            return cls(ttft, per_token)
        after = spec.after if spec.after is not None else _DEFAULT_AFTER
        if spec.kind is FaultKind.SLOW:
            per_token = (spec.ms[0] if spec.ms else _SLOW_MS) / 1000.0
            return cls(max(ttft, per_token), per_token)
        if spec.kind is FaultKind.BUFFERED:
            # a buffering proxy holds everything until the upstream finishes; at least a noticeable half second
            hold = spec.ms[0] / 1000.0 if spec.ms else None
            return cls(ttft, per_token, buffered_hold=hold if hold is not None else -1.0)
        if spec.kind is FaultKind.MIDSTREAM_ERROR:
            return cls(ttft, per_token, error_after=after, error_event=sse_error)
        if spec.kind is FaultKind.CUT:
            return cls(ttft, per_token, cut_after=after)
        if spec.kind is FaultKind.PAUSE:
            pause = spec.seconds if spec.seconds is not None else _PAUSE_SECONDS
            return cls(ttft, per_token, pause_after=after, pause=pause)
        return cls(ttft, per_token)


async def write_stream(
    request: web.Request,
    headers: Mapping[str, str],
    events: Sequence[bytes],
    first_delta: int,
    shape: StreamShape,
    content_type: str = "text/event-stream",
) -> web.StreamResponse:
    """Send `events` (SSE, or another framing's messages) each written and flushed as produced, shaped by `shape`."""
    response = web.StreamResponse(status=200, headers=headers)
    response.content_type = content_type
    response.headers["Cache-Control"] = "no-cache"
    deltas = len(events) - 3 - first_delta  # after the deltas: content_block_stop, message_delta, message_stop
    end_of_deltas = first_delta + deltas
    try:
        await response.prepare(request)
        if shape.buffered_hold is not None:
            hold = shape.buffered_hold
            if hold < 0:
                hold = max(0.5, shape.ttft + shape.per_token * deltas)
            await asyncio.sleep(hold)
            await response.write(b"".join(events))
            await response.write_eof()
            return response
        stop_at = None
        if shape.error_after is not None:
            stop_at = first_delta + min(shape.error_after, deltas)
        elif shape.cut_after is not None:
            stop_at = first_delta + min(shape.cut_after, deltas)
        if shape.ttft:
            await asyncio.sleep(shape.ttft)
        pause_at = first_delta + min(shape.pause_after, deltas) if shape.pause_after is not None else None
        for i, event in enumerate(events):
            if i == pause_at:
                await asyncio.sleep(shape.pause)  # a silent gap: not a byte, not even a ping
            if i == stop_at:
                if shape.error_after is not None:
                    await response.write(shape.error_event)
                    await response.write_eof()
                elif request.transport is not None:
                    request.transport.close()  # flush what was sent, then FIN with the chunked body unfinished
                return response
            if shape.per_token and first_delta <= i < end_of_deltas:
                await asyncio.sleep(shape.per_token)
            await response.write(event)
        await response.write_eof()
    except ConnectionError:
        pass  # the client went away mid-stream; nothing left to tell it
    return response
