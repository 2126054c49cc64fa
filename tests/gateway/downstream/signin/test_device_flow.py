"""Gateway sign-in end to end against a real OpenID Connect provider (oidc-provider) and the simulator: the device
flow driven by an HTTP client as Claude Code and a person's browser would, then the signed-in user as a client."""

from __future__ import annotations

import dataclasses
import gzip
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx2
import pytest
from aiohttp import web

from claudewire.sim import SimServer
from tests.gateway.conftest import Upstream
from tests.gateway.downstream.signin.idp import (
    ALLOWED,
    DEVICE_GRANT,
    HAVE_IDP,
    MANAGED,
    OTHER,
    USERS,
    Deployment,
    GatewayOnPort,
    browser_sign_in,
)
from tests.redis_server import RedisServer

pytestmark = [
    pytest.mark.skipif(not HAVE_IDP, reason="needs node and tests/js/node_modules/oidc-provider (npm install)"),
    pytest.mark.slow,
]


@pytest.fixture
def deployment(tmp_path: Path, sim: SimServer) -> Iterator[Deployment]:
    """The IdP (alice in engineering) and a signed-in-capable gateway in front of the simulator."""
    d = Deployment(tmp_path, sim).start()
    try:
        yield d
    finally:
        d.stop()


def _ask(base_url: str, token: str, model: str) -> anthropic.types.Message:
    client = anthropic.Anthropic(base_url=base_url, auth_token=token, api_key=None, max_retries=0)
    return client.messages.create(model=model, max_tokens=16, messages=[{"role": "user", "content": "hi"}])


def test_discovery_names_same_origin_device_and_token_endpoints(deployment: Deployment) -> None:
    """RFC 8414 metadata: same-origin endpoints, the device and refresh grants, no authorization endpoint."""
    meta = deployment.http.get("/.well-known/oauth-authorization-server").json()
    base = deployment.gw.base_url
    assert meta["issuer"] == base
    assert meta["device_authorization_endpoint"] == base + "/oauth/device_authorization"
    assert meta["token_endpoint"] == base + "/oauth/token"
    assert meta["grant_types_supported"] == [DEVICE_GRANT, "refresh_token"]
    assert meta["token_endpoint_auth_methods_supported"] == ["none"]
    assert "authorization_endpoint" not in meta


def test_the_whole_device_flow_then_refresh_then_deprovisioning(deployment: Deployment) -> None:
    """Device code → verification page → IdP login → consent → token → /v1/messages → refresh → user removed at the
    IdP → refresh answers invalid_grant and the session's access token stops working."""
    grant = deployment.device()
    assert len(grant["device_code"]) >= 43  # 256 bits, base64url
    assert len(grant["user_code"].replace("-", "")) == 8
    assert grant["verification_uri"] == deployment.gw.base_url + "/device"
    assert grant["verification_uri_complete"].startswith(grant["verification_uri"] + "?user_code=")
    assert (grant["expires_in"], grant["interval"]) == (600, 5)
    pending = deployment.poll(grant["device_code"])
    assert (pending.status_code, pending.json()["error"]) == (400, "authorization_pending")
    assert deployment.poll(grant["device_code"]).json()["error"] == "slow_down"  # polled again at once

    page = browser_sign_in(grant["verification_uri_complete"], deployment.gw.base_url, "alice")
    assert page.status_code == 200 and "You are signed in" in page.text

    tokens = deployment.poll(grant["device_code"])
    assert tokens.status_code == 200, tokens.text
    assert tokens.headers["cache-control"] == "no-store"
    body = tokens.json()
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 900)
    assert deployment.poll(grant["device_code"]).json()["error"] == "expired_token"  # single use

    assert _ask(deployment.gw.base_url, body["access_token"], ALLOWED).content
    # model discovery as Claude Code asks for it shows the group's models only (its picker offers nothing refused)
    lister = anthropic.Anthropic(base_url=deployment.gw.base_url, auth_token=body["access_token"], api_key=None)
    listed = {m.id for m in lister.models.list(limit=1000)}
    assert listed and all(m.startswith(ALLOWED) for m in listed), listed
    with pytest.raises(anthropic.PermissionDeniedError, match="group engineering may not use model"):
        _ask(deployment.gw.base_url, body["access_token"], OTHER)
    with pytest.raises(anthropic.AuthenticationError):
        _ask(deployment.gw.base_url, body["access_token"] + "x", ALLOWED)

    renewed = deployment.refresh(body["refresh_token"])
    assert renewed.status_code == 200, renewed.text
    fresh = renewed.json()
    assert fresh["refresh_token"] != body["refresh_token"] and fresh["expires_in"] == 900
    replay = deployment.refresh(body["refresh_token"])  # rotated: the old one is spent
    assert (replay.status_code, replay.json()["error"]) == (400, "invalid_grant")
    assert _ask(deployment.gw.base_url, fresh["access_token"], ALLOWED).content

    deployment.idp.set_users({})  # alice leaves the company
    gone = deployment.refresh(fresh["refresh_token"])
    assert (gone.status_code, gone.json()["error"]) == (400, "invalid_grant")
    assert "no longer vouches" in gone.json()["error_description"]
    with pytest.raises(anthropic.AuthenticationError, match="revoked"):
        _ask(deployment.gw.base_url, fresh["access_token"], ALLOWED)


def test_managed_settings_and_metrics_follow_the_group(deployment: Deployment) -> None:
    """/managed/settings: the group's envelope with ETag, 304 on If-None-Match, 401 without a token; the metrics
    label the group, never the user."""
    grant = deployment.device()
    browser_sign_in(grant["verification_uri_complete"], deployment.gw.base_url, "alice")
    token = deployment.poll(grant["device_code"]).json()["access_token"]
    auth = {"authorization": f"Bearer {token}"}
    settings = deployment.http.get("/managed/settings", headers=auth)
    assert settings.status_code == 200
    envelope = settings.json()
    assert envelope["settings"] == MANAGED and envelope["uuid"] == envelope["checksum"]
    assert settings.headers["etag"] == f'"{envelope["checksum"]}"'
    again = deployment.http.get("/managed/settings", headers={**auth, "if-none-match": settings.headers["etag"]})
    assert again.status_code == 304 and not again.content
    assert deployment.http.get("/managed/settings").status_code == 401
    relay = deployment.http.post(
        "/v1/metrics", headers={**auth, "content-type": "application/x-protobuf"}, content=b"\x0a\x00"
    )
    assert relay.status_code == 200  # no collector configured: accepted and dropped
    assert deployment.http.post("/v1/logs", content=b"x").status_code == 401
    _ask(deployment.gw.base_url, token, ALLOWED)
    assert deployment.gw.gateway is not None
    exposition = deployment.gw.gateway.metrics.render().decode()
    assert 'client="engineering"' in exposition
    assert "alice" not in exposition and token[:20] not in exposition


def test_a_user_in_no_group_is_refused(deployment: Deployment) -> None:
    """A user the IdP signs in but who is in none of the [[groups]]: the browser says so, the poll is access_denied."""
    deployment.idp.set_users({**USERS, "bob": {"email": "bob@corp.example", "groups": ["sales"]}})
    grant = deployment.device()
    page = browser_sign_in(grant["verification_uri_complete"], deployment.gw.base_url, "bob")
    assert page.status_code == 400 and "in no group" in page.text
    denied = deployment.poll(grant["device_code"])
    assert (denied.status_code, denied.json()["error"]) == (400, "access_denied")


def test_oauth_errors_have_oauth_shape(deployment: Deployment) -> None:
    """Unknown grant types, missing parameters and unknown codes answer {"error", "error_description"}."""
    for data, error in [
        ({"grant_type": "password"}, "unsupported_grant_type"),
        ({"grant_type": DEVICE_GRANT}, "invalid_request"),
        ({"grant_type": DEVICE_GRANT, "device_code": "nope"}, "expired_token"),
        ({"grant_type": "refresh_token", "refresh_token": "nope"}, "invalid_grant"),
    ]:
        resp = deployment.http.post("/oauth/token", data=data)
        assert resp.status_code == 400 and resp.json()["error"] == error and resp.json()["error_description"]
    resp = deployment.http.post("/oauth/token", json={"grant_type": DEVICE_GRANT})
    assert resp.json()["error"] == "invalid_request"
    assert deployment.http.post("/oauth/revoke", data={"token": "unknown"}).json() == {}


def test_sign_in_forms_are_read_without_a_token_but_never_a_large_body(deployment: Deployment) -> None:
    """In tokens mode the sign-in forms (sent before any token exists) are read, not dropped as an unauthenticated
    body; a body over the unauthenticated allowance is refused at once without the budget (issue 18 item 12)."""
    resp = deployment.http.post("/oauth/token", data={"grant_type": "password"})
    assert resp.status_code == 400 and resp.json()["error"] == "unsupported_grant_type"  # the form was read
    big = b"grant_type=password&pad=" + b"x" * (128 * 1024)
    headers = {"content-type": "application/x-www-form-urlencoded"}
    resp = deployment.http.post("/oauth/token", content=big, headers=headers)
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_request"  # its form never reached the handler
    assert resp.headers.get("connection") == "close"


def test_a_sign_in_begun_on_one_replica_finishes_on_another(
    tmp_path: Path, sim: SimServer, redis_server: RedisServer
) -> None:
    """Two gateways sharing Redis: device code from B, browser on A, token from B, the access token good on A,
    and the member's requests_per_minute counted across both."""
    a = Deployment(tmp_path, sim, state=redis_server.url)
    b = GatewayOnPort()
    try:
        a.start()
        b.start(a.config.replace(signin=dataclasses.replace(a.config.signin, public_url=a.gw.base_url)))
        with httpx2.Client(base_url=b.base_url, timeout=15.0) as on_b:
            grant = on_b.post("/oauth/device_authorization").json()
            assert grant["verification_uri"].startswith(a.gw.base_url)  # the public URL, whichever replica answered
            assert browser_sign_in(grant["verification_uri_complete"], a.gw.base_url, "alice").status_code == 200
            tokens = on_b.post("/oauth/token", data={"grant_type": DEVICE_GRANT, "device_code": grant["device_code"]})
            assert tokens.status_code == 200, tokens.text
        token = tokens.json()["access_token"]
        for i in range(5):  # engineering: 5 requests a minute per user, across the replicas
            assert _ask(a.gw.base_url if i % 2 else b.base_url, token, ALLOWED).content
        with pytest.raises(anthropic.RateLimitError, match="requests_per_minute"):
            _ask(a.gw.base_url, token, ALLOWED)
        renewed = a.refresh(tokens.json()["refresh_token"])
        assert renewed.status_code == 200, renewed.text
    finally:
        b.stop()
        a.stop()


def test_relayed_otlp_reaches_the_collector_byte_for_byte(tmp_path: Path, sim: SimServer) -> None:
    """With an OTLP endpoint configured, a member's export arrives at the collector unchanged (body, type, encoding)."""
    received: list[tuple[str, str, str, bytes]] = []
    arrived = threading.Event()

    async def collect(request: web.Request) -> web.Response:
        body = await request.read()  # aiohttp undoes the gzip: the bytes the client compressed
        received.append((request.path, request.content_type, request.headers.get("content-encoding", ""), body))
        if body == PAYLOAD:
            arrived.set()
        return web.Response(status=200)

    with Upstream(collect) as collector:
        d = Deployment(tmp_path, sim, otlp=collector.base_url)
        try:
            d.start()
            grant = d.device()
            browser_sign_in(grant["verification_uri_complete"], d.gw.base_url, "alice")
            token = d.poll(grant["device_code"]).json()["access_token"]
            headers = {"authorization": f"Bearer {token}", "content-type": "application/x-protobuf"}
            sent = gzip.compress(PAYLOAD)
            resp = d.http.post("/v1/logs", headers={**headers, "content-encoding": "gzip"}, content=sent)
            assert resp.status_code == 200
            assert arrived.wait(10)
        finally:
            d.stop()
    assert ("/v1/logs", "application/x-protobuf", "gzip", PAYLOAD) in received


PAYLOAD = bytes(range(256)) * 3


def test_the_verification_page_is_csrf_guarded(deployment: Deployment) -> None:
    """POST /device without the page's CSRF cookie, or from another origin, is refused; an unknown code is said so."""
    grant = deployment.device()
    code = grant["user_code"]
    with httpx2.Client(base_url=deployment.gw.base_url, timeout=15.0) as browser:
        forged = browser.post("/device", data={"csrf": "guess", "user_code": code})
        assert forged.status_code == 403 and "did not come from this page" in forged.text
        page = browser.get("/device")
        assert page.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        elsewhere = browser.post(
            "/device", data={"csrf": csrf.group(1), "user_code": code}, headers={"origin": "https://evil.example"}
        )
        assert elsewhere.status_code == 403
        unknown = browser.post("/device", data={"csrf": csrf.group(1), "user_code": "BBBB-BBBB"})
        assert unknown.status_code == 400 and "not known" in unknown.text
        ok = browser.post("/device", data={"csrf": csrf.group(1), "user_code": code.lower()})  # any case, dashes
        assert ok.status_code == 302 and ok.headers["location"].startswith(deployment.idp.issuer)
        assert "code_challenge_method=S256" in ok.headers["location"]


def test_device_authorization_is_rate_limited_per_address(deployment: Deployment) -> None:
    """More than 10 device authorizations a minute from one address: 429 slow_down in OAuth's shape."""
    answers = [deployment.http.post("/oauth/device_authorization") for _ in range(11)]
    assert [a.status_code for a in answers[:10]] == [200] * 10
    assert answers[10].status_code == 429 and answers[10].json()["error"] == "slow_down"
