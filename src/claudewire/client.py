"""`claudewire.Anthropic` and `claudewire.AsyncAnthropic`: the official SDK clients with one resilience policy.

They are subclasses of `anthropic.Anthropic` / `anthropic.AsyncAnthropic` with the same constructor plus
``policy=`` (and ``hooks=``). The policy runs as the outermost middleware through the SDK's public middleware API,
never by patching the SDK, and it is the ONE retry loop: the SDK's own ``max_retries`` is set to 0 underneath, so a
call makes at most ``policy.max_retries + 1`` attempts, not (SDK retries + 1) × (ours + 1).

When the policy gives up, the last answer goes back to the SDK unchanged and the SDK raises its own exception class
(`anthropic.RateLimitError`, `anthropic.BadRequestError`, `anthropic.APIConnectionError` ...). The only exception
claudewire adds is `CircuitOpenError` (a subclass of `anthropic.APIConnectionError`), raised without touching the
network while the breaker of the upstream is open.

Every call is driven by the one call flow (`claudewire.policy.flow.call_flow`), shared with the gateway: the sync
and async drivers here only do the I/O it asks for (`_PolicyMiddleware._steps` adapts its steps to the SDK's
requests). Retries, give-ups and breaker transitions are logged through stdlib logging (``claudewire.client``,
``claudewire.policy.engine``); keys never appear.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Self, cast
from urllib.parse import urlsplit

import anthropic
import httpx2
from anthropic import APIRequest, AsyncCallNext, CallNext, Middleware, MiddlewareInput, NotGiven
from anthropic._response import BaseAPIResponse

from claudewire._clock import Clock
from claudewire._errors import Failure, classify
from claudewire._exceptions import CircuitOpenError, NotAnthropicResponseError
from claudewire._sse import Usage
from claudewire.calls import Call, CallObservers
from claudewire.client_upstreams import ClientTarget, ClientUpstream, ClientUpstreams
from claudewire.client_usage import tap_stream
from claudewire.policy import Hooks, MultiHooks, Policy, PolicyEngine, upstream_key
from claudewire.policy.flow import OneTarget, Outcome, Reject, Wait, call_flow

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from claudewire.metrics import Metrics
    from claudewire.telemetry.genai import ClientTelemetry

__all__ = ["Anthropic", "AsyncAnthropic"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _BaseURL:
    """The client's one target: its base URL, whose scheme, host and port name the breaker (and the upstream)."""

    key: str
    address: str = ""
    port: int = 0

    @property
    def name(self) -> str:
        """The upstream's name in metrics: the key itself."""
        return self.key

    @classmethod
    def of(cls, base_url: str) -> _BaseURL:
        """The target of `base_url`."""
        parts = urlsplit(base_url)
        return cls(upstream_key(base_url), parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))


# --- the steps `_steps` asks its two drivers to perform (besides the flow's own `Wait`) -----------------------------


@dataclass(frozen=True, slots=True)
class _Attempt:
    request: APIRequest


@dataclass(frozen=True, slots=True)
class _Discard:
    response: BaseAPIResponse[Any]


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What one attempt produced: an answer (with its body read when it is an error) or a connection error."""

    response: Any = None
    body: bytes | None = None
    error: anthropic.APIConnectionError | NotAnthropicResponseError | None = None
    at: float = 0.0  # time.monotonic() when the answer's head (or the error) came


def _not_the_api(response: httpx2.Response) -> bool:
    """A 2xx whose content type no API answer has (HTML, XML): a portal or a proxy's page, not a reply."""
    content_type = response.headers.get("content-type", "").lower()
    return "html" in content_type or "xml" in content_type


_Step = Wait | _Attempt | _Discard
_Flow = Generator[_Step, _Outcome | None, Any]


class _PolicyMiddleware(Middleware):
    """Runs every attempt of a call through the call flow; one instance per client, engines shared by copies."""

    def __init__(self, engine: PolicyEngine, policy: Policy, observers: CallObservers, clock: Clock) -> None:
        self.engine = engine
        self.policy = policy
        self.observers = observers  # metrics, OTLP export (otlp= or the OTEL_* variables): who hears of each call
        self.clock = clock
        self.upstream = ""
        self.base_url = ""
        self.chooser = OneTarget(_BaseURL(""))
        self.upstreams: ClientUpstreams | None = None  # several upstreams: the pool chooses each attempt's
        # the last attempt's failure, named by a later CircuitOpenError; shared with copies on the same engine
        self.last_failure: list[Failure | None] = [None]

    def bind(self, base_url: str) -> None:
        """Attach to the client's base URL: its scheme, host and port name the breaker."""
        self.base_url = base_url.rstrip("/")
        self.upstream = upstream_key(base_url)
        self.chooser = OneTarget(_BaseURL.of(base_url))

    def derive(self, policy: Policy) -> _PolicyMiddleware:
        """The middleware of a copy with `policy`: same engine, unless engine-wide settings change (then a new one,
        with fresh breakers and budget, the same hooks and clock)."""
        engine = self.engine
        if not policy.shares_engine(engine.policy):
            engine = PolicyEngine(policy, clock=engine.clock, wall=engine.wall, hooks=engine.hooks)
        observers = CallObservers(metrics=self.observers.metrics, telemetry=self.observers.telemetry)
        derived = _PolicyMiddleware(engine, policy, observers, self.clock)
        if self.base_url:
            derived.bind(self.base_url)
        if engine is self.engine:
            derived.last_failure = self.last_failure
        if self.upstreams is not None:
            same = engine is self.engine
            derived.upstreams = (
                self.upstreams if same else ClientUpstreams(self.upstreams.specs, engine, observers.pool_hooks())
            )
        return derived

    def _start(self, request: APIRequest) -> Call:
        """The record of one call (its span, when OTLP export is on, in the caller's current trace)."""
        body = request.options.json_data
        model = body.get("model") if isinstance(body, Mapping) else None
        telemetry = self.observers.telemetry
        capture = telemetry is not None and telemetry.capture_content and body is not None
        return self.observers.start(
            request.method.upper(),
            request.url,
            model=model if isinstance(model, str) else None,
            stream=bool(request.stream),
            body=json.dumps(body).encode() if capture else b"",
        )

    def _answered(self, call: Call, outcome: _Outcome, failure: Failure | None, status: int) -> bool:
        """The call's answer is `outcome`: what the record says of it. True when a stream's tap ends the call once
        the SDK has read the stream (its usage and first byte are the stream's)."""
        record = call.record
        record.status, record.error = status, (failure.kind.value if failure else "")
        response = outcome.response
        stream = failure is None and record.stream and isinstance(response, BaseAPIResponse)
        if stream and self.observers.active and tap_stream(response.http_response, call):
            return True
        record.ttfb = outcome.at - record.start
        if failure is None and self.observers.active and isinstance(response, BaseAPIResponse):
            record.usage = _json_usage(response)
        return False

    def _steps(self, request: APIRequest) -> _Flow:
        """The call flow's steps as SDK requests: what both drivers perform."""
        pool = self.upstreams
        chooser = self.chooser if pool is None else pool.chooser(request)
        call = self._start(request)
        flow = call_flow(self.engine, chooser, policy=self.policy, logger=_log, listener=call)
        deferred = False  # a stream's tap ends the call once the stream has been read
        try:
            step = next(flow)
            while True:
                if isinstance(step, Wait):
                    yield step
                    step = flow.send(None)
                    continue
                if isinstance(step, Reject):
                    call.answer(0, step.failure.kind.value)
                    raise CircuitOpenError(
                        upstream=self.upstream,
                        retry_after=step.failure.retry_after or 0.0,
                        request=httpx2.Request(request.method.upper(), self.base_url + request.url),
                        last_failure=self.last_failure[0],
                    )
                attempt = APIRequest(
                    options=request.options,
                    cast_to=request.cast_to,
                    stream=request.stream,
                    stream_cls=request.stream_cls,
                    retries_taken=step.attempt - 1,
                )
                if step.timeout is not None:
                    attempt = attempt.copy(timeout=step.timeout)
                if pool is not None:
                    attempt = pool.point(attempt, cast(ClientTarget, step.target))
                outcome = yield _Attempt(attempt)
                assert outcome is not None
                failure, headers, status = self._judge(outcome)
                if failure is not None:
                    self.last_failure[0] = failure
                try:
                    step = flow.send(Outcome(failure, headers, status))
                except StopIteration:  # done, or given up: this attempt's answer is the call's
                    deferred = self._answered(call, outcome, failure, status)
                    if outcome.error is not None:
                        raise outcome.error  # noqa: B904 (the SDK's own exception, its cause chain intact)
                    return outcome.response
                if outcome.response is not None:
                    yield _Discard(outcome.response)
        finally:
            flow.close()  # interrupted mid-attempt or mid-wait: the flow frees a half-open probe it may hold
            if not deferred:
                call.end()  # once; a call never answered (the caller went away) ends as client_closed

    @staticmethod
    def _judge(outcome: _Outcome) -> tuple[Failure | None, httpx2.Headers | None, int]:
        if outcome.error is not None:
            return classify(outcome.error), None, 0
        response = outcome.response
        if not isinstance(response, BaseAPIResponse):
            return None, None, 200  # an inner middleware answered with a materialised value
        status = response.status_code
        return classify(status, headers=response.headers, body=outcome.body), response.headers, status

    # --- the sync driver -------------------------------------------------------------------------------------------

    def handle(self, request: APIRequest, call_next: CallNext) -> Any:
        flow = self._steps(request)
        result: _Outcome | None = None
        try:
            while True:
                try:
                    step = flow.send(result)
                except StopIteration as stop:
                    return stop.value
                result = None
                if isinstance(step, Wait):
                    self.clock.sleep(step.delay)
                elif isinstance(step, _Discard):
                    step.response.http_response.close()
                else:
                    result = self._attempt(call_next, step.request)
        finally:
            flow.close()

    @staticmethod
    def _attempt(call_next: CallNext, request: APIRequest) -> _Outcome:
        try:
            response = call_next(request)
        except anthropic.APIConnectionError as exc:
            return _Outcome(error=exc, at=time.monotonic())
        at = time.monotonic()
        if isinstance(response, BaseAPIResponse) and not response.http_response.is_success:
            return _Outcome(response=response, body=response.http_response.read(), at=at)
        if isinstance(response, BaseAPIResponse) and _not_the_api(response.http_response):
            body = response.http_response.read()
            response.http_response.close()
            return _Outcome(error=NotAnthropicResponseError(response.http_response, body), at=at)
        return _Outcome(response=response, at=at)

    # --- the async driver ------------------------------------------------------------------------------------------

    async def handle_async(self, request: APIRequest, call_next: AsyncCallNext) -> Any:
        flow = self._steps(request)
        result: _Outcome | None = None
        try:
            while True:
                try:
                    step = flow.send(result)
                except StopIteration as stop:
                    return stop.value
                result = None
                if isinstance(step, Wait):
                    await self.clock.asleep(step.delay)
                elif isinstance(step, _Discard):
                    await step.response.http_response.aclose()
                else:
                    result = await self._attempt_async(call_next, step.request)
        finally:
            flow.close()

    @staticmethod
    async def _attempt_async(call_next: AsyncCallNext, request: APIRequest) -> _Outcome:
        try:
            response = await call_next(request)
        except anthropic.APIConnectionError as exc:
            return _Outcome(error=exc, at=time.monotonic())
        at = time.monotonic()
        if isinstance(response, BaseAPIResponse) and not response.http_response.is_success:
            return _Outcome(response=response, body=await response.http_response.aread(), at=at)
        if isinstance(response, BaseAPIResponse) and _not_the_api(response.http_response):
            body = await response.http_response.aread()
            await response.http_response.aclose()
            return _Outcome(error=NotAnthropicResponseError(response.http_response, body), at=at)
        return _Outcome(response=response, at=at)


def _json_usage(response: BaseAPIResponse[Any]) -> Usage | None:
    """The usage of a non-streamed answer's JSON body (None when it has none)."""
    with contextlib.suppress(ValueError):
        body = response.http_response.json()
        if isinstance(body, dict) and isinstance(body.get("usage"), dict):
            usage = Usage()
            model = body.get("model")
            usage.model = model if isinstance(model, str) else None
            usage.update(body["usage"])
            return usage
    return None


def _policy_middleware(
    middleware: Sequence[MiddlewareInput] | None,
    policy: Policy | None,
    max_retries: int | None,
    hooks: Hooks | None,
    metrics: Metrics | None = None,
    clock: Clock | None = None,
) -> tuple[_PolicyMiddleware, list[MiddlewareInput]]:
    """The policy middleware for a new client, and the user's middleware without any earlier policy middleware.

    A client made by `copy()` finds its parent's policy middleware in the list and shares its engine (breakers,
    rate-limit state, retry budget), so copies and `with_options` never reset the circuit.
    """
    rest = [m for m in (middleware or ()) if not isinstance(m, _PolicyMiddleware)]
    inherited = next((m for m in (middleware or ()) if isinstance(m, _PolicyMiddleware)), None)
    if inherited is not None:
        return inherited.derive(policy or inherited.policy), rest
    base = policy or Policy()
    if max_retries is not None:
        base = replace(base, max_retries=max_retries)
    clock = clock or Clock()
    engine = PolicyEngine(base, clock=clock.now, wall=clock.wall, hooks=hooks)
    return _PolicyMiddleware(engine, base, CallObservers(metrics=metrics), clock), rest


def _with_metrics(
    hooks: Hooks | None, metrics: Metrics | CollectorRegistry | None
) -> tuple[Hooks | None, Metrics | None]:
    """`hooks` plus the Prometheus adapter for `metrics` (a `claudewire.metrics.Metrics`, or a registry to fill)."""
    if metrics is None:
        return hooks, None
    from claudewire.metrics import Metrics  # prometheus-client is imported only when metrics are asked for

    adapter = metrics if isinstance(metrics, Metrics) else Metrics(metrics)
    return (adapter if hooks is None else MultiHooks(hooks, adapter)), adapter


def _client_telemetry(otlp: str | bool | None, base_url: str) -> ClientTelemetry | None:
    """OTLP export for a client: `otlp` a URL, True or None for the ``OTEL_*`` variables (off when they name no
    endpoint), False for off. Clients exporting the same way share one set of providers."""
    if otlp is False:
        return None
    from claudewire.telemetry import OtlpSettings, check_available, shared

    settings = OtlpSettings.from_env(otlp if isinstance(otlp, str) else None)
    if settings is None:
        return None
    check_available(settings)
    from claudewire.telemetry.genai import ClientTelemetry

    return ClientTelemetry(shared(settings, service="claudewire-client"), base_url)


def _copy_middleware(
    current: _PolicyMiddleware,
    middleware: Sequence[MiddlewareInput],
    policy: Policy | None,
    max_retries: int | NotGiven,
) -> list[MiddlewareInput]:
    new_policy = policy or current.policy
    if not isinstance(max_retries, NotGiven):
        new_policy = replace(new_policy, max_retries=max_retries)
    rest = [m for m in middleware if not isinstance(m, _PolicyMiddleware)]
    return [current.derive(new_policy), *rest]


class _PolicyClient:
    """What claudewire adds to both SDK clients; mixed in before the SDK's class, so `super()` is the SDK's."""

    _claudewire: _PolicyMiddleware
    _middleware: tuple[MiddlewareInput, ...]
    base_url: httpx2.URL

    def __init__(
        self,
        *,
        policy: Policy | None = None,
        hooks: Hooks | None = None,
        metrics: Metrics | CollectorRegistry | None = None,
        clock: Clock | None = None,
        max_retries: int | None = None,
        middleware: Sequence[MiddlewareInput] | None = None,
        upstreams: Sequence[ClientUpstream | Mapping[str, Any]] | None = None,
        otlp: str | bool | None = None,
        **kwargs: Any,
    ) -> None:
        hooks, adapter = _with_metrics(hooks, metrics)
        guard, rest = _policy_middleware(middleware, policy, max_retries, hooks, adapter, clock)
        if upstreams is not None:
            guard.upstreams = ClientUpstreams(upstreams, guard.engine, guard.observers.pool_hooks())
            first = guard.upstreams.first
            kwargs.setdefault("base_url", first.base_url)
            keyed = next((u.api_key for u in guard.upstreams.specs if u.api_key), None)
            if keyed is not None and "auth_token" not in kwargs:
                kwargs.setdefault("api_key", keyed)  # the SDK wants a key; each attempt carries its upstream's
        # the SDK's constructor (next in the MRO): its own retry loop off, the policy as outermost middleware
        cast(Any, super()).__init__(max_retries=0, middleware=[guard, *rest], **kwargs)
        guard.bind(str(self.base_url))
        if guard.observers.telemetry is None:  # a copy keeps its parent's
            guard.observers.telemetry = _client_telemetry(otlp, str(self.base_url))
        if adapter is not None:
            keys = list(guard.upstreams.targets) if guard.upstreams is not None else [guard.upstream]
            for key in keys:
                adapter.register_upstream(key)
        self._claudewire = guard

    @property
    def policy(self) -> Policy:
        """The policy this client applies to every call."""
        return self._claudewire.policy

    @property
    def policy_engine(self) -> PolicyEngine:
        """The engine holding this client's breakers and budget (shared with copies of the same engine-wide
        settings)."""
        return self._claudewire.engine

    def copy(
        self,
        *,
        policy: Policy | None = None,
        max_retries: int | NotGiven = anthropic.NOT_GIVEN,
        middleware: Sequence[MiddlewareInput] | NotGiven = anthropic.NOT_GIVEN,
        **kwargs: Any,
    ) -> Self:
        """A copy with some options changed (as the SDK's `copy`).

        It shares this client's breakers and budget unless `policy` changes engine-wide settings (the breaker, the
        budget, `max_retry_after`): then it gets an engine of its own, so those settings do what they say.
        """
        base = self._middleware if isinstance(middleware, NotGiven) else middleware
        merged = _copy_middleware(self._claudewire, base, policy, max_retries)
        copied: Self = cast(Any, super()).copy(middleware=merged, **kwargs)
        return copied

    with_options = copy


class Anthropic(_PolicyClient, anthropic.Anthropic):  # type: ignore[misc]
    """`anthropic.Anthropic` with claudewire's policy: same constructor, plus `policy`, `hooks` and `metrics`.

    `max_retries`, when given, sets `policy.max_retries`; the SDK's own retry loop is always off underneath.
    `clock` (a `claudewire._clock.Clock`; tests pass `claudewire.testing.FastClock()`) is how the policy reads
    time and waits.
    `upstreams` (`claudewire.client_upstreams.ClientUpstream`s or mappings of base_url, api_key, priority, weight,
    name) gives the client several upstreams with the gateway's failover (see `claudewire.client_upstreams`).
    `metrics` (a `claudewire.metrics.Metrics` or a prometheus-client registry) records the gateway's metric
    families: calls by route, status class and error kind, their latency, attempts, retries, give-ups, breaker
    state, rate-limit headroom, and tokens by model, cache read and write included (a stream's from its
    ``message_start`` and ``message_delta`` usage, counted as it is read).
    `otlp` exports OpenTelemetry GenAI metrics and a span per call (a child per attempt) over OTLP: a URL, or
    None to follow the ``OTEL_EXPORTER_OTLP_*`` variables (off when they name no endpoint); False turns it off.
    Needs the ``otel`` extra; `claudewire.telemetry.flush` exports what is pending.
    """


class AsyncAnthropic(_PolicyClient, anthropic.AsyncAnthropic):  # type: ignore[misc]
    """`anthropic.AsyncAnthropic` with claudewire's policy; see `claudewire.Anthropic` for what it adds."""
