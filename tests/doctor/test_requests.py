"""What the doctor sends: the key only to an API it has identified, and the credentials as the SDK sends them."""

from __future__ import annotations

from claudewire.doctor import Status, run
from claudewire.sim import SimServer
from tests.doctor.conftest import KEY, settings_for


def test_http_probe_carries_no_key_and_later_requests_carry_it(sim: SimServer) -> None:
    """The first request (identifying the API) has no credentials; the SDK's keyed requests follow it."""
    report = run(settings_for(sim.base_url))
    assert report.verdict.value == "pass"
    first, *rest = sim.requests
    assert first.path == "/v1/models"
    assert first.api_key is None
    readyz = [r for r in rest if r.path == "/readyz"]  # "is this a claudewire gateway?": asked without the key
    assert readyz and all(r.api_key is None for r in readyz)
    rest = [r for r in rest if r.path != "/readyz"]
    assert rest and all(r.api_key == KEY for r in rest)
    assert {r.path for r in rest} >= {"/v1/models", "/v1/models/claude-haiku-4-5", "/v1/messages"}


def test_portal_never_receives_the_key(sim: SimServer) -> None:
    """When a captive portal answers, the doctor stops before any keyed request."""
    sim.set_faults(["portal"])
    report = run(settings_for(sim.base_url))
    assert report.get("http").status is Status.FAIL
    assert all(r.api_key is None for r in sim.requests)


def test_auth_token_is_sent_as_bearer_like_the_sdk(sim: SimServer) -> None:
    """A key from ANTHROPIC_AUTH_TOKEN goes out as Authorization: Bearer, as the SDK sends it."""
    run(settings_for(sim.base_url, key_source="ANTHROPIC_AUTH_TOKEN", spend=False))
    keyed = [r for r in sim.requests if r.api_key]
    assert keyed
    assert all(r.headers.get("authorization") == f"Bearer {KEY}" for r in keyed)
    assert all("x-api-key" not in r.headers for r in keyed)


def test_sdk_anthropic_version_is_sent(sim: SimServer) -> None:
    """Every request carries the anthropic-version the installed SDK sends."""
    from anthropic._constants import ANTHROPIC_API_VERSION

    run(settings_for(sim.base_url, spend=False))
    assert {r.headers.get("anthropic-version") for r in sim.requests} == {ANTHROPIC_API_VERSION}
