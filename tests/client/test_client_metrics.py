"""claudewire.Anthropic(metrics=...): the client records the gateway's metric families through the policy hooks."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import anthropic
import pytest
from prometheus_client import CollectorRegistry, start_http_server

import claudewire
from claudewire._errors import Failure
from claudewire.metrics import Metrics
from claudewire.policy import Hooks, Policy, upstream_key
from claudewire.sim.config import Pacing
from claudewire.testing import FastClock, run_sim
from claudewire.top import Watch, fetch, parse
from tests.conftest import SIM_KEY, SIM_MODEL

MSG = [{"role": "user", "content": "hello"}]


def _sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_a_registry_gets_attempts_retries_breaker_and_headroom() -> None:
    """Two 529s then a success: 2 overloaded + 1 ok attempts, 2 retries by reason, breaker closed, headroom set."""
    registry = CollectorRegistry()
    with run_sim(faults=["529:1.0,count=2"], seed=1) as sim:
        client = claudewire.Anthropic(base_url=sim.base_url, api_key=SIM_KEY, clock=FastClock(), metrics=registry)
        client.messages.create(model=SIM_MODEL, max_tokens=16, messages=MSG)
        up = upstream_key(sim.base_url)
    assert _sample(registry, "claudewire_upstream_attempts_total", upstream=up, outcome="overloaded") == 2
    assert _sample(registry, "claudewire_upstream_attempts_total", upstream=up, outcome="ok") == 1
    assert _sample(registry, "claudewire_upstream_retries_total", upstream=up, reason="overloaded") == 2
    assert _sample(registry, "claudewire_upstream_give_ups_total", upstream=up, reason="overloaded") is None
    assert _sample(registry, "claudewire_breaker_state", upstream=up) == 0
    remaining = _sample(registry, "claudewire_ratelimit_remaining", upstream=up, family="requests")
    assert remaining is not None and remaining > 0


def test_the_breaker_shows_closed_before_the_first_call() -> None:
    """A new client with metrics publishes its upstream's breaker as closed at once (dashboards see it)."""
    registry = CollectorRegistry()
    claudewire.Anthropic(base_url="http://127.0.0.1:9/", api_key=SIM_KEY, metrics=registry)
    assert _sample(registry, "claudewire_breaker_state", upstream="http://127.0.0.1:9") == 0


def test_async_client_records_give_ups_and_an_open_breaker() -> None:
    """A 529 storm: the async client gives up (counted by reason) and its breaker opens (gauge 2)."""
    metrics = Metrics()
    policy = Policy(max_retries=1, breaker_failures=2, breaker_cooldown=60)

    async def call(base_url: str) -> None:
        client = claudewire.AsyncAnthropic(
            base_url=base_url, api_key=SIM_KEY, policy=policy, metrics=metrics, clock=FastClock()
        )
        with pytest.raises(anthropic.APIStatusError):  # two 529s: given up, and the breaker opens
            await client.messages.create(model=SIM_MODEL, max_tokens=16, messages=MSG)
        with pytest.raises(claudewire.CircuitOpenError):
            await client.messages.create(model=SIM_MODEL, max_tokens=16, messages=MSG)

    with run_sim(faults=["529:1.0"], seed=1) as sim:
        asyncio.run(call(sim.base_url))
        up = upstream_key(sim.base_url)
    registry = metrics.registry
    assert _sample(registry, "claudewire_upstream_give_ups_total", upstream=up, reason="overloaded") == 1
    assert _sample(registry, "claudewire_breaker_state", upstream=up) == 2


def test_metrics_and_hooks_both_hear_every_event() -> None:
    """With hooks= and metrics= together, the user's hooks and the Prometheus adapter each see the retry."""

    class Retries(Hooks):
        def __init__(self) -> None:
            self.seen: list[str] = []

        def on_retry(self, upstream: str, attempt: int, delay: float, failure: Failure) -> None:
            self.seen.append(str(failure.kind))

    hooks, metrics = Retries(), Metrics()
    with run_sim(faults=["529:1.0,count=1"], seed=1) as sim:
        client = claudewire.Anthropic(
            base_url=sim.base_url, api_key=SIM_KEY, clock=FastClock(), hooks=hooks, metrics=metrics
        )
        client.messages.create(model=SIM_MODEL, max_tokens=16, messages=MSG)
        up = upstream_key(sim.base_url)
    assert hooks.seen == ["overloaded"]
    assert _sample(metrics.registry, "claudewire_upstream_retries_total", upstream=up, reason="overloaded") == 1


def test_copies_keep_recording_into_the_same_registry() -> None:
    """with_options() shares the engine, so a copy's retries land in the registry given to the original."""
    registry = CollectorRegistry()
    with run_sim(faults=["529:1.0,count=1"], seed=1) as sim:
        client = claudewire.Anthropic(base_url=sim.base_url, api_key=SIM_KEY, clock=FastClock(), metrics=registry)
        client.with_options(timeout=30).messages.create(model=SIM_MODEL, max_tokens=16, messages=MSG)
        up = upstream_key(sim.base_url)
    assert _sample(registry, "claudewire_upstream_retries_total", upstream=up, reason="overloaded") == 1


def test_an_exposed_client_registry_reads_in_claudewire_top() -> None:
    """A client's registry served by prometheus-client on 127.0.0.1 is a page `claudewire top` understands."""
    registry = CollectorRegistry()
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    try:
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        watch = Watch()
        with run_sim(faults=["529:1.0,count=2"], seed=1) as sim:
            client = claudewire.Anthropic(base_url=sim.base_url, api_key=SIM_KEY, clock=FastClock(), metrics=registry)
            watch.add(parse(fetch(url), at=0.0))
            client.messages.create(model=SIM_MODEL, max_tokens=16, messages=MSG)
            view = watch.add(parse(fetch(url), at=2.0))
            up = upstream_key(sim.base_url)
    finally:
        server.shutdown()
        thread.join(5)
    assert view.retries_by_reason == {"overloaded": 1.0}
    assert view.breaker == {up: "closed"}
    assert view.ratelimit[(up, "requests")] > 0


def test_prometheus_client_is_imported_only_when_metrics_are_asked_for() -> None:
    """Making a client without metrics= does not import prometheus_client (it stays an optional cost)."""
    code = (
        "import sys, claudewire\n"
        "claudewire.Anthropic(api_key='k'); claudewire.AsyncAnthropic(api_key='k')\n"
        "assert 'prometheus_client' not in sys.modules, 'imported without metrics='\n"
        "from prometheus_client import CollectorRegistry\n"
        "claudewire.Anthropic(api_key='k', metrics=CollectorRegistry())\n"
        "assert 'claudewire.metrics' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_calls_latency_and_tokens_are_recorded() -> None:
    """Each finished call counts by route, status class and error kind, with its latency; tokens by model."""
    registry = CollectorRegistry()
    with run_sim(seed=1) as sim:
        client = claudewire.Anthropic(base_url=sim.base_url, api_key=SIM_KEY, clock=FastClock(), metrics=registry)
        reply = client.messages.create(model=SIM_MODEL, max_tokens=16, messages=MSG)
        sim.set_faults(["401"])
        with pytest.raises(anthropic.AuthenticationError):
            client.messages.create(model=SIM_MODEL, max_tokens=16, messages=MSG)
    ok = _sample(registry, "claudewire_requests_total", route="messages", dialect="anthropic", status_class="2xx",
                 error_kind="none")  # fmt: skip
    auth = _sample(registry, "claudewire_requests_total", route="messages", dialect="anthropic", status_class="4xx",
                   error_kind="auth")  # fmt: skip
    assert (ok, auth) == (1, 1)
    assert _sample(registry, "claudewire_request_duration_seconds_count", route="messages", dialect="anthropic") == 2
    tokens_in = _sample(registry, "claudewire_tokens_total", model=reply.model, kind="input")
    tokens_out = _sample(registry, "claudewire_tokens_total", model=reply.model, kind="output")
    assert (tokens_in, tokens_out) == (reply.usage.input_tokens, reply.usage.output_tokens)


def test_a_streams_time_to_first_byte_is_its_first_byte_not_its_end() -> None:
    """A paced stream (20 tokens, 20 ms apart): the client's ttfb is observed before the stream's end, so the
    ttfb histogram's sum is below the duration's, and the duration covers the stream's reading."""
    registry = CollectorRegistry()
    with run_sim(seed=1, pacing=Pacing(ttft=0.0, per_token=0.02), reply_tokens=20) as sim:
        client = claudewire.Anthropic(base_url=sim.base_url, api_key=SIM_KEY, clock=FastClock(), metrics=registry)
        with client.messages.stream(model=SIM_MODEL, max_tokens=64, messages=MSG) as stream:
            stream.until_done()
    labels = {"route": "messages", "dialect": "anthropic"}
    ttfb = _sample(registry, "claudewire_time_to_first_byte_seconds_sum", **labels)
    duration = _sample(registry, "claudewire_request_duration_seconds_sum", **labels)
    assert ttfb is not None and duration is not None
    assert _sample(registry, "claudewire_time_to_first_byte_seconds_count", **labels) == 1
    assert ttfb < duration
    assert duration >= 0.02 * 19  # the stream was read to its end before the call ended: at least its pacing
