"""One call record: the same call through `claudewire.Anthropic` and through the gateway is observed the same way.

Each scenario runs twice on fresh simulators: once through the client (``upstreams=``, ``metrics=``, telemetry on
an in-memory exporter) and once through the gateway in front of the same upstreams (an unwrapped SDK as its
caller). The metric values and the attributes of the attempt spans must be equal.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import anthropic
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

import claudewire
from claudewire.calls import CallObservers, CallRecord
from claudewire.gateway import GatewayConfig, GatewayThread
from claudewire.gateway.upstream.specs import UpstreamSpec
from claudewire.metrics import Metrics
from claudewire.policy import Policy, RetryBudget
from claudewire.telemetry.genai import ClientTelemetry, GatewayTelemetry
from claudewire.telemetry.otlp import OtlpSettings, Providers
from claudewire.testing import FastClock, run_sim
from tests.conftest import SIM_KEY, SIM_MODEL

MESSAGES: list[Any] = [{"role": "user", "content": "hello"}]
ROOMY = Policy(retry_budget=RetryBudget(min_retries=1000))
# the families both drivers feed; requests are compared by route and error kind (a rejected call has no HTTP
# status in the client: it raises CircuitOpenError, where the gateway answers 529)
FAMILIES = (
    "claudewire_upstream_failovers_total",
    "claudewire_upstream_requests_total",
    "claudewire_upstream_attempts_total",
    "claudewire_upstream_retries_total",
    "claudewire_upstream_give_ups_total",
    "claudewire_breaker_state",
    "claudewire_tokens_total",
)
SPAN_KEYS = (
    "claudewire.attempt",
    "claudewire.upstream",
    "claudewire.breaker.state",
    "server.address",
    "server.port",
    "http.response.status_code",
    "error.type",
    "claudewire.retry.reason",
)


def _dead_url() -> str:
    """An http URL on 127.0.0.1 where nothing listens (connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _providers() -> tuple[Providers, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracer = TracerProvider()
    tracer.add_span_processor(SimpleSpanProcessor(exporter))
    return Providers(MeterProvider(), tracer, OtlpSettings(None)), exporter


@dataclass
class Seen:
    """What one run left behind: metric samples of `FAMILIES`, requests by (route, error kind), attempt spans."""

    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = field(default_factory=dict)
    requests: dict[tuple[str, str], float] = field(default_factory=dict)
    attempts: list[dict[str, Any]] = field(default_factory=list)


def _seen(metrics: Metrics, spans: tuple[ReadableSpan, ...], urls: list[str]) -> Seen:
    """The run's `Seen`; an attempt's ``server.port`` becomes the position of its upstream in `urls` (the fresh
    simulators of the two runs have different ports)."""
    ports = [int(url.rsplit(":", 1)[1]) for url in urls]
    seen = Seen()
    for family in text_string_to_metric_families(metrics.render().decode()):
        for s in family.samples:
            if s.name in FAMILIES and s.value:
                seen.samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
            if s.name == "claudewire_requests_total":
                key = (s.labels["route"], s.labels["error_kind"])
                seen.requests[key] = seen.requests.get(key, 0.0) + s.value
    attempts = [s for s in spans if s.attributes is not None and "claudewire.attempt" in s.attributes]
    for span in sorted(attempts, key=lambda s: s.start_time or 0):
        attributes = dict(span.attributes or {})
        attempt = {k: attributes[k] for k in SPAN_KEYS if k in attributes}
        attempt["server.port"] = ports.index(int(attempt["server.port"]))
        seen.attempts.append(attempt)
    return seen


def _through_client(urls: list[str], policy: Policy, calls: int) -> Seen:
    metrics = Metrics()
    providers, exporter = _providers()
    named = enumerate(zip("ab", urls, strict=False))
    upstreams = [{"base_url": url, "name": name, "priority": i} for i, (name, url) in named]
    client = claudewire.Anthropic(
        upstreams=upstreams, api_key=SIM_KEY, metrics=metrics, clock=FastClock(), policy=policy, otlp=False
    )
    client._claudewire.observers.telemetry = ClientTelemetry(providers, urls[0])
    for _ in range(calls):
        with contextlib.suppress(anthropic.APIError):
            client.messages.create(model=SIM_MODEL, max_tokens=16, messages=MESSAGES)
    return _seen(metrics, exporter.get_finished_spans(), urls)


def _through_gateway(urls: list[str], policy: Policy, calls: int) -> Seen:
    specs = tuple(UpstreamSpec(name, url, priority=i) for i, (name, url) in enumerate(zip("ab", urls, strict=False)))
    providers, exporter = _providers()
    config = GatewayConfig(upstreams=specs, port=0, policy=policy, access_log=None)
    with GatewayThread(config, clock=FastClock()) as gw:
        assert gw.gateway is not None
        gw.gateway.observers.telemetry = GatewayTelemetry(providers, urls[0])
        sdk = anthropic.Anthropic(base_url=gw.base_url, api_key=SIM_KEY, max_retries=0)
        for _ in range(calls):
            with contextlib.suppress(anthropic.APIError):
                sdk.messages.create(model=SIM_MODEL, max_tokens=16, messages=MESSAGES)
        return _seen(gw.gateway.metrics, exporter.get_finished_spans(), urls)


@contextlib.contextmanager
def _failover() -> Iterator[list[str]]:
    with run_sim(seed=1) as healthy:
        yield [_dead_url(), healthy.base_url]


@contextlib.contextmanager
def _retry_after_529() -> Iterator[list[str]]:
    with run_sim(seed=1, faults=["529:1.0,count=1"]) as flaky:
        yield [flaky.base_url]


@contextlib.contextmanager
def _open_breaker() -> Iterator[list[str]]:
    with run_sim(seed=1, faults=["529:1.0"]) as down:
        yield [down.base_url]


BREAKER = Policy(max_retries=0, breaker_failures=1, breaker_cooldown=600.0, breaker_probe_after=None)
SCENARIOS = {
    "failover": (_failover, ROOMY, 1),
    "retry-after-529": (_retry_after_529, ROOMY, 1),
    "rejected-by-open-breaker": (_open_breaker, BREAKER, 2),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_client_and_gateway_observe_the_same_call_the_same_way(scenario: str) -> None:
    """Failover, a retry after a 529, a call rejected by an open breaker: equal metrics and attempt spans."""
    upstreams, policy, calls = SCENARIOS[scenario]
    with upstreams() as urls:
        client = _through_client(urls, policy, calls)
    with upstreams() as urls:
        gateway = _through_gateway(urls, policy, calls)
    assert client.samples == gateway.samples
    assert client.requests == gateway.requests
    assert client.attempts == gateway.attempts
    assert client.attempts  # every scenario sent at least one attempt


def test_failover_is_counted_and_each_attempt_names_its_upstream() -> None:
    """First upstream dead, second healthy: one failover a -> b, b served, two attempts naming a#0 then b#0."""
    with _failover() as urls:
        seen = _through_client(urls, ROOMY, 1)
    failovers = {k: v for k, v in seen.samples.items() if k[0] == "claudewire_upstream_failovers_total"}
    assert [dict(k[1])["from"] + ">" + dict(k[1])["to"] for k in failovers] == ["a>b"]
    served = {dict(k[1])["upstream"] for k in seen.samples if k[0] == "claudewire_upstream_requests_total"}
    assert served == {"b"}
    assert [a["claudewire.upstream"] for a in seen.attempts] == ["a#0", "b#0"]
    assert "error.type" in seen.attempts[0] and "error.type" not in seen.attempts[1]


class Ring:
    """A sink keeping every record it is told of."""

    def __init__(self) -> None:
        self.records: list[CallRecord] = []

    def on_call(self, record: CallRecord) -> None:
        self.records.append(record)


def test_a_new_kind_of_call_is_observed_by_starting_a_record() -> None:
    """A call of another dialect, ended twice: metrics and sinks hear of it once, with its dialect and client."""
    ring = Ring()
    metrics = Metrics()
    observers = CallObservers(metrics=metrics, sinks=[ring])
    call = observers.start("POST", "/v1/chat/completions", dialect="chat", client="ci", model="m")
    call.answer(200)
    call.end()
    call.end()
    assert [(r.dialect, r.client, r.status) for r in ring.records] == [("chat", "ci", 200)]
    assert (
        metrics.registry.get_sample_value(
            "claudewire_requests_total",
            {"route": "messages", "dialect": "chat", "status_class": "2xx", "error_kind": "none"},
        )
        == 1.0
    )
    assert observers.in_flight == 0
