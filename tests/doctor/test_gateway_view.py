"""Pointed at a claudewire gateway, the doctor reads its /readyz and names the upstreams behind it."""

from __future__ import annotations

from claudewire.doctor import Status, run
from claudewire.sim import SimServer
from tests.doctor.conftest import settings_for
from tests.gateway.conftest import run_gateway


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
