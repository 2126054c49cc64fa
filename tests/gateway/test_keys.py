"""Keys never leave the gateway; raw paths, foreign methods and hop-by-hop headers never cross it; resends are seen."""

from __future__ import annotations

import json
import socket
import time
from types import SimpleNamespace
from typing import Any

import httpx2
import pytest
from aiohttp import web

from claudewire.cli.proxy import _announce
from claudewire.gateway import GatewayConfig
from claudewire.policy import Policy
from claudewire.testing import run_sim
from tests.conftest import SIM_MODEL
from tests.gateway.conftest import (
    Answer,
    RawUpstream,
    Upstream,
    address,
    ask,
    read_all,
    read_request,
    run_gateway,
    send_all,
)

UPSTREAM_KEY = "sk-ant-api03-held-by-the-gateway-777777"
TOKEN = "cw-token-keys-1234567890"
BODY = {"model": SIM_MODEL, "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}


def _echo(status: int) -> Any:
    async def handler(request: web.Request) -> web.StreamResponse:
        await request.read()
        seen = dict(request.headers)
        echoed = {f"x-echo-{k.lower()}": v for k, v in seen.items()}
        body = {"type": "error", "error": {"type": "invalid_request_error", "message": f"you sent {seen}"}}
        return web.json_response(body, status=status, headers=echoed)

    return handler


@pytest.mark.parametrize("status", [400, 200])
def test_an_upstream_echoing_the_held_key_never_returns_it(status: int) -> None:
    """In tokens mode the held key is scrubbed from response headers (always) and error bodies."""
    with (
        Upstream(_echo(status)) as up,
        run_gateway(up.base_url, tokens=(TOKEN,), upstream_key=UPSTREAM_KEY) as gw,
    ):
        response = httpx2.post(gw.base_url + "/v1/messages", json=BODY, headers={"x-api-key": TOKEN})
    assert response.status_code == status
    assert response.headers["x-echo-x-api-key"] != UPSTREAM_KEY
    assert response.headers["x-echo-x-api-key"].endswith("7777")
    head = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    assert UPSTREAM_KEY not in head
    if status >= 400:
        assert UPSTREAM_KEY not in response.text


@pytest.mark.parametrize("method", [b"TRACE", b"CONNECT", b"PROPFIND", b"LINK", b"BREW", b"get", b"X-CUSTOM_1"])
def test_non_api_methods_are_405_and_never_forwarded(method: bytes) -> None:
    """TRACE and other non-API methods get 405 invalid_request_error with Allow; the upstream sees nothing."""
    with run_sim(seed=0) as sim, run_gateway(sim.base_url, tokens=(TOKEN,), upstream_key=UPSTREAM_KEY) as gw:
        target = b"127.0.0.1:443" if method == b"CONNECT" else b"/v1/models"
        answer = ask(
            gw, method + b" " + target + b" HTTP/1.1\r\nhost: gw\r\nx-api-key: " + TOKEN.encode() + b"\r\n\r\n"
        )
        assert sim.stats.total == 0
    assert answer.status == 405 and answer.error_type() == "invalid_request_error"
    assert UPSTREAM_KEY.encode() not in answer.raw
    assert "POST" in answer.headers["allow"]


def test_an_unknown_method_split_across_reads_is_405() -> None:
    """A method the HTTP parser does not know, arriving a few bytes at a time, still gets 405 (not a parse 400)."""
    with run_sim(seed=0) as sim, run_gateway(sim.base_url) as gw:
        with socket.create_connection(address(gw), timeout=5) as sock:
            for part in (b"BR", b"EW /v1/mod", b"els HTTP/1.1\r\nhost: gw\r\n\r\n"):
                send_all(sock, part)
                time.sleep(0.05)
            answer = Answer(read_all(sock))
        assert sim.stats.total == 0
    assert answer.status == 405 and answer.error_type() == "invalid_request_error"
    assert "method BREW is not forwarded" in answer.json()["error"]["message"]


@pytest.mark.parametrize(
    "line",
    [b"BR(W /v1/models HTTP/1.1\r\n", b"BREW /v1/models\r\n", b"BREW /v1/models HTTP/1.1 extra\r\n", b"\x01\x02\r\n"],
)
def test_a_malformed_request_line_is_still_400(line: bytes) -> None:
    """A request line that is not token SP target SP version is a 400 in the API's shape, answered at once."""
    with run_sim(seed=0) as sim, run_gateway(sim.base_url) as gw:
        answer = ask(gw, line + b"host: gw\r\n\r\n", within=5)
        assert sim.stats.total == 0
    assert answer.status == 400 and answer.error_type() == "invalid_request_error"


@pytest.mark.parametrize(
    "headers",
    [
        [("x-api-key", TOKEN), ("x-api-key", "cw-evil")],
        [("x-api-key", "cw-evil"), ("x-api-key", TOKEN)],
        [("x-api-key", TOKEN), ("authorization", "Bearer cw-evil")],
        [("authorization", "Bearer cw-evil"), ("x-api-key", TOKEN)],
        [("x-api-key", TOKEN), ("x-api-key", TOKEN)],
    ],
)
def test_ambiguous_credentials_are_401_whatever_their_order(headers: list[tuple[str, str]]) -> None:
    """Two x-api-key headers, or x-api-key and Authorization that disagree: 401, nothing forwarded."""
    with run_sim(seed=0) as sim, run_gateway(sim.base_url, tokens=(TOKEN,), upstream_key=UPSTREAM_KEY) as gw:
        lines = b"".join(f"{k}: {v}\r\n".encode() for k, v in headers)
        body = json.dumps(BODY).encode()
        raw = b"POST /v1/messages HTTP/1.1\r\nhost: gw\r\nanthropic-version: 2023-06-01\r\n" + lines
        answer = ask(gw, raw + b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body) + body)
        assert sim.stats.total == 0
    assert answer.status == 401 and answer.error_type() == "authentication_error"


def test_one_token_sent_both_ways_is_accepted() -> None:
    """The same token as x-api-key and as Bearer is not ambiguous: it is accepted."""
    with run_sim(seed=0) as sim, run_gateway(sim.base_url, tokens=(TOKEN,), upstream_key=UPSTREAM_KEY) as gw:
        headers = {"x-api-key": TOKEN, "authorization": f"Bearer {TOKEN}", "anthropic-version": "2023-06-01"}
        response = httpx2.post(gw.base_url + "/v1/messages", json=BODY, headers=headers)
    assert response.status_code == 200


def test_hop_by_hop_response_headers_do_not_reach_the_client() -> None:
    """Connection, the fields it names, Proxy-Authenticate and Keep-Alive from upstream are dropped."""

    async def handler(request: web.Request) -> web.StreamResponse:
        headers = {
            "connection": "x-private-hop",
            "x-private-hop": "secret",
            "proxy-authenticate": 'Basic realm="corp"',
            "keep-alive": "timeout=5",
            "x-kept": "yes",
        }
        return web.json_response({"data": []}, headers=headers)

    with Upstream(handler) as up, run_gateway(up.base_url) as gw:
        answer = ask(gw, b"GET /v1/models HTTP/1.1\r\nhost: gw\r\nconnection: close\r\n\r\n")
    assert answer.status == 200 and answer.headers["x-kept"] == "yes"
    for name in ("x-private-hop", "proxy-authenticate", "keep-alive"):
        assert name not in answer.headers
    assert answer.headers["connection"] == "close"


@pytest.mark.parametrize(
    "target",
    [b"/v1/../../metrics", b"/v1/./models", b"//v1/models", b"/v1/%2e%2e/healthz", b"/v1%2fmodels", b"http://x/v1"],
)
def test_dot_segments_and_raw_paths_are_refused_not_forwarded(target: bytes) -> None:
    """Dot segments, // and encoded slashes, and absolute-form targets: 400 in the API's shape, never sent upstream."""
    with run_sim(seed=0) as sim, run_gateway(sim.base_url) as gw:
        answer = ask(gw, b"GET " + target + b" HTTP/1.1\r\nhost: gw\r\nconnection: close\r\n\r\n")
        assert sim.stats.total == 0
    assert answer.status == 400 and answer.error_type() == "invalid_request_error"


def test_metrics_need_a_token_in_tokens_mode() -> None:
    """With tokens required, /metrics without one is 401; with one it is served."""
    with run_sim(seed=0) as sim, run_gateway(sim.base_url, tokens=(TOKEN,), upstream_key=UPSTREAM_KEY) as gw:
        anonymous = httpx2.get(gw.base_url + "/metrics")
        wrong = httpx2.get(gw.base_url + "/metrics", headers={"x-api-key": "cw-nope"})
        allowed = httpx2.get(gw.base_url + "/metrics", headers={"authorization": f"Bearer {TOKEN}"})
    assert anonymous.status_code == 401 and wrong.status_code == 401
    assert anonymous.json()["error"]["type"] == "authentication_error"
    assert sim.base_url not in anonymous.text
    assert allowed.status_code == 200 and "claudewire_requests" in allowed.text


def test_metrics_port_serves_metrics_apart_and_the_main_port_stops() -> None:
    """With metrics_port, /metrics is on its own loopback listener (no token) and 404 on the main port."""
    with (
        run_sim(seed=0) as sim,
        run_gateway(sim.base_url, tokens=(TOKEN,), upstream_key=UPSTREAM_KEY, metrics_port=0) as gw,
    ):
        assert gw.gateway is not None and gw.gateway.metrics_address is not None
        host, port = gw.gateway.metrics_address
        apart = httpx2.get(f"http://{host}:{port}/metrics")
        forwarded = httpx2.get(f"http://{host}:{port}/v1/models")
        main = httpx2.get(gw.base_url + "/metrics", headers={"x-api-key": TOKEN})
        assert sim.stats.total == 0
    assert host == "127.0.0.1"
    assert apart.status_code == 200 and "claudewire_requests" in apart.text
    assert forwarded.status_code == 404 and main.status_code == 404


def test_banner_redacts_credentials_in_the_upstream_url(capsys: pytest.CaptureFixture[str]) -> None:
    """An upstream URL with user:password is printed without the password (nor a lone user part)."""
    for url in ("http://alice:sk-ant-api03-urlsecret-999@127.0.0.1:9", "http://urlsecret-lone@127.0.0.1:9"):
        config = GatewayConfig(upstream=url, port=0, access_log=None)
        _announce(config, SimpleNamespace(metrics_address=None), 1234)  # type: ignore[arg-type]
        out = capsys.readouterr().out
        assert "urlsecret" not in out and "127.0.0.1:9" in out
        assert "open files:" in out


def _keepalive_then(second: str) -> tuple[RawUpstream, list[int]]:
    """An upstream whose first connection answers one request and then, for the next, does `second`: closes at once
    ("die-at-once", as a connection the server had already dropped) or after 0.4 s ("die-later", it may have
    processed it). Later connections answer every request."""
    requests: list[int] = []
    body = b'{"data":[],"has_more":false,"first_id":null,"last_id":null}'
    answer = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%b" % (len(body), body)

    def serve(sock: socket.socket) -> None:
        first = not requests
        served = 0
        while read_request(sock) is not None:
            requests.append(1)
            if first and served == 1:
                if second == "die-later":
                    time.sleep(0.4)
                return
            sock.sendall(answer)
            served += 1

    return RawUpstream(serve), requests


def _sample(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def test_a_reused_connection_that_dies_after_the_request_was_taken_is_not_resent() -> None:
    """A pooled connection that closes 0.4 s after the request (it may have been processed) is not resent."""
    up, requests = _keepalive_then("die-later")
    with up, run_gateway(up.base_url, policy=Policy(max_retries=0)) as gw:
        assert httpx2.get(gw.base_url + "/v1/models").status_code == 200
        second = httpx2.get(gw.base_url + "/v1/models", timeout=20)
        metrics = httpx2.get(gw.base_url + "/metrics").text
    assert second.status_code == 502
    assert len(requests) == 2 and up.connections == 1  # sent once, not once more behind the policy's back
    assert _sample(metrics, "claudewire_upstream_resends_total") == 0


def test_a_pooled_connection_dead_at_once_is_resent_once_and_counted() -> None:
    """A pooled connection closed at once with no answer is replaced invisibly; the resend is counted apart."""
    up, requests = _keepalive_then("die-at-once")
    with up, run_gateway(up.base_url, policy=Policy(max_retries=0)) as gw:
        first = httpx2.get(gw.base_url + "/v1/models")
        second = httpx2.get(gw.base_url + "/v1/models")
        metrics = httpx2.get(gw.base_url + "/metrics").text
    assert (first.status_code, second.status_code) == (200, 200)
    assert up.connections == 2 and len(requests) == 3
    assert _sample(metrics, "claudewire_upstream_resends_total") == 1
    assert _sample(metrics, "claudewire_upstream_attempts_total") == 2  # the resend is not a policy attempt
