"""The ``ratelimit``, ``messages`` and ``streaming`` checks: the checks that spend (a few) tokens.

``messages`` sends one minimal request; its headers feed ``ratelimit`` (headroom from ``anthropic-ratelimit-*``,
a 429 with its retry-after, the spend cap named as such). ``streaming`` asks for a tiny streamed reply and times
each event: spread over time is a stream; everything in one burst after a wait means a proxy buffers it; no
``message_stop`` means it was cut.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import anthropic
import httpx2

from claudewire._errors import Failure, FailureKind
from claudewire.doctor.api import Answer, call, classify_sdk_error
from claudewire.doctor.gateway_view import GatewayView, through_gateway
from claudewire.doctor.result import CheckResult, JSONValue, Status
from claudewire.doctor.settings import Settings

__all__ = ["StreamProbe", "check_messages", "check_ratelimit", "check_streaming", "probe_messages", "probe_stream"]

_PROMPT = "Count from 1 to 20, separated by spaces."
_LOW_HEADROOM = 0.1
# A stream counts as buffered when it waited this long for its first event, then delivered all within _BURST_S.
_BUFFERED_WAIT_S = 0.1
_BURST_S = 0.05
_SLOW_GAP_S = 0.15  # events further apart than this on average: a slow stream
# If the doctor's own event loop was kept from running this long right before a burst (a loaded machine, a busy
# thread), the burst is the doctor reading late, not a proxy holding the stream: "cannot tell", not a warning.
_OWN_STALL_S = 0.1
_TICK_S = 0.005
_FAMILIES = ("requests", "tokens", "input-tokens", "output-tokens")


async def probe_messages(client: anthropic.AsyncAnthropic, settings: Settings) -> Answer:
    """One minimal non-streamed request."""
    return await call(
        client.messages.with_raw_response.create(
            model=settings.model, max_tokens=8, messages=[{"role": "user", "content": "Reply with: ok"}]
        )
    )


@dataclass(frozen=True, slots=True)
class StreamProbe:
    """One streamed request: event types with their arrival times (seconds after sending), and how it ended."""

    events: tuple[tuple[str, float], ...] = ()
    failure: Failure | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    elapsed_ms: float = 0.0
    stalls: tuple[tuple[float, float], ...] = ()  # (resumed at, for how long): the doctor's own loop kept waiting

    def stall_before(self, at: float, until: float) -> float:
        """The longest stall of the doctor's own loop that ended between `at` and `until` (seconds; 0: none)."""
        return max((length for end, length in self.stalls if at <= end <= until), default=0.0)

    @property
    def complete(self) -> bool:
        """Whether ``message_stop`` arrived."""
        return any(kind == "message_stop" for kind, _ in self.events)


class _LoopWatch:
    """Ticks every few ms beside the stream and records each time the loop could not run for a while."""

    def __init__(self, start: float) -> None:
        self.start = start
        self.last = start
        self.stalls: list[tuple[float, float]] = []  # (resumed at, for how long), seconds after `start`

    def _note(self, now: float) -> None:
        late = now - self.last - _TICK_S
        if late >= _TICK_S * 4 and len(self.stalls) < 1000:
            self.stalls.append((now - self.start, late))
        self.last = now

    async def run(self) -> None:
        while True:
            await asyncio.sleep(_TICK_S)
            self._note(time.monotonic())

    def finish(self) -> tuple[tuple[float, float], ...]:
        # a stall still going on when the stream ended: the reader finished a burst before the ticker could wake
        self._note(time.monotonic())
        return tuple(self.stalls)


async def probe_stream(client: anthropic.AsyncAnthropic, settings: Settings) -> StreamProbe:
    """A tiny streamed reply, each event timed on arrival; bounded by two timeouts overall.

    A ticker runs beside it and records when the doctor's own loop was kept from running (`StreamProbe.stalls`):
    a burst that arrives just as such a stall ends is the doctor reading late, not a proxy holding the stream.
    """
    start = time.monotonic()
    watch = _LoopWatch(start)
    watcher = asyncio.create_task(watch.run())
    try:
        probe = await _probe_stream(client, settings, start)
    finally:
        watcher.cancel()
    return dataclasses.replace(probe, stalls=watch.finish())


async def _probe_stream(client: anthropic.AsyncAnthropic, settings: Settings, start: float) -> StreamProbe:
    events: list[tuple[str, float]] = []
    headers: dict[str, str] = {}
    failure: Failure | None = None
    try:
        async with asyncio.timeout(2 * settings.timeout):
            stream = await client.messages.create(
                model=settings.model, max_tokens=32, stream=True, messages=[{"role": "user", "content": _PROMPT}]
            )
            headers = {k.lower(): v for k, v in stream.response.headers.items()}
            async with stream:
                async for event in stream:
                    events.append((event.type, time.monotonic() - start))
    except (anthropic.APIError, httpx2.HTTPError, OSError, TimeoutError) as exc:
        failure = classify_sdk_error(exc)
        if isinstance(exc, anthropic.APIStatusError) and not headers:
            headers = {k.lower(): v for k, v in exc.response.headers.items()}
        if isinstance(exc, TimeoutError) and events:
            quiet = time.monotonic() - start - events[-1][1]
            message = f"not finished within {2 * settings.timeout:g}s ({len(events)} events, the last {quiet:.1f}s ago)"
            failure = Failure.of(FailureKind.STREAM_INTERRUPTED, message=message)
    return StreamProbe(tuple(events), failure, headers, (time.monotonic() - start) * 1000)


def _said(failure: Failure) -> str:
    status = f"{failure.status} " if failure.status else ""
    message = f": {failure.message}" if failure.message else ""
    return f"{status}{failure.kind.value}{message}"


def check_messages(answer: Answer, gateway: GatewayView | None = None) -> CheckResult:
    """A minimal request succeeds; a 529 says the API is overloaded, not the user's setup.

    Through a claudewire `gateway`, a failure it answered about its upstream side is worded as such (its message,
    its upstreams' states, its operator to act), never as this machine's network or Anthropic's status page.
    """
    failure = answer.failure
    evidence: dict[str, JSONValue] = {"request_id": answer.headers.get("request-id")}
    if failure is None:
        usage = getattr(answer.body, "usage", None)
        evidence["stop_reason"] = getattr(answer.body, "stop_reason", None)
        evidence["output_tokens"] = getattr(usage, "output_tokens", None)
        detail = f"a minimal request succeeded ({answer.elapsed_ms:.0f} ms)"
        return CheckResult("messages", Status.PASS, detail, None, evidence, answer.elapsed_ms)
    evidence["answer"] = _said(failure)
    evidence["retryable"] = failure.retryable
    if failure.kind in (FailureKind.RATE_LIMIT, FailureKind.SPEND_LIMIT):
        return CheckResult("messages", Status.SKIP, "skipped: ratelimit failed", None, {"prerequisite": "ratelimit"})
    behind = through_gateway(failure, gateway)
    if behind is not None:
        return CheckResult("messages", Status.FAIL, behind[0], behind[1], evidence, answer.elapsed_ms)
    if failure.kind is FailureKind.OVERLOADED:
        detail = f"the API is overloaded ({_said(failure)}): Anthropic's side, not your setup"
    else:
        detail = f"the request failed: {_said(failure)}; {failure.cause}"
    return CheckResult("messages", Status.FAIL, detail, failure.fix, evidence, answer.elapsed_ms)


def _headroom(headers: Mapping[str, str]) -> dict[str, dict[str, JSONValue]]:
    found: dict[str, dict[str, JSONValue]] = {}
    for family in _FAMILIES:
        limit = headers.get(f"anthropic-ratelimit-{family}-limit")
        remaining = headers.get(f"anthropic-ratelimit-{family}-remaining")
        if limit is None or remaining is None:
            continue
        try:
            lim, rem = int(limit), int(remaining)
        except ValueError:
            continue
        found[family] = {
            "limit": lim,
            "remaining": rem,
            "reset": headers.get(f"anthropic-ratelimit-{family}-reset"),
        }
    return found


def _share(limit: dict[str, JSONValue]) -> float:
    remaining, total = limit["remaining"], limit["limit"]
    assert isinstance(remaining, int) and isinstance(total, int)
    return remaining / max(1, total)


def check_ratelimit(
    answer: Answer | None, fallback_headers: Mapping[str, str], stream_failure: Failure | None = None
) -> CheckResult:
    """Headroom from the rate-limit headers; a 429 → fail with its retry-after; the spend cap named as such.

    `stream_failure` is how the streamed request (sent beside the plain one) failed, if it did: a 429 there fails
    this check too, so no report says "ratelimit ✓" and then "streaming skipped: ratelimit failed". Headroom is
    read from a successful answer only (an error's headers, a 503's say, are not the account's limits).
    """
    failure = answer.failure if answer is not None else None
    limited = (FailureKind.RATE_LIMIT, FailureKind.SPEND_LIMIT)
    stream_limited = stream_failure is not None and stream_failure.kind in limited
    if (failure is None or failure.kind not in limited) and stream_limited:
        failure = stream_failure
    ok = answer is not None and answer.failure is None and bool(answer.headers)
    headers = answer.headers if ok and answer is not None else fallback_headers
    limits = _headroom(headers)
    evidence: dict[str, JSONValue] = {"limits": dict(limits)}
    ms = answer.elapsed_ms if answer is not None else 0.0
    if failure is not None and failure.kind is FailureKind.SPEND_LIMIT:
        detail = f"the organization's monthly spend limit is reached ({_said(failure)}): not a rate limit"
        return CheckResult("ratelimit", Status.FAIL, detail, failure.fix, evidence, ms)
    if failure is not None and failure.kind is FailureKind.RATE_LIMIT:
        evidence["retry_after"] = failure.retry_after
        wait = f"; retry after {failure.retry_after:g}s" if failure.retry_after is not None else ""
        detail = f"rate limited ({_said(failure)}){wait}"
        return CheckResult("ratelimit", Status.FAIL, detail, failure.fix, evidence, ms)
    if not limits:
        detail = "no anthropic-ratelimit-* headers to read" + (
            f" (the request answered {_said(failure)})" if failure else " (a gateway may strip them)"
        )
        return CheckResult("ratelimit", Status.SKIP if failure else Status.PASS, detail, None, evidence, ms)
    shares = {f: _share(v) for f, v in limits.items()}
    tightest = min(shares, key=lambda f: shares[f])
    left = limits[tightest]
    detail = f"{tightest}: {left['remaining']} of {left['limit']} left ({shares[tightest]:.0%} headroom)"
    if shares[tightest] < _LOW_HEADROOM:
        fix = "Little headroom left: lower concurrency, spread requests, or ask for a higher tier."
        return CheckResult("ratelimit", Status.WARN, detail + f", resets {left['reset']}", fix, evidence, ms)
    return CheckResult("ratelimit", Status.PASS, detail, None, evidence, ms)


def check_streaming(probe: StreamProbe, gateway: GatewayView | None = None) -> CheckResult:
    """Events spread over time pass; one burst after a wait warns (buffered); a stream cut short fails.

    A streamed request a claudewire `gateway` refused about its upstream side is worded as `check_messages` does.
    """
    evidence: dict[str, JSONValue] = {"events": len(probe.events)}
    ms = probe.elapsed_ms
    if probe.events:
        first, last = probe.events[0][1], probe.events[-1][1]
        evidence.update({"first_event_ms": round(first * 1000, 1), "spread_ms": round((last - first) * 1000, 1)})
    if probe.failure is not None and not probe.events:
        evidence["answer"] = _said(probe.failure)
        if probe.failure.kind in (FailureKind.RATE_LIMIT, FailureKind.SPEND_LIMIT):
            return CheckResult(
                "streaming", Status.SKIP, "skipped: ratelimit failed", None, {"prerequisite": "ratelimit"}
            )
        behind = through_gateway(probe.failure, gateway)
        if behind is not None:
            return CheckResult("streaming", Status.FAIL, behind[0], behind[1], evidence, ms)
        detail = f"the streamed request failed: {_said(probe.failure)}"
        return CheckResult("streaming", Status.FAIL, detail, probe.failure.fix, evidence, ms)
    interrupted = Failure.of(FailureKind.STREAM_INTERRUPTED)
    if probe.failure is not None:
        evidence["answer"] = _said(probe.failure)
        detail = f"the stream broke after {len(probe.events)} events: {_said(probe.failure)}"
        return CheckResult("streaming", Status.FAIL, detail, interrupted.fix, evidence, ms)
    if not probe.complete:
        detail = f"the stream was cut short: {len(probe.events)} events and no message_stop"
        return CheckResult("streaming", Status.FAIL, detail, interrupted.fix, evidence, ms)
    first, last = probe.events[0][1], probe.events[-1][1]
    spread = last - first
    burst = len(probe.events) >= 3 and first >= _BUFFERED_WAIT_S and spread <= _BURST_S
    own = probe.stall_before(first - _BURST_S, last + _BURST_S)
    if burst and own >= _OWN_STALL_S:
        evidence["own_stall_ms"] = round(own * 1000, 1)
        detail = (
            f"{len(probe.events)} events arrived together after {first * 1000:.0f} ms, just as this machine let the "
            f"doctor run again after {own * 1000:.0f} ms: a burst it cannot tell from buffering; run it again when "
            "the machine is less busy"
        )
        return CheckResult("streaming", Status.PASS, detail, None, evidence, ms)
    if burst:
        detail = (
            f"all {len(probe.events)} events arrived in one burst after {first * 1000:.0f} ms: "
            "something between you and the API buffers the stream (or it is `claudewire sim --pacing off`, which "
            "sends at once)"
        )
        fix = (
            "A proxy or TLS inspection holds the whole response: exempt the API host from inspection/buffering "
            "(for nginx: proxy_buffering off). Long replies will look frozen, then arrive at once."
        )
        return CheckResult("streaming", Status.WARN, detail, fix, evidence, ms)
    detail = f"{len(probe.events)} events over {spread * 1000:.0f} ms, first after {first * 1000:.0f} ms"
    gap = spread / (len(probe.events) - 1) if len(probe.events) > 1 else 0.0
    if len(probe.events) >= 5 and gap > _SLOW_GAP_S:
        fix = (
            "The stream arrives slowly: check status.anthropic.com; a proxy that shapes bandwidth or inspects each "
            "chunk can slow it down."
        )
        return CheckResult(
            "streaming", Status.WARN, f"slow stream: {detail} ({gap * 1000:.0f} ms apart)", fix, evidence, ms
        )
    return CheckResult("streaming", Status.PASS, detail, None, evidence, ms)
