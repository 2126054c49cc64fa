"""/metrics, /healthz, /readyz and the JSON access log of a gateway in front of the simulator."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import anthropic
import httpx2
from prometheus_client.parser import text_string_to_metric_families

from claudewire.gateway import GatewayConfig, GatewayThread
from claudewire.gateway.upstream.specs import UpstreamSpec
from claudewire.testing import FastClock, run_sim
from tests.conftest import SIM_KEY, SIM_MODEL
from tests.gateway.conftest import run_gateway, target_key

MESSAGES = [{"role": "user", "content": "hello"}]


def test_metrics_endpoint_exposes_requests_tokens_ratelimit_and_breaker() -> None:
    """After a call and a stream, /metrics has requests, latency, TTFB, tokens by model and rate-limit headroom."""
    with run_sim(seed=0) as sim, run_gateway(sim.base_url) as gw:
        client = anthropic.Anthropic(base_url=gw.base_url, api_key=SIM_KEY, max_retries=0)
        reply = client.messages.create(model=SIM_MODEL, max_tokens=16, messages=MESSAGES)
        with client.messages.stream(model=SIM_MODEL, max_tokens=16, messages=MESSAGES) as stream:
            streamed = stream.get_final_message()
        response = httpx2.get(gw.base_url + "/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }

    def value(name: str, **labels: str) -> float:
        return samples.get((name, tuple(sorted(labels.items()))), 0.0)

    assert (
        value("claudewire_requests_total", route="messages", dialect="anthropic", status_class="2xx", error_kind="none")
        == 2
    )
    assert value("claudewire_request_duration_seconds_count", route="messages", dialect="anthropic") == 2
    assert value("claudewire_time_to_first_byte_seconds_count", route="messages", dialect="anthropic") == 2
    expected_out = reply.usage.output_tokens + streamed.usage.output_tokens
    assert value("claudewire_tokens_total", model=SIM_MODEL, kind="output") == expected_out
    assert value("claudewire_tokens_total", model=SIM_MODEL, kind="input") == 2 * reply.usage.input_tokens
    upstream = target_key(sim.base_url)
    assert value("claudewire_ratelimit_remaining", upstream=upstream, family="requests") > 0
    assert value("claudewire_breaker_state", upstream=upstream) == 0
    assert value("claudewire_in_flight_requests") == 0
    for labels in (dict(s[1]) for s in samples):
        assert SIM_KEY not in json.dumps(labels)


def test_access_log_has_one_json_line_per_request(access_log: Path) -> None:
    """Each proxied request writes one JSON line with request id, route, model, status, attempts, timings, tokens."""
    with (
        run_sim(seed=0, faults=["529:1.0,count=1"]) as sim,
        run_gateway(sim.base_url, access_log=str(access_log)) as gw,
    ):
        client = anthropic.Anthropic(base_url=gw.base_url, api_key=SIM_KEY, max_retries=0)
        client.messages.create(model=SIM_MODEL, max_tokens=16, messages=MESSAGES)
        client.messages.count_tokens(model=SIM_MODEL, messages=MESSAGES)
        httpx2.get(gw.base_url + "/healthz")
        deadline = time.monotonic() + 5
        while access_log.read_text().count("\n") < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    lines = [json.loads(line) for line in access_log.read_text().splitlines()]
    assert [line["route"] for line in lines] == ["messages", "count_tokens"]
    first = lines[0]
    assert first["status"] == 200 and first["attempts"] == 2 and first["model"] == SIM_MODEL
    assert first["request_id"].startswith("req_") and first["path"] == "/v1/messages"
    assert first["output_tokens"] > 0 and first["duration_ms"] >= first["ttfb_ms"] > 0
    assert SIM_KEY not in access_log.read_text()


def test_the_access_log_names_the_upstream_that_served_and_every_upstream_tried(access_log: Path) -> None:
    """First upstream dead, second healthy: the line says tried ["a", "b"], upstream "b", attempts 2."""
    with socket.socket() as s:  # a port where nothing listens: connections are refused
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    with run_sim(seed=0) as sim:
        specs = (UpstreamSpec("a", dead), UpstreamSpec("b", sim.base_url, priority=1))
        config = GatewayConfig(upstreams=specs, port=0, access_log=str(access_log))
        with GatewayThread(config, clock=FastClock()) as gw:
            client = anthropic.Anthropic(base_url=gw.base_url, api_key=SIM_KEY, max_retries=0)
            client.messages.create(model=SIM_MODEL, max_tokens=16, messages=MESSAGES)
            deadline = time.monotonic() + 5
            while not access_log.read_text() and time.monotonic() < deadline:
                time.sleep(0.05)
    line = json.loads(access_log.read_text().splitlines()[0])
    assert (line["tried"], line["upstream"], line["attempts"], line["status"]) == (["a", "b"], "b", 2, 200)
    assert line["dialect"] == "anthropic" and line["client"] is None
