"""Failover across upstreams and keys through the gateway: simulators as upstreams, the official SDK as the client."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import pytest
from prometheus_client.parser import text_string_to_metric_families

from claudewire.gateway import GatewayConfig, GatewayThread
from claudewire.gateway.upstream.specs import UpstreamSpec
from claudewire.policy import Policy, RetryBudget
from claudewire.sim import SimServer
from claudewire.testing import FastClock, run_sim
from tests.conftest import SIM_KEY, SIM_MODEL
from tests.gateway.conftest import ROOMY

MESSAGES: list[Any] = [{"role": "user", "content": "hello"}]
KEY_A = "sk-ant-api03-revoked-key-AAAA"
KEY_B = "sk-ant-api03-good-key-BBBB"


@contextlib.contextmanager
def pool_gateway(*specs: UpstreamSpec, **overrides: Any) -> Iterator[GatewayThread]:
    """A gateway on 127.0.0.1:0 with these upstreams, on the fast policy's clock (no real sleeps)."""
    overrides.setdefault("policy", ROOMY)
    overrides.setdefault("access_log", None)
    with GatewayThread(GatewayConfig(upstreams=specs, port=0, **overrides), clock=FastClock()) as gw:
        yield gw


def _client(base_url: str, **kw: Any) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=base_url, api_key=SIM_KEY, max_retries=0, **kw)


def _samples(gw: GatewayThread) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    assert gw.gateway is not None  # read in-process: in tokens mode /metrics over HTTP needs a token
    text = gw.gateway.metrics.render().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def _two(primary: SimServer, backup: SimServer, **kw: Any) -> tuple[UpstreamSpec, UpstreamSpec]:
    return UpstreamSpec("primary", primary.base_url, **kw), UpstreamSpec("backup", backup.base_url, priority=1, **kw)


def test_primary_answering_529_to_everything_is_invisible_behind_the_backup() -> None:
    """Primary always 529: every call (plain and streamed) succeeds from the backup; metrics name the failover."""
    with (
        run_sim(seed=0, faults=["529:1.0"]) as primary,
        run_sim(seed=0) as backup,
        pool_gateway(*_two(primary, backup)) as gw,
    ):
        client = _client(gw.base_url)
        for _ in range(10):
            assert client.messages.create(model=SIM_MODEL, max_tokens=16, messages=MESSAGES).content
        with client.messages.stream(model=SIM_MODEL, max_tokens=16, messages=MESSAGES) as stream:
            assert stream.get_final_message().content
        samples = _samples(gw)
    assert backup.stats.total == 11
    assert 1 <= primary.stats.total <= 11  # until the primary's breaker opens, each call tries it first
    failovers = _value(
        samples, "claudewire_upstream_failovers_total", reason="overloaded", to="backup", **{"from": "primary"}
    )
    assert failovers == primary.stats.total
    assert _value(samples, "claudewire_upstream_requests_total", upstream="backup", status_class="2xx") == 11
    assert (
        _value(
            samples,
            "claudewire_requests_total",
            route="messages",
            dialect="anthropic",
            status_class="2xx",
            error_kind="none",
        )
        == 11
    )


def test_a_400_is_tried_once_on_one_upstream_only() -> None:
    """A request error is the same everywhere: one attempt on the primary, the backup never sees it."""
    with (
        run_sim(seed=0, faults=["400:1.0"]) as primary,
        run_sim(seed=0) as backup,
        pool_gateway(*_two(primary, backup)) as gw,
        pytest.raises(anthropic.BadRequestError),
    ):
        _client(gw.base_url).messages.create(model=SIM_MODEL, max_tokens=16, messages=MESSAGES)
    assert (primary.stats.total, backup.stats.total) == (1, 0)


def test_a_revoked_key_is_taken_out_the_next_key_serves_and_readyz_shows_it_out() -> None:
    """401 on key #0 → key #1 serves the same call; /readyz lists primary#0 as out (why) and stays 200."""
    with run_sim(seed=0, api_keys=(KEY_B,)) as sim, run_sim(seed=0) as backup:
        spec = UpstreamSpec("primary", sim.base_url, keys=(KEY_A, KEY_B))
        other = UpstreamSpec("backup", backup.base_url, keys=(KEY_B,), priority=1)
        with pool_gateway(spec, other, tokens=("cw-team",)) as gw:
            client = anthropic.Anthropic(base_url=gw.base_url, api_key="cw-team", max_retries=0)
            for _ in range(6):
                assert client.messages.create(model=SIM_MODEL, max_tokens=16, messages=MESSAGES).content
            ready = httpx2.get(gw.base_url + "/readyz")
            samples = _samples(gw)
        keys = [r.api_key for r in sim.requests]
    assert backup.stats.total == 0
    assert keys.count(KEY_A) == 1 and keys.count(KEY_B) == 6  # the revoked key is tried once, then left out
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready"
    primary = next(u for u in body["upstreams"] if u["name"] == "primary")
    states = {k["key"]: (k["state"], k["reason"]) for k in primary["keys"]}
    assert states == {"primary#0": ("out", "HTTP 401 auth"), "primary#1": ("closed", "")}
    assert _value(samples, "claudewire_upstream_key_state", upstream="primary", key="primary#0") == 3
    assert _value(samples, "claudewire_upstream_keys_out_total", key="primary#0") == 1
    assert KEY_A not in ready.text and KEY_B not in ready.text
    assert KEY_A not in str(samples) and "AAAA" not in str(samples)


def test_when_every_key_is_refused_the_client_gets_the_upstreams_own_401() -> None:
    """All held keys revoked: the client sees the upstream's authentication_error, not a gateway error."""
    with run_sim(seed=0, api_keys=("sk-ant-api03-nobody-has-this-0000",)) as sim:
        spec = UpstreamSpec("primary", sim.base_url, keys=(KEY_A, KEY_B))
        with pool_gateway(spec, tokens=("cw-team",)) as gw:
            client = anthropic.Anthropic(base_url=gw.base_url, api_key="cw-team", max_retries=0)
            with pytest.raises(anthropic.AuthenticationError) as info:
                client.messages.create(model=SIM_MODEL, max_tokens=16, messages=MESSAGES)
            ready = httpx2.get(gw.base_url + "/readyz")
    assert sim.stats.total == 2
    assert isinstance(info.value.body, dict) and info.value.body["error"]["type"] == "authentication_error"
    assert ready.status_code == 503 and ready.json()["status"] == "unavailable"
    assert int(ready.headers["retry-after"]) > 0


def test_a_stream_cut_after_its_first_delta_is_not_retried_anywhere() -> None:
    """Once the first delta went to the client a cut stream passes as an error event; the backup is never asked."""
    with (
        run_sim(seed=0, faults=["cut:1.0,after=1"]) as primary,
        run_sim(seed=0) as backup,
        pool_gateway(*_two(primary, backup)) as gw,
    ):
        client = _client(gw.base_url)
        with (
            pytest.raises(anthropic.APIError) as info,
            client.messages.stream(model=SIM_MODEL, max_tokens=64, messages=MESSAGES) as stream,
        ):
            for _ in stream:
                pass
    assert (primary.stats.total, backup.stats.total) == (1, 0)
    assert "stream" in str(info.value).lower() or "interrupt" in str(info.value).lower()


def test_an_overloaded_event_before_the_first_delta_fails_over() -> None:
    """An overloaded_error event before any delta is retried on the backup, invisibly to the client."""
    with (
        run_sim(seed=0, faults=["midstream_error:1.0,after=0"]) as primary,
        run_sim(seed=0) as backup,
        pool_gateway(*_two(primary, backup)) as gw,
        _client(gw.base_url).messages.stream(model=SIM_MODEL, max_tokens=16, messages=MESSAGES) as stream,
    ):
        assert stream.get_final_message().content
    assert (primary.stats.total, backup.stats.total) == (1, 1)


def test_a_session_sticks_to_one_upstream_and_key_and_moves_when_it_fails() -> None:
    """50 requests with one X-Claude-Code-Session-Id land on one of two equal upstreams; when it fails they move."""
    with run_sim(seed=0) as a, run_sim(seed=0) as b:
        specs = (UpstreamSpec("a", a.base_url), UpstreamSpec("b", b.base_url))
        with pool_gateway(*specs) as gw:
            client = _client(gw.base_url, default_headers={"X-Claude-Code-Session-Id": "sess-42"})
            for _ in range(50):
                client.messages.create(model=SIM_MODEL, max_tokens=8, messages=MESSAGES)
            counts = (a.stats.total, b.stats.total)
            home, away = (a, b) if counts[0] else (b, a)
            assert sorted(counts) == [0, 50]
            home.set_faults(["529:1.0"])
            for _ in range(5):
                client.messages.create(model=SIM_MODEL, max_tokens=8, messages=MESSAGES)
            home.set_faults([])
            for _ in range(5):
                client.messages.create(model=SIM_MODEL, max_tokens=8, messages=MESSAGES)
            samples = _samples(gw)
            other = _client(gw.base_url)
            for _ in range(40):  # without a session id: load is shared
                other.messages.create(model=SIM_MODEL, max_tokens=8, messages=MESSAGES)
    assert away.stats.total >= 10 + 5  # moved at the failure and stayed there (its cache is warm now)
    assert _value(samples, "claudewire_affinity_total", outcome="hit", reason="none") == 49 + 4 + 5
    assert _value(samples, "claudewire_affinity_total", outcome="break", reason="failed") == 1
    assert _value(samples, "claudewire_affinity_total", outcome="new", reason="none") == 1


def test_a_lone_upstream_forwarding_credentials_retries_on_itself_and_still_counts_sessions() -> None:
    """One upstream with the client's own key: a 529 is retried on it alone, no failover is counted, and calls with
    a session id are still counted (new, then hits) while calls without one are not."""
    policy = Policy(max_retries=2, retry_budget=RetryBudget(min_retries=1000))
    with (
        run_sim(seed=0, faults=["529:1.0"]) as only,
        pool_gateway(UpstreamSpec("only", only.base_url), policy=policy) as gw,
    ):
        with pytest.raises(anthropic.APIStatusError) as refused:
            _client(gw.base_url).messages.create(model=SIM_MODEL, max_tokens=8, messages=MESSAGES)
        assert refused.value.status_code == 529
        assert only.stats.total == 3  # the first attempt and max_retries=2 retries, all to the one upstream
        only.set_faults([])
        session = _client(gw.base_url, default_headers={"X-Claude-Code-Session-Id": "sess-7"})
        for _ in range(3):
            session.messages.create(model=SIM_MODEL, max_tokens=8, messages=MESSAGES)
            _client(gw.base_url).messages.create(model=SIM_MODEL, max_tokens=8, messages=MESSAGES)
        samples = _samples(gw)
    assert only.stats.total == 3 + 6
    assert not any(name == "claudewire_upstream_failovers_total" for name, _ in samples)
    assert _value(samples, "claudewire_upstream_attempts_total", upstream="only#0", outcome="overloaded") == 3
    assert _value(samples, "claudewire_affinity_total", outcome="new", reason="none") == 1
    assert _value(samples, "claudewire_affinity_total", outcome="hit", reason="none") == 2


def test_models_lists_route_each_model_to_the_upstreams_that_serve_it() -> None:
    """An upstream with `models` gets only those models; another model goes to the upstream without a list."""
    with run_sim(seed=0) as special, run_sim(seed=0) as general:
        specs = (
            UpstreamSpec("special", special.base_url, models=("claude-opus-4-8",)),
            UpstreamSpec("general", general.base_url, priority=1),
        )
        with pool_gateway(*specs) as gw:
            client = _client(gw.base_url)
            for _ in range(3):
                client.messages.create(model="claude-opus-4-8", max_tokens=8, messages=MESSAGES)
                client.messages.create(model=SIM_MODEL, max_tokens=8, messages=MESSAGES)
    assert {r.path for r in special.requests} == {"/v1/messages"}
    assert (special.stats.total, general.stats.total) == (3, 3)
