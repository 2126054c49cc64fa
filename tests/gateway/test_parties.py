"""Every error the gateway writes names who must act: the caller, the gateway's operator, or the operator for a
named upstream; the request id is the answer's own; no template placeholder reaches a body."""

from __future__ import annotations

import json
import re
import socket
from typing import Any

import anthropic
import pytest

from claudewire._errors import Failure, FailureKind
from claudewire._messages import WHO_ACTS, Party
from claudewire.gateway.downstream.errors import UpstreamRef, error_answer, sse_error_event
from claudewire.gateway.downstream.limits import refusal
from claudewire.gateway.upstream.specs import UpstreamSpec
from claudewire.policy import Policy
from claudewire.testing import run_sim
from tests.conftest import SIM_KEY, SIM_MODEL
from tests.gateway.conftest import ask, run_gateway
from tests.gateway.test_failover import pool_gateway

K = FailureKind
MESSAGES: list[Any] = [{"role": "user", "content": "hello"}]
BACKUP = UpstreamRef("backup", "http://10.0.0.5:8787")
UPSTREAM_KINDS = {
    K.DNS, K.CONNECT_REFUSED, K.CONNECT_TIMEOUT, K.PROXY, K.TLS_VERSION, K.CERTIFICATE, K.READ_TIMEOUT,
    K.CONNECTION_RESET, K.NOT_ANTHROPIC, K.TIMEOUT, K.SERVER, K.STREAM_INTERRUPTED, K.CIRCUIT_OPEN, K.NO_RESPONSE,
}  # fmt: skip
CALLER_KINDS = {K.NOT_FOUND, K.INVALID_REQUEST, K.CONFLICT}
# what the taxonomy tells someone calling the API directly, wrong when the gateway wrote the error
CLIENT_WORDS = ("Check ANTHROPIC_BASE_URL", "create a new key in the Console", "larger than the API accepts")


def _dead_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"  # closed again: nothing listens there


def _message(body: bytes) -> str:
    data = json.loads(body)
    assert data["type"] == "error" and isinstance(data["error"]["message"], str)
    return str(data["error"]["message"])


def _assert_worded(message: str) -> None:
    assert message.startswith("claudewire gateway: ")
    assert "Who acts: " in message and " Fix: " in message
    assert "{" not in message and "}" not in message, message  # no template placeholder, filled or not
    for words in CLIENT_WORDS:
        assert words not in message


@pytest.mark.parametrize("kind", list(FailureKind))
def test_every_kind_the_gateway_writes_names_its_party_and_no_placeholder(kind: FailureKind) -> None:
    """Each failure kind, as an answer and as a mid-stream event, with and without a named upstream: the party is
    the upstream's operator for upstream failures, the caller for its own mistakes, else the gateway's operator."""
    failure = Failure.of(kind, retry_after=7.5, message="what happened")
    expected = Party.UPSTREAM if kind in UPSTREAM_KINDS else Party.CALLER if kind in CALLER_KINDS else Party.OPERATOR
    for upstreams in ((), (BACKUP,)):
        answer = error_answer(failure, request_id="gw_1", upstreams=upstreams)
        message = _message(answer.body)
        _assert_worded(message)
        assert answer.party is expected
        assert "(what happened)" in message
        event = sse_error_event(failure, upstreams=upstreams)
        assert event.startswith(b"event: error\ndata: ") and event.endswith(b"\n\n")
        _assert_worded(_message(event.split(b"data: ", 1)[1]))
        if expected is Party.UPSTREAM:
            assert f"{WHO_ACTS[Party.UPSTREAM]} " in message and "nothing on the caller's side" in message
            if upstreams:
                assert message.startswith("claudewire gateway: upstream `backup` at http://10.0.0.5:8787: ")
                fix = message.split("Fix: ")[1]
                assert "pstream `backup`" in fix or BACKUP.url in fix  # (U|u)pstream
        else:
            assert WHO_ACTS[expected] in message


def test_a_breaker_answer_says_how_long_in_seconds() -> None:
    """The breaker's fix gives the cooldown left as a number (never a placeholder like `(retry_after)`)."""
    answer = error_answer(Failure.of(K.CIRCUIT_OPEN, retry_after=12.2), upstreams=(BACKUP,))
    message = _message(answer.body)
    assert "about 13s more" in message and "retry_after" not in message
    assert "claudewire doctor --base-url http://10.0.0.5:8787" in message
    assert b"retry-after: 13\r\n" in answer.headers


@pytest.mark.parametrize(
    ("status", "party"), [(400, Party.CALLER), (405, Party.CALLER), (431, Party.CALLER), (529, Party.OPERATOR)]
)
def test_http_layer_refusals_name_their_party(status: int, party: Party) -> None:
    """The HTTP layer's own refusals say who acts: the caller for a 4xx, the gateway's operator for its limits."""
    raw = refusal(status, "invalid_request_error", "some limit (max_something)", close=True)
    message = _message(raw.partition(b"\r\n\r\n")[2])
    assert message == f"claudewire gateway: some limit (max_something) {WHO_ACTS[party]}"


def test_an_upstream_that_refuses_is_named_with_the_answers_own_request_id() -> None:
    """Primary 529s (with its request-id), backup refuses the connection: the 502 names upstream `backup` and its URL
    for the gateway's operator, not the caller's ANTHROPIC_BASE_URL, and carries the gateway's own request id."""
    dead = _dead_url()
    policy = Policy(max_retries=1)
    with run_sim(seed=0, faults=["529:1.0"]) as sim:
        specs = (UpstreamSpec("primary", sim.base_url), UpstreamSpec("backup", dead, priority=1))
        with pool_gateway(*specs, policy=policy) as gw, pytest.raises(anthropic.APIStatusError) as info:
            client = anthropic.Anthropic(base_url=gw.base_url, api_key=SIM_KEY, max_retries=0)
            client.messages.create(model=SIM_MODEL, max_tokens=16, messages=MESSAGES)
        tried = len(sim.requests)
    assert tried == 1 and info.value.status_code == 502
    body = info.value.body
    assert isinstance(body, dict)
    message = body["error"]["message"]
    _assert_worded(message)
    assert message.startswith(f"claudewire gateway: upstream `backup` at {dead}: The connection was refused")
    assert "Who acts: the gateway's operator, for upstream `backup`; nothing on the caller's side." in message
    assert f"Nothing listens at {dead}: start upstream `backup`" in message
    rid = info.value.response.headers["request-id"]
    assert rid.startswith("gw_") and body["request_id"] == rid


def test_a_wrong_gateway_token_is_sent_to_the_gateways_operator_not_the_console() -> None:
    """A wrong gateway token: check the token you were given, ask the gateway's operator; no Console key advice."""
    with run_sim(seed=0) as sim, run_gateway(sim.base_url, tokens=("cw-right-token",), upstream_key=SIM_KEY) as gw:
        client = anthropic.Anthropic(base_url=gw.base_url, api_key="cw-wrong-token", max_retries=0)
        with pytest.raises(anthropic.AuthenticationError) as info:
            client.messages.create(model=SIM_MODEL, max_tokens=16, messages=MESSAGES)
    message = info.value.body["error"]["message"]  # type: ignore[index]
    _assert_worded(message)
    assert "Check the gateway token you were given" in message and "ask the gateway's operator" in message
    assert WHO_ACTS[Party.OPERATOR] in message


def test_a_body_over_the_gateways_limit_names_that_limit_and_its_setting() -> None:
    """A 413 from the gateway's body_limit says it is the gateway's limit and how it is set."""
    with run_sim(seed=0) as sim, run_gateway(sim.base_url, body_limit=2000) as gw:
        client = anthropic.Anthropic(base_url=gw.base_url, api_key=SIM_KEY, max_retries=0)
        big: list[Any] = [{"role": "user", "content": "x" * 5000}]
        with pytest.raises(anthropic.APIStatusError) as info:
            client.messages.create(model=SIM_MODEL, max_tokens=16, messages=big)
        forwarded = len(sim.requests)
    assert info.value.status_code == 413 and forwarded == 0
    message = info.value.body["error"]["message"]  # type: ignore[index]
    _assert_worded(message)
    assert "larger than this gateway's body limit" in message and "--body-limit" in message
    assert "(body over 2000 bytes)" in message


def test_an_open_breaker_names_the_upstream_and_the_seconds_left() -> None:
    """With its breaker open the gateway's 529 names the upstream, the seconds left, and no placeholder."""
    policy = Policy(max_retries=0, breaker_failures=2, breaker_cooldown=30.0)
    with run_sim(seed=0, faults=["503:1.0"]) as sim, run_gateway(sim.base_url, policy=policy) as gw:
        client = anthropic.Anthropic(base_url=gw.base_url, api_key=SIM_KEY, max_retries=0)
        for _ in range(3):
            with pytest.raises(anthropic.APIStatusError) as info:
                client.messages.create(model=SIM_MODEL, max_tokens=16, messages=MESSAGES)
    assert info.value.status_code == 529
    message = info.value.body["error"]["message"]  # type: ignore[index]
    _assert_worded(message)
    assert f"at {sim.base_url}: claudewire's circuit breaker is open" in message
    assert re.search(r"cooldown ends \(about \d+s more\)", message)


@pytest.mark.parametrize(
    ("raw", "party"),
    [
        (b"GET /v2/messages HTTP/1.1\r\nHost: x\r\nconnection: close\r\n\r\n", Party.CALLER),
        (b"BREW /v1/messages HTTP/1.1\r\nHost: x\r\nconnection: close\r\n\r\n", Party.CALLER),
    ],
)
def test_the_callers_own_mistakes_name_the_caller(raw: bytes, party: Party) -> None:
    """An unknown path or a method not forwarded is the caller's to fix, and says so."""
    with run_sim(seed=0) as sim, run_gateway(sim.base_url) as gw:
        answer = ask(gw, raw)
    message = answer.json()["error"]["message"]
    assert WHO_ACTS[party] in message and "{" not in message


def test_explain_gives_the_fix_the_gateway_wrote_for_its_party() -> None:
    """`explain` of a gateway-written error keeps its kind and gives the gateway's own fix: the upstream's for an
    upstream failure (with the gateway-side checks), the token advice for a 401, never the API caller's words."""
    from claudewire.explain import explain

    refused = error_answer(Failure.of(K.CONNECT_REFUSED, message="[Errno 111] Connection refused"), upstreams=(BACKUP,))
    failure = explain(f"API Error: 502 {refused.body.decode()}")
    assert failure.kind is K.CONNECT_REFUSED
    assert failure.fix.startswith("Nothing listens at http://10.0.0.5:8787: start upstream `backup`")
    assert "/readyz" in failure.fix and "ANTHROPIC_BASE_URL" not in failure.fix
    token = error_answer(Failure.of(K.AUTH, message="missing or wrong gateway token"))
    failure = explain(f"anthropic.AuthenticationError: Error code: 401 - {json.loads(token.body)}")
    assert failure.kind is K.AUTH
    assert failure.fix.startswith("Check the gateway token you were given")
    assert "create a new key" not in failure.fix
