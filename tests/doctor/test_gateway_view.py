"""Pointed at a claudewire gateway, the doctor reads its /readyz and its own error bodies, names the upstreams behind
it, and gives advice about the gateway's side instead of this machine's network."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from claudewire._errors import Failure, FailureKind
from claudewire.doctor import Report, Status, Verdict, run
from claudewire.doctor.gateway_view import GatewayView, through_gateway
from claudewire.gateway import GatewayConfig, GatewayThread
from claudewire.gateway.upstream.specs import upstreams_from_list
from claudewire.sim import SimServer
from claudewire.testing import FastClock, run_sim
from tests.doctor.conftest import PACING, settings_for
from tests.gateway.conftest import ROOMY, run_gateway

AKID, SECRET = "AKIDDOCTORTEST", "doctor-test-secret"


@contextlib.contextmanager
def _gateway(upstreams: list[dict[str, Any]]) -> Iterator[GatewayThread]:
    """A gateway on 127.0.0.1:0 with these [[upstreams]] tables."""
    config = GatewayConfig(upstreams=upstreams_from_list(upstreams), port=0, policy=ROOMY, access_log=None)
    with GatewayThread(config, clock=FastClock()) as gw:
        yield gw


def test_the_http_check_names_the_gateway_and_its_upstreams(sim: SimServer) -> None:
    """Through a gateway the http check says it is a claudewire gateway, ready, and lists its upstream."""
    with run_gateway(sim.base_url) as gw:
        report = run(settings_for(gw.base_url))
    http = report.get("http")
    assert http.status is Status.PASS
    assert "a claudewire gateway (ready); upstreams: " in http.detail
    upstreams = http.evidence["gateway"]["upstreams"]  # type: ignore[index]
    assert isinstance(upstreams, list) and upstreams and upstreams[0]["usable"] is True  # type: ignore[index]


def test_the_api_itself_is_not_called_a_gateway(sim: SimServer) -> None:
    """Straight at the API (the simulator), nothing is said about a gateway."""
    http = run(settings_for(sim.base_url)).get("http")
    assert "gateway" not in http.evidence and "claudewire gateway" not in http.detail


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Static AWS credentials for the gateway's bedrock upstream (no profile, no metadata lookups)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", AKID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def _everything(report: Report) -> str:
    return " ".join(f"{c.detail} {c.fix or ''}" for c in report.checks)


@pytest.mark.usefixtures("aws_env")
def test_a_bedrock_upstream_behind_the_gateway_is_checked_through_its_model_list() -> None:
    """Behind the gateway a Bedrock upstream (no Models API of its own): the gateway answers /v1/models and
    /v1/models/{id} from its own catalogue, so the http and model checks pass, the messages go through, and no check
    gives portal, proxy or base-URL advice."""
    with (
        run_sim(api="bedrock", seed=0, aws_access_key_id=AKID, aws_secret_access_key=SECRET, pacing=PACING) as sim,
        _gateway([{"name": "bedrock", "kind": "bedrock", "url": sim.base_url, "region": "us-east-1"}]) as gw,
    ):
        report = run(settings_for(gw.base_url))
        unknown = run(settings_for(gw.base_url, model="claude-haiku-9"))
    http = report.get("http")
    assert http.status is Status.PASS
    assert "a claudewire gateway" in http.detail
    assert report.get("model").status is Status.PASS
    assert report.get("messages").status is Status.PASS
    assert report.verdict is not Verdict.FAIL
    words = _everything(report).lower()
    assert "portal" not in words and "not the api root" not in words and "https_proxy" not in words
    assert unknown.get("model").status is Status.FAIL  # an id the gateway's list lacks is still named as unknown


def test_an_upstream_that_is_down_is_the_gateways_side_not_this_machines() -> None:
    """The gateway's only upstream refuses connections: /readyz says NOT ready (http warns, fix for its operator);
    the messages failure is worded as behind the gateway, never as this machine's network or Anthropic's status."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    with run_gateway(f"http://127.0.0.1:{dead}") as gw:
        report = run(settings_for(gw.base_url))
    http, messages = report.get("http"), report.get("messages")
    assert http.status is Status.WARN and "NOT ready" in http.detail and "operator" in (http.fix or "")
    assert messages.status is Status.FAIL
    assert "behind the gateway" in messages.detail and "NOT usable" in messages.detail
    fix = messages.fix or ""
    assert "operator" in fix and "/readyz" in fix
    assert (
        "status.anthropic.com" not in fix and "host and port" not in fix and "Anthropic's side" not in messages.detail
    )


def test_an_overload_the_gateway_passes_on_is_still_the_apis() -> None:
    """A 529 the gateway relayed from the API (not written by the gateway) keeps the API's words; one the gateway
    wrote itself (its breaker) is the gateway's side; a key problem is never moved to the gateway's side."""
    view = GatewayView(True, ({"name": "main", "usable": True},))
    relayed = Failure.of(FailureKind.OVERLOADED, status=529, message="Overloaded")
    written = Failure.of(FailureKind.OVERLOADED, status=529, message="claudewire gateway: circuit breaker is open")
    assert through_gateway(relayed, view) is None
    assert through_gateway(written, view) is not None
    assert through_gateway(Failure.of(FailureKind.AUTH, status=401, message="invalid x-api-key"), view) is None
    assert through_gateway(Failure.of(FailureKind.CONNECT_REFUSED, status=None), view) is None  # no answer at all
    assert through_gateway(written, None) is None
