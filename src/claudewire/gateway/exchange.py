"""One upstream attempt of the gateway, in two halves the call flow sits between: `exchange` sends it and reads
just enough to judge it; `deliver` gives the client the answer of the attempt the flow accepted (`drop` the others).

Nothing reaches the client in `exchange`: an error answer, a whole non-streamed body, or a stream held until its
first content delta (`hold_first_delta`) is judged first, so a failed attempt the flow retries is invisible. Waits
are bounded: the attempt's `timeout` (what is left of the call's deadline) bounds all of `exchange`; a stream's
response head and first event must come within `first_byte_timeout`, a non-streamed answer's head within
`read_timeout`; once a stream is delivered, `idle_timeout` bounds the silence between its chunks. A delivered stream
without pings of its own (a translated Bedrock stream) gets a ``ping`` event after every `ping_interval` s of
silence, written only between two of its events.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from claudewire._errors import Failure, FailureKind, NoResponseError, classify
from claudewire._sse import StreamScanner, json_usage, request_stream
from claudewire.calls import Call
from claudewire.gateway.config import GatewayConfig
from claudewire.gateway.downstream.errors import error_answer, sse_error_event
from claudewire.gateway.downstream.http import Connection, Request
from claudewire.gateway.headers import response_headers
from claudewire.gateway.translation import Translation
from claudewire.gateway.upstream.answers import UnusableAnswer, not_the_api
from claudewire.gateway.upstream.pool import Headers, Sender, UpstreamResponse

__all__ = ["Exchange", "Translation", "deliver", "exchange", "wants_stream"]

_HOLD_MAX = 1024 * 1024  # bytes of a stream held before its first delta; past that we commit anyway
_PING = b'event: ping\ndata: {"type": "ping"}\n\n'
_log = logging.getLogger("claudewire.gateway")


@dataclass(slots=True)
class Exchange:
    """One attempt, judged: `failure` (None on success) and the upstream's `headers` go to the call flow.

    `own` says the failure is the gateway's to describe (nothing usable came back); otherwise the upstream's answer
    (`status`, `out_headers`, `body`, or the still-open stream `resp` with the `held` bytes) goes to the client.
    """

    failure: Failure | None
    headers: dict[str, str] = field(default_factory=dict)
    own: bool = False
    status: int = 0
    out_headers: bytes = b""
    body: bytes = b""
    resp: UpstreamResponse | None = None
    scanner: StreamScanner | None = None
    held: list[bytes] = field(default_factory=list)
    ended: bool = False
    usage_body: bytes | None = None  # a 200 JSON body (decompressed) to read the usage from

    def drop(self) -> None:
        """Abandon this attempt's answer (a retry follows): its connection is closed."""
        if self.resp is not None:
            self.resp.close()
            self.resp = None


def wants_stream(body: bytes) -> bool:
    """Whether a request body asks for ``"stream": true`` at its top level."""
    return request_stream(body)


def exchange(
    upstream: Sender,
    req: Request,
    headers: Headers,
    cfg: GatewayConfig,
    *,
    stream: bool,
    within: float | None,
) -> Coroutine[Any, Any, Exchange]:
    """Send one attempt and judge it, within `within` seconds in all (None: only the configured timeouts)."""
    if within is None:  # the attempt itself, not a coroutine awaiting it: one frame less on every request
        return _guarded(upstream, req, headers, cfg, stream)
    return _within(upstream, req, headers, cfg, stream, within)


async def _within(
    upstream: Sender, req: Request, headers: Headers, cfg: GatewayConfig, stream: bool, within: float
) -> Exchange:
    try:
        async with asyncio.timeout(within):
            return await _guarded(upstream, req, headers, cfg, stream)
    except TimeoutError:
        message = f"the call's deadline ran out ({within:.3g}s were left for this attempt)"
        return Exchange(Failure.of(FailureKind.TIMEOUT, message=message), own=True)


async def _guarded(upstream: Sender, req: Request, headers: Headers, cfg: GatewayConfig, stream: bool) -> Exchange:
    policy_headers: dict[str, str] = {}
    resp: UpstreamResponse | None = None
    try:
        head_within = cfg.first_byte_timeout if stream else cfg.read_timeout
        started = time.monotonic()
        resp = await upstream.send(req.method, req.target, headers, req.body, head_within=head_within)
        status = resp.status
        out_headers = response_headers(resp, policy_headers)
        ctype = resp.header(b"content-type") or b""
        if status >= 400:
            body = await resp.read(cfg.read_timeout)  # bounded: UnusableAnswer past upstream_error_body_limit
            if (odd := not_the_api(upstream.name, status, resp.headers, ctype, req.path, body)) is not None:
                return Exchange(odd, policy_headers, own=True)  # an HTML page is no API error to pass on
            failure = classify(status, headers=policy_headers, body=body)
            return Exchange(failure, policy_headers, status=status, out_headers=out_headers, body=body)
        if (odd := not_the_api(upstream.name, status, resp.headers, ctype, req.path, None)) is not None:
            return Exchange(odd, policy_headers, own=True)  # its connection is dropped unread (finally)
        if ctype.startswith(b"text/event-stream"):
            # a compressed stream cannot be watched: pass it on as it comes, without the first-delta hold
            plain = resp.header(b"content-encoding") in (None, b"identity")
            first_by = started + cfg.first_byte_timeout if stream else None
            ex = Exchange(None, policy_headers, status=status, out_headers=out_headers, resp=resp)
            resp = None  # the exchange owns it now
            return await _hold(ex, cfg, first_by, sse=plain)
        if not resp.complete:
            length = resp.header(b"content-length")
            if length is None or not length.isdigit() or int(length) > _HOLD_MAX:
                ex = Exchange(None, policy_headers, status=status, out_headers=out_headers, resp=resp)
                resp = None
                return ex
        body = await resp.read(cfg.read_timeout)
        ok = Exchange(None, policy_headers, status=status, out_headers=out_headers, body=body)
        if status == 200 and ctype.startswith(b"application/json"):
            ok.usage_body = body
            if resp.header(b"content-encoding") == b"gzip":
                try:
                    ok.usage_body = gzip.decompress(body)
                except (OSError, EOFError):
                    ok.usage_body = b""
        return ok
    except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
        raise
    except UnusableAnswer as exc:  # a body past the bound: nothing of it goes on
        return Exchange(exc.failure, policy_headers, own=True)
    except TimeoutError as exc:
        if isinstance(exc, NoResponseError):
            return Exchange(classify(exc), policy_headers, own=True)
        if resp is not None:  # the head came; its body stalled
            failure = Failure.of(FailureKind.READ_TIMEOUT, message=f"no body bytes for {cfg.read_timeout:g}s")
            return Exchange(failure, policy_headers, own=True)
        return Exchange(classify(exc), policy_headers, own=True)
    except Exception as exc:
        failure = classify(exc)
        if failure is None or failure.kind is FailureKind.UNKNOWN:  # not the network: a bug, ours or a plug-in's
            _log.error("unexpected error during an upstream attempt (answered as a 502)", exc_info=exc)
        return Exchange(failure, policy_headers, own=True)
    finally:
        if resp is not None:
            resp.close()  # no-op once released to the pool


async def _hold(ex: Exchange, cfg: GatewayConfig, first_by: float | None, *, sse: bool) -> Exchange:
    """Hold a stream's events until its first content delta (or an error event, or `_HOLD_MAX` bytes)."""
    resp = ex.resp
    assert resp is not None
    scanner = StreamScanner() if sse else None
    ex.scanner = scanner
    if scanner is None or not cfg.hold_first_delta:
        return ex
    idle = cfg.idle_timeout
    size = 0
    first_wait = False
    try:
        while not (scanner.saw_delta or scanner.error is not None or size > _HOLD_MAX):
            within = idle
            if first_by is not None:
                # the whole hold, not only the first event: message_start then pings (or nothing) must not keep the
                # client blind past first_byte_timeout; 1 ms at least, a zero would mean "no limit" to next_chunk
                left = first_by - time.monotonic()
                first_wait = left <= idle
                within = min(idle, max(0.001, left))
            chunk = await resp.next_chunk(within)
            if chunk is None:
                if not scanner.saw_stop:
                    raise ConnectionResetError("the upstream ended the stream before its first delta")
                ex.ended = True
                break
            ex.held.append(chunk)
            size += len(chunk)
            scanner.feed(chunk)
    except TimeoutError:
        ex.drop()
        if first_wait:
            seen = "content" if ex.held else "stream event"
            wait = f"no {seen} within first_byte_timeout ({cfg.first_byte_timeout:g}s) of sending"
            ex.failure = Failure.of(FailureKind.NO_RESPONSE, message=wait)
        else:
            ex.failure = Failure.of(FailureKind.READ_TIMEOUT, message=f"stream idle for {idle:g}s")
        ex.own = True
    except (ConnectionError, OSError) as exc:
        ex.drop()
        ex.failure, ex.own = classify(exc), True
    except BaseException:
        ex.drop()
        raise
    else:
        if scanner.error is not None and not scanner.saw_delta:
            ex.failure = classify(scanner.error)  # not ours: the error event goes through if it is not retried
    return ex


async def deliver(
    ex: Exchange,
    conn: Connection,
    call: Call,
    cfg: GatewayConfig,
    *,
    drain: bool = False,
    translation: Translation | None = None,
) -> None:
    """Give the client the upstream's answer of the accepted attempt: whole, or streamed on as it arrives.

    `drain`: when the client goes away mid-stream, read on (bounded by `drain_timeout` and `drain_bytes`) for the
    stream's final usage; otherwise the upstream request is dropped at once. `translation`: the caller speaks
    another dialect; its answer is rewritten on the way (JSON whole, a stream event by event).
    """
    resp, ex.resp = ex.resp, None
    failure = ex.failure
    record = call.record
    if resp is None:
        if translation is None:
            conn.respond(ex.status, ex.out_headers, ex.body)
        else:
            body = ex.usage_body if ex.usage_body is not None else ex.body
            conn.respond(*translation.whole(ex.status, ex.out_headers, body))
        call.answer(ex.status, str(failure.kind) if failure is not None else "")
        if ex.usage_body is not None:
            record.usage = json_usage(ex.usage_body)
            record.usage_final = True
        return
    try:
        scanner = ex.scanner
        if translation is not None and scanner is None:  # not SSE: a body without a length, translated whole
            await _whole(resp, ex, conn, call, cfg, translation)
            return
        if translation is not None and failure is not None and scanner is not None and scanner.error is not None:
            # the flow gave up on a stream whose first event was an error: a caller of another dialect gets it as
            # an error answer with its status (nothing of the stream was sent)
            status, headers, body = translation.refuse(ex.status, ex.out_headers, scanner.error)
            conn.respond(status, headers, body)
            call.answer(status, str(failure.kind))
            return
        await _pump(resp, ex, conn, call, cfg, drain, translation)
    finally:
        resp.close()  # no-op once released to the pool


async def _whole(
    resp: UpstreamResponse, ex: Exchange, conn: Connection, call: Call, cfg: GatewayConfig, tr: Translation
) -> None:
    """Read an answer that came without a length whole (bounded), and give it to the caller translated."""
    try:
        upstream = await resp.read(cfg.read_timeout)
    except UnusableAnswer as exc:
        own = error_answer(exc.failure)
        status, headers, body = tr.whole(own.status, own.headers, own.body)
        error = str(exc.failure.kind)
    except (TimeoutError, ConnectionError, OSError) as exc:
        failure = classify(exc) or Failure.of(FailureKind.STREAM_INTERRUPTED)
        own = error_answer(failure, detail=f"the upstream's answer broke off: {exc!r}")
        status, headers, body = tr.whole(own.status, own.headers, own.body)
        error = str(failure.kind)
    else:
        status, headers, body = tr.whole(ex.status, ex.out_headers, upstream)
        error = str(ex.failure.kind) if ex.failure is not None else ""
        if ex.status == 200:
            call.record.usage = json_usage(upstream)
            call.record.usage_final = True
    conn.respond(status, headers, body)
    call.answer(status, error)


async def _pump(
    resp: UpstreamResponse,
    ex: Exchange,
    conn: Connection,
    call: Call,
    cfg: GatewayConfig,
    drain: bool,
    tr: Translation | None = None,
) -> None:
    scanner = ex.scanner
    record = call.record
    if tr is None:
        conn.start(ex.status, ex.out_headers, b"".join(ex.held))
    else:
        conn.start(ex.status, tr.start(ex.status, ex.out_headers), tr.feed(b"".join(ex.held)))
    call.answer(ex.status, str(ex.failure.kind) if ex.failure is not None else "")  # an error event goes through
    if scanner is not None:
        record.usage = scanner.usage
    timeout = cfg.idle_timeout if scanner is not None else cfg.read_timeout
    ended = ex.ended
    every = cfg.ping_interval if scanner is not None and resp.pingless else 0.0
    between = not ex.held or ex.held[-1].endswith(b"\n\n")  # a ping goes only where an event has ended
    # an OpenAI-format caller's stream gets an SSE comment, which every SSE reader skips (its dialect has no ping)
    ping = _PING if tr is None else b": ping\n\n"
    try:
        while not ended:
            try:
                if every:
                    chunk = await _next_or_ping(resp, conn, call, timeout, every, between, ping)
                else:
                    chunk = await resp.next_chunk(timeout)
            except TimeoutError:
                if scanner is None:
                    conn.abort()
                    record.error = str(FailureKind.READ_TIMEOUT)
                    return
                idle = Failure.of(FailureKind.READ_TIMEOUT)
                detail = f"no bytes from the upstream for {timeout:g}s, not even a ping: stream idle timeout"
                conn.write(sse_error_event(idle, detail=detail) if tr is None else tr.fail(idle, detail))
                record.error = "stream_idle_timeout"
                break
            except (ConnectionError, OSError) as exc:
                if scanner is None:
                    conn.abort()
                    record.error = str(FailureKind.STREAM_INTERRUPTED)
                    return
                cut = Failure.of(FailureKind.STREAM_INTERRUPTED)
                detail = f"the upstream connection broke mid-stream: {exc}"
                conn.write(sse_error_event(cut, detail=detail) if tr is None else tr.fail(cut, detail))
                record.error = str(FailureKind.STREAM_INTERRUPTED)
                break
            if chunk is None:
                if scanner is not None and not (scanner.saw_stop or scanner.blind or scanner.error is not None):
                    cut = Failure.of(FailureKind.STREAM_INTERRUPTED)  # ended cleanly, but the message is not whole
                    detail = "the upstream ended the stream before message_stop"
                    conn.write(sse_error_event(cut, detail=detail) if tr is None else tr.fail(cut, detail))
                    record.error = str(FailureKind.STREAM_INTERRUPTED)
                break
            conn.write(chunk if tr is None else tr.feed(chunk))
            if every:
                between = chunk.endswith(b"\n\n")
            if scanner is not None:
                scanner.feed(chunk)
            await conn.drain()
    except asyncio.CancelledError:
        if drain and scanner is not None and conn.closed:  # the client went away: read on for what was produced
            await _drain(resp, scanner, cfg)
            record.usage_final = scanner.saw_stop
        raise
    if scanner is not None:
        record.usage_final = scanner.saw_stop
        if scanner.error is not None and not record.error:
            found = classify(scanner.error)
            record.error = str(found.kind) if found is not None else "stream_error"
    if tr is not None:
        conn.write(tr.close())  # what the caller's dialect still owes (nothing once it wrote its own end)
    conn.finish()
    resp.release()


async def _next_or_ping(
    resp: UpstreamResponse, conn: Connection, call: Call, idle: float, every: float, between: bool, ping: bytes
) -> bytes | None:
    """The next chunk of a stream without pings of its own; each `every` s of silence first writes a ``ping`` event
    (when the stream is `between` two events). `idle` s of silence in all, pings not counting: `TimeoutError`.

    The read is resumed, not restarted: bytes that came in part stay with the response (and its translator)."""
    left = idle
    while True:
        started = time.monotonic()
        try:
            async with asyncio.timeout(min(every, left)):
                return await resp.next_chunk(left)
        except TimeoutError:
            left -= time.monotonic() - started
            if left <= 0:
                raise
            if between:
                conn.write(ping)
                call.record.pings += 1


async def _drain(resp: UpstreamResponse, scanner: StreamScanner, cfg: GatewayConfig) -> None:
    """Read a stream its client abandoned, up to `drain_timeout` s and `drain_bytes` bytes, for its final usage.

    Runs inside the cancelled handler: the cancellation is held off while reading and re-raised by the caller.
    """
    task = asyncio.current_task()
    if task is not None:
        task.uncancel()  # the read below must not be cancelled by the client's own going away
    size = 0
    end = time.monotonic() + cfg.drain_timeout
    try:
        while not scanner.saw_stop and size <= cfg.drain_bytes:
            left = end - time.monotonic()
            if left <= 0:
                break
            chunk = await resp.next_chunk(min(left, cfg.idle_timeout))
            if chunk is None:
                break
            size += len(chunk)
            scanner.feed(chunk)
    except (TimeoutError, ConnectionError, OSError):
        pass  # what was read counts; the rest is settled at its worst case
