"""The ONE call record, and the observers that read it: every call, the client's and the gateway's, observed once.

A driver (the SDK client's middleware, the gateway's proxy, a translated dialect, a sign-in endpoint) starts a
call, hands its `Call` to the call flow as the flow's listener, writes on its `record` what only the driver knows
(the answer's status, the first byte, the usage, the request id), and ends it exactly once::

    observers = CallObservers(metrics=metrics, telemetry=telemetry, sinks=[access_log])
    call = observers.start("POST", "/v1/messages", model="claude-...", stream=True, client="ci", group="bots")
    try:
        flow = call_flow(engine, chooser, listener=call)      # the flow tells the call each wait, send, outcome
        ...                                                  # drive it; call.answer(status), call.first_byte()
    finally:
        call.end()                                           # metrics, the span, the access log: once

Nothing else feeds an observer: `Metrics` (Prometheus) and the OTel GenAI adapter (`claudewire.telemetry.genai`)
are told by `Call`, never by a driver. `CallObservers.pool_hooks()` gives every upstream `Pool` (the gateway's and
the client's) the same failover, key-out and affinity series.

A target may say where it is, for the attempt's span and the record: ``name`` (the configured upstream, the label
of `claudewire_upstream_requests_total`), ``address`` and ``port``; without them its ``key`` stands for all three.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from claudewire._errors import Failure
from claudewire._routes import route_of
from claudewire.policy.breaker import BreakerState
from claudewire.policy.flow import Outcome, Target
from claudewire.policy.pool import PoolHooks

if TYPE_CHECKING:
    from claudewire._sse import Usage
    from claudewire.metrics import Metrics
    from claudewire.telemetry.genai import CallTrace, GatewayTelemetry

__all__ = ["AttemptRecord", "Call", "CallObservers", "CallRecord", "CallSink", "PoolMetrics"]

_log = logging.getLogger(__name__)


@dataclass(slots=True)
class AttemptRecord:
    """One attempt of a call: where it went, what came back, and the wait that followed it (when retried)."""

    number: int
    target: str  # the state key: ``name#index`` in a pool, ``scheme://host:port`` for one base URL
    upstream: str  # the configured upstream's name (the key where there is none)
    status: int = 0  # the answer's HTTP status; 0 while in flight or when none came
    outcome: str = ""  # "ok" or the failure kind; "" while in flight
    wait: float | None = None  # the backoff after it before the next attempt (None: nothing followed)


@dataclass(slots=True)
class CallRecord:
    """What one call was and what it ended as; every observer reads this and nothing else.

    `dialect` is what the caller spoke (``anthropic``; the OpenAI ingress says ``chat``, ``responses`` or ``cursor``);
    `client` and `group` name a gateway client (never a token). `served` is the upstream whose answer went back;
    `status`, `error` (a failure kind, "" on success), `ttfb` (seconds from `start` to the answer's head, for a
    stream its first byte), `usage` and `request_id` are written by the driver. `admission` and `charged` are a
    named client's admission outcome and the tokens counted against its limits. `pings` counts the ``ping`` events
    the gateway wrote into the silences of a stream without pings of its own (a translated Bedrock stream).
    """

    method: str
    path: str
    dialect: str = "anthropic"
    model: str | None = None
    stream: bool = False
    client: str = ""
    group: str = ""
    start: float = field(default_factory=time.monotonic)
    attempts: list[AttemptRecord] = field(default_factory=list)
    served: str = ""
    status: int = 0
    error: str = ""
    ttfb: float | None = None
    usage: Usage | None = None
    usage_final: bool = False  # the usage is the answer's last word (a stream read to its message_stop)
    request_id: str = ""
    admission: str = ""
    charged: int = 0
    duration: float | None = None  # set by `Call.end`
    route: str = ""  # the bounded route label of `path` (``messages``, ``count_tokens`` ...), set by `start`
    pings: int = 0

    @property
    def tried(self) -> list[str]:
        """Every upstream an attempt went to, in order, each once."""
        seen: list[str] = []
        for attempt in self.attempts:
            if attempt.upstream not in seen:
                seen.append(attempt.upstream)
        return seen


class CallSink(Protocol):
    """An observer of finished calls (the access log; the console's ring): fast, and never raises."""

    def on_call(self, record: CallRecord) -> None:
        """`record` has ended."""
        ...


class PoolMetrics(PoolHooks):
    """The pool's events as Prometheus series (labels: configured names and ``name#index`` only)."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def on_failover(self, source: str, target: str, reason: str) -> None:
        """Count a failover from `source` to `target`."""
        self.metrics.observe_failover(source, target, reason)

    def on_key_out(self, member: str, reason: str) -> None:
        """Count a key taken out and show it out."""
        self.metrics.observe_key_out(member)

    def on_affinity(self, outcome: str, reason: str) -> None:
        """Count a session's hit, new session or break (with why)."""
        self.metrics.observe_affinity(outcome, reason)


class CallObservers:
    """Everyone who hears about calls: `metrics` (Prometheus), `telemetry` (OTel GenAI) and `sinks`.

    With `count_in_flight`, `in_flight` counts the calls started and not yet ended (a gauge may read it).
    """

    def __init__(
        self,
        *,
        metrics: Metrics | None = None,
        telemetry: GatewayTelemetry | None = None,
        sinks: Sequence[CallSink] = (),
    ) -> None:
        self.metrics = metrics
        self.telemetry = telemetry
        self.sinks = tuple(sinks)
        self.in_flight = 0

    @property
    def active(self) -> bool:
        """Whether anyone listens (an unobserved call may skip what only observers need, e.g. a stream's tap)."""
        return self.metrics is not None or self.telemetry is not None or bool(self.sinks)

    def pool_hooks(self) -> PoolHooks:
        """The hooks every upstream `Pool` gets: failovers, keys out and affinity as metrics (no-ops without)."""
        return PoolMetrics(self.metrics) if self.metrics is not None else PoolHooks()

    def start(
        self,
        method: str,
        path: str,
        *,
        dialect: str = "anthropic",
        model: str | None = None,
        stream: bool = False,
        client: str = "",
        group: str = "",
        traceparent: str | None = None,
        tracestate: str | None = None,
        body: bytes = b"",
    ) -> Call:
        """Begin one call: its record, and its span (continuing `traceparent` when given); end it with `Call.end`.

        `body` is the request's, read only when the telemetry records prompts.
        """
        record = CallRecord(method, path, dialect, model, stream, client, group)
        record.route = route_of(path)
        trace: CallTrace | None = None
        telemetry = self.telemetry
        if telemetry is not None:
            try:
                trace = telemetry.call(
                    record.route, model, stream=stream, traceparent=traceparent, tracestate=tracestate, body=body
                )
            except Exception:  # telemetry never breaks a call
                _log.exception("starting the OpenTelemetry span of a call failed")
        self.in_flight += 1
        return Call(self, record, trace)

    def _finish(self, record: CallRecord, trace: CallTrace | None) -> None:
        """Tell every observer that `record` has ended (`Call.end` calls this once)."""
        self.in_flight -= 1
        metrics = self.metrics
        if metrics is not None:
            try:
                _count(metrics, record)
            except Exception:
                _log.exception("recording the metrics of a call failed")
        if trace is not None:
            usage = record.usage
            duration = record.duration or 0.0
            trace.finish(record.status, record.error, usage, duration, record.ttfb, len(record.attempts))
        for sink in self.sinks:
            try:
                sink.on_call(record)
            except Exception:
                _log.exception("a call sink failed")


def _count(metrics: Metrics, record: CallRecord) -> None:
    route = record.route
    metrics.observe_request(route, record.status, record.error, record.duration or 0.0, record.ttfb, record.dialect)
    served = record.served
    if served:
        metrics.observe_upstream_request(served, record.status)
    usage = record.usage
    if usage is not None and (usage.input_tokens or usage.output_tokens or usage.cache_read or usage.cache_creation):
        metrics.add_usage(usage, served)
    if record.client:
        if record.admission:
            metrics.client_request(record.client, record.admission)
        metrics.client_used(record.client, record.charged)


class Call:
    """One call being made: the call flow's listener, the driver's `record`, ended once by `end`."""

    __slots__ = ("_ended", "_observers", "_trace", "record")

    def __init__(self, observers: CallObservers, record: CallRecord, trace: CallTrace | None) -> None:
        self._observers = observers
        self._trace = trace
        self._ended = False
        self.record = record

    # --- the call flow's listener (`claudewire.policy.CallListener`) -------------------------------------------
    def on_wait(self, delay: float, failure: Failure | None) -> None:
        """A retry's backoff after `failure` (the last attempt's answer is dropped), or a rate-limit hold."""
        record = self.record
        if failure is not None and record.attempts:
            record.attempts[-1].wait = delay
            record.served = ""  # that attempt's answer never goes back
        if self._trace is not None:
            self._trace.waiting(delay, failure)

    def on_send(self, attempt: int, target: Target, breaker: BreakerState) -> None:
        """Attempt `attempt` goes to `target`."""
        key = target.key
        name: str = getattr(target, "name", key)
        self.record.attempts.append(AttemptRecord(attempt, key, name))
        if self._trace is not None:
            self._trace.attempt(
                attempt, key, str(breaker), getattr(target, "address", None), getattr(target, "port", None)
            )

    def on_outcome(self, attempt: int, target: Target, outcome: Outcome) -> None:
        """Attempt `attempt` came back as `outcome`; its upstream serves the call unless a retry follows."""
        record = self.record
        failure = outcome.failure
        if record.attempts:
            last = record.attempts[-1]
            last.status = outcome.status
            last.outcome = "ok" if failure is None else str(failure.kind)
            record.served = last.upstream
        if self._trace is not None:
            self._trace.attempt_done(outcome.status, failure)

    # --- what the driver says -------------------------------------------------------------------------------------
    def first_byte(self) -> None:
        """The answer's head (for a stream: its first byte) reached the caller now; only the first call counts."""
        record = self.record
        if record.ttfb is None:
            record.ttfb = time.monotonic() - record.start

    def answer(self, status: int, error: str = "") -> None:
        """The call is answered with `status` (0: no HTTP answer, e.g. an exception raised) and `error` (a failure
        kind, "" on success); its first byte is now unless already marked."""
        record = self.record
        record.status = status
        record.error = error
        if record.ttfb is None:
            record.ttfb = time.monotonic() - record.start

    def end(self) -> None:
        """The call is over: every observer hears of it, once (later calls do nothing). A call never answered
        ends as ``client_closed``."""
        if self._ended:
            return
        self._ended = True
        record = self.record
        record.duration = time.monotonic() - record.start
        if not record.status and not record.error:
            record.error = "client_closed"
        self._observers._finish(record, self._trace)

    @property
    def ended(self) -> bool:
        """Whether `end` has run."""
        return self._ended
