"""Every error an OpenAI client can meet through the ingress, in OpenAI's envelope and raised as the SDK's own class:
the upstream's (its status and message kept, retry-after kept, rate-limit headers renamed) and the gateway's."""

from __future__ import annotations

from typing import Any

import httpx2
import openai
import pytest

from claudewire.gateway.downstream.clients import ClientSpec
from claudewire.gateway.upstream.specs import UpstreamSpec
from claudewire.policy import Policy, RetryBudget
from tests.gateway.openai.conftest import client, ingress
from tests.gateway.test_failover import pool_gateway

HELLO: list[Any] = [{"role": "user", "content": "hello"}]
NO_RETRIES = Policy(max_retries=0, retry_budget=RetryBudget(min_retries=1000))
TOKEN = "cw-openai-client-token-0001"
UPSTREAM_KEY = "sk-ant-api03-held-by-the-gateway-0000"


def _envelope(exc: openai.APIStatusError) -> dict[str, Any]:
    body = exc.body
    assert isinstance(body, dict) and set(body) >= {"message", "type", "param", "code"}, body
    return body


@pytest.mark.parametrize(
    ("fault", "status", "kind", "error_type"),
    [
        ("400", 400, openai.BadRequestError, "invalid_request_error"),
        ("401", 401, openai.AuthenticationError, "authentication_error"),
        ("403", 403, openai.PermissionDeniedError, "permission_error"),
        ("404", 404, openai.NotFoundError, "not_found_error"),
        ("429:1.0,retry_after=7", 429, openai.RateLimitError, "rate_limit_error"),
        ("529", 529, openai.InternalServerError, "overloaded_error"),
    ],
)
def test_upstream_errors_raise_the_sdks_class_with_status_type_and_message(
    fault: str, status: int, kind: type[openai.APIStatusError], error_type: str
) -> None:
    """Each upstream error status reaches the OpenAI SDK unchanged, as its class, with the Anthropic type kept."""
    with ingress(faults=[fault], gateway={"policy": NO_RETRIES}) as (_, gw), pytest.raises(kind) as caught:
        client(gw).chat.completions.create(model="cw-haiku", messages=HELLO)
    exc = caught.value
    assert exc.status_code == status
    body = _envelope(exc)
    assert body["type"] == error_type and body["message"]
    if status == 429:
        assert exc.response.headers["retry-after"] == "7"
        assert not any(h.startswith("anthropic-ratelimit-") for h in exc.response.headers)


def test_a_body_the_translator_refuses_is_a_400_naming_the_param() -> None:
    """n > 1 is refused before anything is sent: BadRequestError with param n; the upstream sees nothing."""
    with ingress() as (sim, gw):
        with pytest.raises(openai.BadRequestError) as caught:
            client(gw).chat.completions.create(model="cw-haiku", messages=HELLO, n=2)
        assert sim.stats.total == 0
    assert _envelope(caught.value)["param"] == "n"


def test_gateway_token_errors_and_client_limits_are_in_openais_envelope() -> None:
    """Tokens mode: a wrong token is a 401, a model off the client's list a 403, its used-up limit a 429 with
    retry-after and x-ratelimit-* headers; a good token is served with the gateway's key."""
    spec = ClientSpec.from_mapping(
        {"name": "cursor-team", "token": TOKEN, "requests_per_minute": 2, "models": ["claude-haiku-4-5"]}, {}
    )
    overrides = {"clients": (spec,), "upstream_key": UPSTREAM_KEY, "policy": NO_RETRIES}
    with ingress(gateway=overrides) as (sim, gw):
        with pytest.raises(openai.AuthenticationError) as wrong:
            client(gw, api_key="cw-not-a-token").chat.completions.create(model="cw-haiku", messages=HELLO)
        api = client(gw, api_key=TOKEN)
        with pytest.raises(openai.PermissionDeniedError) as forbidden:
            api.chat.completions.create(model="cw-opus", messages=HELLO)
        assert api.chat.completions.create(model="cw-haiku", messages=HELLO).choices[0].message.content
        assert sim.requests[-1].api_key == UPSTREAM_KEY
        with pytest.raises(openai.RateLimitError) as limited:
            for _ in range(3):
                api.chat.completions.create(model="cw-haiku", messages=HELLO)
    assert _envelope(wrong.value)["type"] == "authentication_error"
    assert "claude-opus-5-5" in _envelope(forbidden.value)["message"]
    headers = limited.value.response.headers
    assert int(headers["retry-after"]) >= 1 and headers["x-ratelimit-limit-requests"] == "2"
    assert "anthropic-ratelimit-requests-limit" not in headers


def test_a_model_no_upstream_serves_is_a_404_from_the_gateway() -> None:
    """Every upstream lists its models: another model is the gateway's own 404, in OpenAI's envelope, sent nowhere."""
    with ingress() as (sim, _):
        spec = UpstreamSpec("only", sim.base_url, models=("claude-haiku-4-5",))
        with pool_gateway(spec) as gw, pytest.raises(openai.NotFoundError) as caught:
            client(gw).chat.completions.create(model="claude-opus-5-5", messages=HELLO)
        assert not [r for r in sim.requests if r.path == "/v1/messages"]
    assert "claude-opus-5-5" in _envelope(caught.value)["message"]


def test_an_open_breaker_is_a_529_in_openais_envelope() -> None:
    """Once the breaker is open the gateway answers itself: 529 overloaded_error, which the SDK raises."""
    with ingress(faults=["529"], gateway={"policy": Policy(max_retries=0, breaker_failures=2)}) as (sim, gw):
        api = client(gw)
        for _ in range(2):
            with pytest.raises(openai.InternalServerError):
                api.chat.completions.create(model="cw-haiku", messages=HELLO)
        seen = sim.stats.total
        with pytest.raises(openai.APIStatusError) as caught:
            api.chat.completions.create(model="cw-haiku", messages=HELLO)
        assert sim.stats.total == seen  # answered by the gateway
    assert caught.value.status_code == 529
    assert "claudewire gateway" in _envelope(caught.value)["message"]


def test_a_mid_stream_error_ends_the_stream_with_an_openai_error() -> None:
    """An upstream error after content was streamed: the SDK raises APIError from the stream's error chunk."""
    with ingress(faults=["midstream_error:1.0,after=2"], gateway={"policy": NO_RETRIES}) as (_, gw):
        stream = client(gw).chat.completions.create(model="cw-haiku", messages=HELLO, stream=True)
        parts: list[str] = []
        with pytest.raises(openai.APIError) as caught:
            for chunk in stream:
                parts.append(chunk.choices[0].delta.content or "" if chunk.choices else "")
    assert "".join(parts)  # content came first
    assert "overloaded" in str(caught.value).lower() or "overloaded" in str(caught.value.body).lower()


def test_a_stream_refused_before_its_first_token_is_an_error_status_not_a_stream() -> None:
    """Streamed, the upstream answers 529 on every try: the caller gets a 529 status, never a started stream."""
    with ingress(faults=["529"], gateway={"policy": NO_RETRIES}) as (_, gw):
        answer = httpx2.post(
            gw.base_url + "/v1/chat/completions",
            json={"model": "cw-haiku", "messages": HELLO, "stream": True},
            headers={"authorization": "Bearer sk-ant-sim-test-0123456789"},
        )
    assert answer.status_code == 529
    assert answer.json()["error"]["type"] == "overloaded_error"


def test_the_wrong_method_on_an_ingress_route_is_a_405() -> None:
    """The wrong method on an ingress route is a 405 in OpenAI's envelope."""
    with ingress() as (_, gw):
        answer = httpx2.get(gw.base_url + "/v1/chat/completions")
    assert answer.status_code == 405 and answer.json()["error"]["type"] == "invalid_request_error"
