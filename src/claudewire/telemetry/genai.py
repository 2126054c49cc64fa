"""OpenTelemetry GenAI semantic conventions for the gateway: a span per request, a child per upstream attempt, metrics.

Names and attributes follow open-telemetry/semantic-conventions (docs/gen-ai, Anthropic flavour):

- metrics: ``gen_ai.client.token.usage`` (the gateway is the API's client; ``gen_ai.token.type`` ``input`` or
  ``output``), ``gen_ai.server.request.duration`` and ``gen_ai.server.time_to_first_token`` (the gateway serves its
  callers), with ``gen_ai.operation.name``, ``gen_ai.provider.name``, ``gen_ai.request.model``,
  ``gen_ai.response.model``, ``server.address``/``server.port`` of the upstream and ``error.type`` (a claudewire
  failure kind: ``overloaded``, ``rate_limit``, ``read_timeout`` ...) on failures.
- the convention's input sum: Anthropic's ``input_tokens`` leaves the cached prefix out, so ``input`` is
  ``input_tokens + cache_read_input_tokens + cache_creation_input_tokens``. The cache tokens are exported apart in
  ``claudewire.prompt_cache.token.usage`` (``gen_ai.token.type`` ``cache_read`` / ``cache_creation``) and on spans
  as ``gen_ai.usage.cache_read.input_tokens`` / ``gen_ai.usage.cache_creation.input_tokens``.
- traces: the request span (SERVER, ``{operation} {model}``) continues a caller's W3C ``traceparent``; each upstream
  attempt is a CLIENT child with ``claudewire.attempt``, ``claudewire.upstream``, ``claudewire.breaker.state``,
  ``http.response.status_code``, ``error.type`` and, when it was retried, ``claudewire.retry.reason`` and
  ``claudewire.retry.backoff``. Rate-limit holds are events on the request span. Prompts are recorded
  (``gen_ai.input.messages``, ``gen_ai.system_instructions``) only when
  ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true``; completions never (streams pass through untouched).
"""

from __future__ import annotations

import json
import logging
from typing import Any, Protocol

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from claudewire._errors import Failure
from claudewire._net import origin
from claudewire.telemetry.otlp import Providers

__all__ = ["PROVIDER_NAMES", "CallTrace", "ClientTelemetry", "GatewayTelemetry", "UsageLike"]

_log = logging.getLogger(__name__)

PROVIDER_NAMES: dict[str, str] = {
    "anthropic": "anthropic",
    "bedrock": "aws.bedrock",
    "vertex": "gcp.vertex_ai",
    "foundry": "azure.ai.inference",
}
"""Upstream kind → ``gen_ai.provider.name`` (the convention's well-known values)."""

_TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
_DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
_TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
_CONTENT_LIMIT = 64 * 1024  # characters of captured prompt per attribute
_PROPAGATOR = TraceContextTextMapPropagator()


class UsageLike(Protocol):
    """The usage of one response, as the gateway's stream scanner and JSON reader find it."""

    model: str | None
    input_tokens: int
    output_tokens: int
    cache_read: int
    cache_creation: int


def _operation(route: str) -> str:
    return "chat" if route == "messages" else route


class GatewayTelemetry:
    """The instruments of one gateway process, exporting through `providers` for the upstream at `upstream_url`.

    `ClientTelemetry` is the same for `claudewire.Anthropic`: its call span is a CLIENT span in the caller's
    current trace, and its duration is ``gen_ai.client.operation.duration``.
    """

    scope = "claudewire.gateway"
    span_kind = SpanKind.SERVER
    duration_name = "gen_ai.server.request.duration"
    duration_description = "Generative AI server request duration such as time-to-last byte or last output token."

    def __init__(self, providers: Providers, upstream_url: str, *, kind: str = "anthropic") -> None:
        self.providers = providers
        self.capture_content = providers.settings.capture_content
        try:
            where = origin(upstream_url)
            self.server_address, self.server_port = where.host, where.port
        except ValueError:  # the gateway checked its upstreams at start; nothing to name otherwise
            self.server_address, self.server_port = "", 0
        self.provider_name = PROVIDER_NAMES.get(kind, kind)
        self.tracer = providers.tracer_provider.get_tracer(self.scope)
        meter = providers.meter_provider.get_meter(self.scope)
        self.token_usage = meter.create_histogram(
            "gen_ai.client.token.usage",
            "{token}",
            "Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=_TOKEN_BUCKETS,
        )
        self.cache_usage = meter.create_histogram(
            "claudewire.prompt_cache.token.usage",
            "{token}",
            "Prompt tokens read from (cache_read) or written to (cache_creation) the provider's prompt cache; "
            "already counted in gen_ai.client.token.usage's input.",
            explicit_bucket_boundaries_advisory=_TOKEN_BUCKETS,
        )
        self.duration = meter.create_histogram(
            self.duration_name,
            "s",
            self.duration_description,
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )
        self.ttft = meter.create_histogram(
            "gen_ai.server.time_to_first_token",
            "s",
            "Time to generate first token for successful responses.",
            explicit_bucket_boundaries_advisory=_TTFT_BUCKETS,
        )

    def call(
        self,
        route: str,
        model: str | None,
        *,
        stream: bool,
        traceparent: str | None,
        tracestate: str | None,
        body: bytes,
    ) -> CallTrace:
        """Start the span of one request (the caller's trace continued when it sent a valid ``traceparent``)."""
        carrier = {k: v for k, v in (("traceparent", traceparent), ("tracestate", tracestate)) if v}
        parent = _PROPAGATOR.extract(carrier) if carrier else None
        return CallTrace(self, route, model, stream, parent, body)

    def shutdown(self) -> None:
        """Flush and stop the exporters."""
        self.providers.shutdown()


class ClientTelemetry(GatewayTelemetry):
    """The instruments of `claudewire.Anthropic` clients: a CLIENT call span, ``gen_ai.client.*`` metrics."""

    scope = "claudewire.client"
    span_kind = SpanKind.CLIENT
    duration_name = "gen_ai.client.operation.duration"
    duration_description = "GenAI operation duration."


def _content(body: bytes) -> dict[str, str]:
    try:
        parsed = json.loads(body)
    except ValueError:
        return {}
    if not isinstance(parsed, dict):
        return {}
    out: dict[str, str] = {}
    if "messages" in parsed:
        out["gen_ai.input.messages"] = json.dumps(parsed["messages"])[:_CONTENT_LIMIT]
    if "system" in parsed:
        out["gen_ai.system_instructions"] = json.dumps(parsed["system"])[:_CONTENT_LIMIT]
    return out


class CallTrace:
    """One request's span and its attempts' spans; `claudewire.calls.Call` reports each step of the call flow."""

    def __init__(
        self, owner: GatewayTelemetry, route: str, model: str | None, stream: bool, parent: Any, body: bytes
    ) -> None:
        self.owner = owner
        self.route = route
        self.operation = _operation(route)
        self.model = model
        self.stream = stream
        self._parent_context = parent
        name = f"{self.operation} {model}" if model else self.operation
        self.name = name
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": self.operation,
            "gen_ai.provider.name": owner.provider_name,
            "server.address": owner.server_address,
            "server.port": owner.server_port,
            "claudewire.stream": stream,
        }
        if model:
            attributes["gen_ai.request.model"] = model
        if owner.capture_content:
            attributes.update(_content(body))
        self.span: Span = owner.tracer.start_span(name, context=parent, kind=owner.span_kind, attributes=attributes)
        self.recording = self.span.is_recording()  # False when sampled out: no attempt spans, no attributes
        self.finished = False
        self._attempt: Span | None = None
        self._attempt_failure: Failure | None = None

    def attempt(
        self, number: int, upstream: str, breaker_state: str, address: str | None = None, port: int | None = None
    ) -> None:
        """Attempt `number` is about to be sent to `upstream` (its breaker in `breaker_state`) at `address`:`port`."""
        if self._attempt is not None:  # moved on at once (failover): the previous attempt was retried without a wait
            self._end_attempt(retried_after=0.0)
        if not self.recording:
            return
        ctx = trace.set_span_in_context(self.span)
        # only what differs from the request span: every attribute costs on the hot path (bench/telemetry.py)
        attributes: dict[str, Any] = {
            "server.address": address or self.owner.server_address,
            "server.port": port or self.owner.server_port,
            "claudewire.attempt": number,
            "claudewire.upstream": upstream,
            "claudewire.breaker.state": breaker_state,
        }
        tracer = self.owner.tracer
        self._attempt = tracer.start_span(self.name, context=ctx, kind=SpanKind.CLIENT, attributes=attributes)
        self._attempt_failure = None

    def attempt_done(self, status: int, failure: Failure | None) -> None:
        """The attempt's answer was judged: `status` (0 when none came) and its failure, None on success."""
        span = self._attempt
        if span is None:
            return
        if status:
            span.set_attribute("http.response.status_code", status)
        if failure is not None:
            span.set_attribute("error.type", str(failure.kind))
            span.set_status(Status(StatusCode.ERROR, failure.cause[:200] if failure.cause else None))
        self._attempt_failure = failure

    def waiting(self, delay: float, failure: Failure | None) -> None:
        """The flow waits `delay` s: a retry's backoff after `failure`, or (failure None) a rate-limit hold."""
        if failure is not None and self._attempt is not None:
            self._end_attempt(retried_after=delay, reason=failure)
        else:
            self.span.add_event("claudewire.ratelimit.wait", {"claudewire.wait": delay})

    def _end_attempt(self, *, retried_after: float, reason: Failure | None = None) -> None:
        span, self._attempt = self._attempt, None
        if span is None:
            return
        reason = reason or self._attempt_failure
        if reason is not None:
            span.set_attribute("claudewire.retry.reason", str(reason.kind))
        span.set_attribute("claudewire.retry.backoff", retried_after)
        span.end()

    def finish(
        self, status: int, error: str, usage: UsageLike | None, duration: float, ttfb: float | None, attempts: int
    ) -> None:
        """The request was answered (or abandoned): end the spans and record the metrics (once)."""
        if self.finished:
            return
        self.finished = True
        try:
            self._finish(status, error, usage, duration, ttfb, attempts)
        except Exception:  # telemetry must never break an answered request
            _log.exception("recording the OpenTelemetry data of a request failed")

    def _finish(
        self, status: int, error: str, usage: UsageLike | None, duration: float, ttfb: float | None, attempts: int
    ) -> None:
        if self._attempt is not None:
            self._attempt.end()
            self._attempt = None
        span = self.span
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": self.operation,
            "gen_ai.provider.name": self.owner.provider_name,
            "server.address": self.owner.server_address,
            "server.port": self.owner.server_port,
        }
        if self.model:
            attributes["gen_ai.request.model"] = self.model
        response_model = usage.model if usage is not None and usage.model else None
        if response_model:
            attributes["gen_ai.response.model"] = response_model
        if error:
            attributes["error.type"] = error
        prompt = usage.input_tokens + usage.cache_read + usage.cache_creation if usage is not None else 0
        if self.recording:  # a sampled-out span would drop these: not worth building them
            span.set_attribute("claudewire.attempts", attempts)
            if status:
                span.set_attribute("http.response.status_code", status)
            if error:
                span.set_status(Status(StatusCode.ERROR))
            span.set_attributes({k: v for k, v in attributes.items() if k.startswith(("error.", "gen_ai.response."))})
            if usage is not None:
                span.set_attributes(
                    {
                        "gen_ai.usage.input_tokens": prompt,  # the convention's input sum
                        "gen_ai.usage.output_tokens": usage.output_tokens,
                        "gen_ai.usage.cache_read.input_tokens": usage.cache_read,
                        "gen_ai.usage.cache_creation.input_tokens": usage.cache_creation,
                    }
                )
        span.end()
        if self.route != "messages":
            return
        self.owner.duration.record(duration, attributes)
        if error:
            return
        if self.stream and ttfb is not None and self.owner.span_kind is SpanKind.SERVER:
            self.owner.ttft.record(ttfb, attributes)
        if usage is not None and (usage.input_tokens or usage.output_tokens or usage.cache_read):
            tokens = self.owner.token_usage
            tokens.record(prompt, attributes | {"gen_ai.token.type": "input"})
            tokens.record(usage.output_tokens, attributes | {"gen_ai.token.type": "output"})
            cache = self.owner.cache_usage  # zeros are not recorded: each data point costs (bench/telemetry.py)
            if usage.cache_read:
                cache.record(usage.cache_read, attributes | {"gen_ai.token.type": "cache_read"})
            if usage.cache_creation:
                cache.record(usage.cache_creation, attributes | {"gen_ai.token.type": "cache_creation"})
