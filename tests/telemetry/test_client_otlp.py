"""claudewire.Anthropic(otlp=URL): a CLIENT span per call in the caller's trace, attempts under it, GenAI metrics."""

from __future__ import annotations

from opentelemetry.proto.trace.v1.trace_pb2 import Span
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import use_span

import claudewire
from claudewire.telemetry import flush, shutdown
from claudewire.testing import FastClock, run_sim
from tests.conftest import SIM_KEY, SIM_MODEL
from tests.telemetry.receiver import Receiver, attributes, iter_points

MSG = [{"role": "user", "content": "hello"}]


def test_client_spans_continue_the_callers_trace_and_streams_finish_with_their_usage() -> None:
    """A retried call inside the app's span: one call span (its child) with two attempts; a stream's usage counts."""
    app_tracer = TracerProvider().get_tracer("the-app")
    with Receiver() as receiver, run_sim(seed=0, faults=["529:1,count=1"]) as sim:
        client = claudewire.Anthropic(base_url=sim.base_url, api_key=SIM_KEY, clock=FastClock(), otlp=receiver.url)
        with app_tracer.start_as_current_span("handle-request") as app_span, use_span(app_span):
            reply = client.messages.create(model=SIM_MODEL, max_tokens=16, messages=MSG)
        with client.messages.stream(model=SIM_MODEL, max_tokens=16, messages=MSG) as stream:
            streamed = stream.get_final_message()
        try:
            flush()
            receiver.wait_for(lambda: len([s for s in receiver.spans() if s.kind == Span.SPAN_KIND_CLIENT]) >= 5)
        finally:
            shutdown()  # before the receiver goes: nothing left to export at exit
        spans = receiver.spans()
        points = receiver.data_points("gen_ai.client.token.usage")
        durations = receiver.data_points("gen_ai.client.operation.duration")
    app = app_span.get_span_context()
    calls = [s for s in spans if s.parent_span_id.hex() == format(app.span_id, "016x")]
    assert len(calls) == 1 and calls[0].trace_id.hex() == format(app.trace_id, "032x")
    call = calls[0]
    tries = [s for s in spans if s.parent_span_id == call.span_id]
    assert sorted(attributes(t.attributes)["claudewire.attempt"] for t in tries) == [1, 2]
    assert {attributes(t.attributes).get("error.type") for t in tries} == {"overloaded", None}
    top = attributes(call.attributes)
    assert top["gen_ai.provider.name"] == "anthropic" and top["gen_ai.request.model"] == SIM_MODEL
    assert top["gen_ai.usage.output_tokens"] == reply.usage.output_tokens
    other = next(s for s in spans if s.kind == Span.SPAN_KIND_CLIENT and s.parent_span_id == b"" and s is not call)
    assert attributes(other.attributes)["gen_ai.usage.output_tokens"] == streamed.usage.output_tokens  # from the tap
    tokens = {a["gen_ai.token.type"]: p.sum for a, p in iter_points(points)}
    assert tokens["output"] == reply.usage.output_tokens + streamed.usage.output_tokens
    assert sum(p.count for _, p in iter_points(durations)) == 2


def test_no_endpoint_means_no_export() -> None:
    """Without otlp= and without OTEL_* endpoint variables a client has no telemetry at all."""
    client = claudewire.Anthropic(base_url="http://127.0.0.1:9", api_key=SIM_KEY)
    assert client._claudewire.observers.telemetry is None
    off = claudewire.Anthropic(base_url="http://127.0.0.1:9", api_key=SIM_KEY, otlp=False)
    assert off._claudewire.observers.telemetry is None
