"""The gateway's OTLP/HTTP export, received on 127.0.0.1 and decoded with opentelemetry-proto."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from claudewire.gateway import ConfigError, GatewayConfig, GatewayThread
from claudewire.telemetry import OtlpSettings, OtlpUnavailableError
from claudewire.testing import FastClock, run_sim
from tests.conftest import SIM_KEY, SIM_MODEL
from tests.gateway.conftest import ROOMY
from tests.telemetry.receiver import GrpcReceiver, Receiver, attributes, iter_points

LONG = "A long system prompt that every request of this test repeats, so the simulator caches it. " * 300
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


def _body(question: str) -> dict[str, Any]:
    system = [{"type": "text", "text": LONG, "cache_control": {"type": "ephemeral"}}]
    return {"model": SIM_MODEL, "max_tokens": 16, "system": system, "messages": [{"role": "user", "content": question}]}


def _traffic(receiver: Receiver | GrpcReceiver, **config: Any) -> tuple[Any, Any]:
    """A retried call (529 once) with a traceparent, then a streamed repeat; the usages the SDK saw."""
    with run_sim(seed=0, faults=["529:1,count=1"]) as sim:
        gw_config = GatewayConfig(upstream=sim.base_url, port=0, access_log=None, policy=ROOMY, **config)
        with GatewayThread(gw_config, clock=FastClock()) as gw:
            client = anthropic.Anthropic(base_url=gw.base_url, api_key=SIM_KEY, max_retries=0)
            traceparent = f"00-{TRACE_ID}-{PARENT_ID}-01"
            first = client.messages.create(**_body("First?"), extra_headers={"traceparent": traceparent}).usage
            with client.messages.stream(**_body("Second?")) as stream:
                second = stream.get_final_message().usage
            # OTEL_METRIC_EXPORT_INTERVAL is 200 ms here: metrics arrive while the gateway still runs
            receiver.wait_for(lambda: len(receiver.data_points("gen_ai.client.token.usage")) >= 2)
        # stopping the gateway flushed the spans
    return first, second


def _by_kind(spans: list[Any], kind: int) -> list[Any]:
    return [s for s in spans if s.kind == kind]


def test_spans_metrics_and_the_callers_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    """Request spans continue the traceparent, a retried call has two attempt spans, GenAI metrics add up."""
    monkeypatch.setenv("OTEL_METRIC_EXPORT_INTERVAL", "200")
    with Receiver() as receiver:
        first, second = _traffic(receiver, otlp=receiver.url)
        spans = receiver.spans()
    assert receiver.content_types == {"application/x-protobuf"}
    requests = _by_kind(spans, Span.SPAN_KIND_SERVER)
    attempts = _by_kind(spans, Span.SPAN_KIND_CLIENT)
    assert len(requests) == 2 and len(attempts) == 3
    retried = next(s for s in requests if s.trace_id.hex() == TRACE_ID)
    assert retried.parent_span_id.hex() == PARENT_ID  # the caller's span is the parent
    tries = sorted((s for s in attempts if s.parent_span_id == retried.span_id), key=lambda s: s.start_time_unix_nano)
    assert len(tries) == 2
    failed, ok = attributes(tries[0].attributes), attributes(tries[1].attributes)
    assert failed["claudewire.attempt"] == 1 and ok["claudewire.attempt"] == 2
    assert failed["http.response.status_code"] == 529 and failed["error.type"] == "overloaded"
    assert failed["claudewire.retry.reason"] == "overloaded" and failed["claudewire.retry.backoff"] >= 0
    assert failed["claudewire.breaker.state"] == "closed"
    assert ok["http.response.status_code"] == 200 and "error.type" not in ok
    assert tries[0].status.code == 2  # STATUS_CODE_ERROR

    top = attributes(retried.attributes)
    assert retried.name == f"chat {SIM_MODEL}"
    assert top["gen_ai.operation.name"] == "chat" and top["gen_ai.provider.name"] == "anthropic"
    assert top["gen_ai.request.model"] == SIM_MODEL and top["gen_ai.response.model"] == SIM_MODEL
    assert top["server.address"] == "127.0.0.1" and top["claudewire.attempts"] == 2
    whole = first.input_tokens + first.cache_creation_input_tokens + (first.cache_read_input_tokens or 0)
    assert top["gen_ai.usage.input_tokens"] == whole  # the convention's sum: cache tokens included
    assert top["gen_ai.usage.cache_creation.input_tokens"] == first.cache_creation_input_tokens > 0
    assert top["gen_ai.usage.output_tokens"] == first.output_tokens
    assert not any(k.startswith(("gen_ai.input", "gen_ai.system")) for k in top)  # no content unless enabled
    other = next(s for s in requests if s is not retried)
    assert attributes(other.attributes)["gen_ai.usage.cache_read.input_tokens"] == second.cache_read_input_tokens > 0
    assert other.trace_id != retried.trace_id  # no traceparent: a trace of its own

    tokens = {(a["gen_ai.token.type"], a["gen_ai.request.model"]): p.sum for a, p in
              iter_points(receiver.data_points("gen_ai.client.token.usage"))}  # fmt: skip
    prompts = [u.input_tokens + (u.cache_creation_input_tokens or 0) + (u.cache_read_input_tokens or 0)
               for u in (first, second)]  # fmt: skip
    assert tokens[("input", SIM_MODEL)] == sum(prompts)
    assert tokens[("output", SIM_MODEL)] == first.output_tokens + second.output_tokens
    cache = {
        a["gen_ai.token.type"]: p.sum
        for a, p in iter_points(receiver.data_points("claudewire.prompt_cache.token.usage"))
    }
    assert cache == {"cache_read": second.cache_read_input_tokens, "cache_creation": first.cache_creation_input_tokens}
    durations = list(iter_points(receiver.data_points("gen_ai.server.request.duration")))
    assert sum(p.count for _, p in durations) == 2
    assert all(a["gen_ai.provider.name"] == "anthropic" and a["server.port"] > 0 for a, _ in durations)
    ttft = list(iter_points(receiver.data_points("gen_ai.server.time_to_first_token")))
    assert sum(p.count for _, p in ttft) == 1  # the stream only
    assert {"service.name": "claudewire-gateway"}.items() <= receiver.resource_attributes()[0].items()


def test_grpc_export_reaches_an_otlp_grpc_collector(monkeypatch: pytest.MonkeyPatch) -> None:
    """OTEL_EXPORTER_OTLP_PROTOCOL=grpc (the otel-grpc extra) sends the same spans and metrics over OTLP/gRPC."""
    pytest.importorskip("grpc", reason="the otel-grpc extra (grpcio) is not installed")
    monkeypatch.setenv("OTEL_METRIC_EXPORT_INTERVAL", "200")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    with GrpcReceiver() as receiver:
        first, second = _traffic(receiver, otlp=receiver.url)
        spans = receiver.spans()
    assert {"TraceService/Export", "MetricsService/Export"} <= set(receiver.paths)
    requests = _by_kind(spans, Span.SPAN_KIND_SERVER)
    assert len(requests) == 2 and len(_by_kind(spans, Span.SPAN_KIND_CLIENT)) == 3
    retried = next(s for s in requests if s.trace_id.hex() == TRACE_ID)
    assert retried.parent_span_id.hex() == PARENT_ID
    tokens = {a["gen_ai.token.type"]: p.sum for a, p in iter_points(receiver.data_points("gen_ai.client.token.usage"))}
    assert tokens["output"] == first.output_tokens + second.output_tokens


def test_sampled_out_traces_keep_every_metric(monkeypatch: pytest.MonkeyPatch) -> None:
    """OTEL_TRACES_SAMPLER=always_off exports no span at all, yet the GenAI metrics count every request."""
    monkeypatch.setenv("OTEL_METRIC_EXPORT_INTERVAL", "200")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_off")
    with Receiver() as receiver:
        first, second = _traffic(receiver, otlp=receiver.url)
        assert receiver.spans() == []
    tokens = {a["gen_ai.token.type"]: p.sum for a, p in iter_points(receiver.data_points("gen_ai.client.token.usage"))}
    assert tokens["output"] == first.output_tokens + second.output_tokens
    durations = list(iter_points(receiver.data_points("gen_ai.server.request.duration")))
    assert sum(p.count for _, p in durations) == 2


def test_prompts_are_recorded_only_when_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    """OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true puts the messages and system on the request span."""
    monkeypatch.setenv("OTEL_METRIC_EXPORT_INTERVAL", "200")
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    with Receiver() as receiver:
        _traffic(receiver, otlp=receiver.url)
        spans = receiver.spans()
    top = attributes(_by_kind(spans, Span.SPAN_KIND_SERVER)[0].attributes)
    assert "First?" in top["gen_ai.input.messages"]
    assert "long system prompt" in top["gen_ai.system_instructions"]


def test_the_standard_endpoint_variable_switches_export_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --otlp, OTEL_EXPORTER_OTLP_ENDPOINT alone makes the gateway export (to its /v1/* paths)."""
    monkeypatch.setenv("OTEL_METRIC_EXPORT_INTERVAL", "200")
    with Receiver() as receiver:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
        _traffic(receiver)
        assert {"/v1/metrics", "/v1/traces"} <= set(receiver.paths)


def test_settings_follow_the_otel_variables() -> None:
    """Off without an endpoint or with OTEL_SDK_DISABLED; --otlp wins; a bad protocol or URL is a clear error."""
    assert OtlpSettings.from_env(env={}) is None
    assert (
        OtlpSettings.from_env(env={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}) is None
    )
    on = OtlpSettings.from_env(env={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"})
    assert on is not None and on.endpoint is None and on.protocol == "http/protobuf"  # the SDK reads the variable
    assert OtlpSettings.from_env("http://x:4318/", env={}) == OtlpSettings("http://x:4318")
    traces_only = OtlpSettings.from_env(env={"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"})
    assert traces_only is not None
    with pytest.raises(OtlpUnavailableError, match="http/json"):
        OtlpSettings.from_env(
            env={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}
        )
    with pytest.raises(OtlpUnavailableError, match="http:// or https://"):
        OtlpSettings.from_env("collector:4318", env={})


def test_a_bad_otlp_setting_stops_the_gateway_before_it_starts() -> None:
    """--otlp with a URL that is not http(s) is a ConfigError when the configuration is made, naming the problem."""
    with pytest.raises(ConfigError, match="OTLP endpoint"):
        GatewayConfig(otlp="collector:4318", access_log=None)
