"""One canonical request target: every spelling of a route is judged, limited, logged and forwarded as that route."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claudewire.gateway import GatewayThread
from claudewire.gateway.downstream.clients import ClientSpec
from claudewire.gateway.downstream.request import canonical_target
from claudewire.sim import SimServer
from claudewire.testing import run_sim
from tests.conftest import SIM_MODEL
from tests.gateway.conftest import Answer, RawUpstream, address, ask, read_all, read_request, run_gateway

UPSTREAM_KEY = "sk-ant-api03-upstream-secret-0000000000"
HAIKU_ONLY = "cw-haiku-only-token-000000"  # may use SIM_MODEL only
ONE_A_MINUTE = "cw-one-a-minute-token-0000"  # one request a minute
OTHER_MODEL = "claude-opus-4-5"
SPELLINGS = [b"/v1/%6dessages", b"/v1/messages#frag", b"/v1/%6D%65ssages?beta=true", b"/v1/%6d%65%73%73%61%67%65%73"]


def _clients() -> tuple[ClientSpec, ...]:
    return (
        ClientSpec.from_mapping({"name": "haiku-only", "token": HAIKU_ONLY, "models": [SIM_MODEL]}, {}),
        ClientSpec.from_mapping({"name": "one-a-minute", "token": ONE_A_MINUTE, "requests_per_minute": 1}, {}),
    )


def _post(target: bytes, token: str, model: str = SIM_MODEL) -> bytes:
    body = json.dumps({"model": model, "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}).encode()
    return (
        b"POST " + target + b" HTTP/1.1\r\nhost: gw\r\nx-api-key: " + token.encode() + b"\r\n"
        b"anthropic-version: 2023-06-01\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body) + body
    )


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        (b"/v1/messages", b"/v1/messages"),
        (b"/v1/%6dessages", b"/v1/messages"),
        (b"/v1/%6D%65ssages?beta=true", b"/v1/messages?beta=true"),
        (b"/v1/messages?%62eta=%74rue", b"/v1/messages?beta=true"),
        (b"/v1/files/a%3ab", b"/v1/files/a%3Ab"),  # reserved characters stay encoded, in one case
        (b"/%68ealthz", b"/healthz"),
        (b"/v1/%7e%2D%5f", b"/v1/~-_"),
    ],
)
def test_canonical_target_decodes_unreserved_characters_only(raw: bytes, canonical: bytes) -> None:
    """Percent-encoded unreserved characters are decoded, other escapes kept (hex upper-cased), nothing else changed."""
    assert canonical_target(raw) == canonical


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"/v1/messages#frag", "fragment"),
        (b"/v1/%2e%2E/metrics", "dot segments"),
        (b"/v1/%2E/models", "dot segments"),
        (b"/v1%2fmessages", "encoded slashes"),
        (b"/v1/mess%zzages", "percent"),
        (b"/v1/messages%", "percent"),
        (b"//v1/models", "empty path segments"),
        (b"*", "must be a path"),
    ],
)
def test_canonical_target_refuses_what_cannot_be_forwarded(raw: bytes, why: str) -> None:
    """A fragment, dot segments (also encoded), encoded slashes and broken escapes are refused, with the reason."""
    found = canonical_target(raw)
    assert isinstance(found, str) and why in found


@pytest.fixture(scope="module")
def guarded() -> Iterator[tuple[SimServer, GatewayThread]]:
    """A gateway with a client allowed one model only and a client allowed one request a minute."""
    with run_sim(seed=0) as sim, run_gateway(sim.base_url, upstream_key=UPSTREAM_KEY, clients=_clients()) as gw:
        # the one-a-minute client spends its minute here, on the plain spelling
        assert ask(gw, _post(b"/v1/messages", ONE_A_MINUTE)).status == 200
        yield sim, gw


@pytest.mark.parametrize("target", SPELLINGS)
def test_a_spelling_of_messages_does_not_escape_the_model_allowlist(
    guarded: tuple[SimServer, GatewayThread], target: bytes
) -> None:
    """`/v1/%6dessages`, a fragment, mixed-case escapes: a model outside the client's list is refused, never sent."""
    sim, gw = guarded
    before = sim.stats.total
    answer = ask(gw, _post(target, HAIKU_ONLY, model=OTHER_MODEL))
    assert answer.status in (400, 403), answer.raw[:300]
    assert answer.error_type() in ("invalid_request_error", "permission_error")
    assert sim.stats.total == before


@pytest.mark.parametrize("target", SPELLINGS)
def test_a_spelling_of_messages_does_not_escape_the_rate_limit(
    guarded: tuple[SimServer, GatewayThread], target: bytes
) -> None:
    """A client that used its one request a minute is refused under every spelling of the route, nothing sent."""
    sim, gw = guarded
    before = sim.stats.total
    answer = ask(gw, _post(target, ONE_A_MINUTE))
    assert answer.status in (400, 429), answer.raw[:300]
    assert sim.stats.total == before


def test_the_canonical_target_is_what_is_forwarded_and_logged(tmp_path: Path) -> None:
    """An allowed call spelt `/v1/%6D%65ssages?beta=true` reaches the upstream and the access log as /v1/messages."""
    lines: list[bytes] = []

    def serve(sock: socket.socket) -> None:
        while (request := read_request(sock)) is not None:
            lines.append(request.split(b"\r\n", 1)[0])
            body = b'{"type":"message","model":"%b","usage":{"input_tokens":1,"output_tokens":1}}' % SIM_MODEL.encode()
            head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(body)
            sock.sendall(head + body)

    log = tmp_path / "access.log"
    with (
        RawUpstream(serve) as up,
        run_gateway(up.base_url, upstream_key=UPSTREAM_KEY, clients=_clients(), access_log=str(log)) as gw,
    ):
        answer = ask(gw, _post(b"/v1/%6D%65ssages?beta=true", HAIKU_ONLY))
    assert answer.status == 200
    assert lines == [b"POST /v1/messages?beta=true HTTP/1.1"]
    line = json.loads(log.read_text().splitlines()[-1])
    assert line["path"] == "/v1/messages" and line["route"] == "messages"


def test_a_target_that_decodes_to_metrics_is_judged_as_metrics() -> None:
    """`/%6detrics` is /metrics: in tokens mode it needs a token (401), it is not a 404 to be probed around."""
    with run_sim(seed=0) as sim, run_gateway(sim.base_url, upstream_key=UPSTREAM_KEY, clients=_clients()) as gw:
        answer = ask(gw, b"GET /%6detrics HTTP/1.1\r\nhost: gw\r\nconnection: close\r\n\r\n")
        health = ask(gw, b"GET /%68ealth%7a HTTP/1.1\r\nhost: gw\r\nconnection: close\r\n\r\n")
    assert answer.status == 401 and answer.error_type() == "authentication_error"
    assert health.status == 200 and health.json() == {"status": "ok"}


_UNRESERVED_IN_ROUTE = frozenset(b"v1messages")


@st.composite
def spellings(draw: st.DrawFn) -> bytes:
    """`/v1/messages` with any of its letters and digits percent-encoded (either hex case), maybe a query string."""
    out = bytearray()
    for byte in b"/v1/messages":
        if byte in _UNRESERVED_IN_ROUTE and draw(st.booleans()):
            hexed = b"%02x" % byte
            out += b"%" + (hexed.upper() if draw(st.booleans()) else hexed)
        else:
            out.append(byte)
    return bytes(out) + draw(st.sampled_from([b"", b"?beta=true", b"?", b"?%62eta=true"]))


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(target=spellings())
def test_no_spelling_of_messages_escapes_the_clients_limits(
    guarded: tuple[SimServer, GatewayThread], target: bytes
) -> None:
    """Random percent-encodings of /v1/messages: the allowlist and the rate limit hold for every one, none is sent."""
    sim, gw = guarded
    before = sim.stats.total
    with socket.create_connection(address(gw), timeout=5) as sock:
        # both calls on one keep-alive connection: the second is framed by the first's answer
        sock.sendall(_post(target, HAIKU_ONLY, model=OTHER_MODEL).replace(b"connection: close\r\n", b""))
        sock.sendall(_post(target, ONE_A_MINUTE))
        raw = read_all(sock)
    first_end = raw.index(b"\r\n\r\n")
    length = int(Answer(raw).headers["content-length"])
    forbidden, limited = Answer(raw[: first_end + 4 + length]), Answer(raw[first_end + 4 + length :])
    assert forbidden.status == 403 and forbidden.error_type() == "permission_error", (target, forbidden.raw[:300])
    assert limited.status == 429 and limited.error_type() == "rate_limit_error", (target, limited.raw[:300])
    assert sim.stats.total == before
