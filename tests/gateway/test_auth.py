"""Keys off laptops: clients present gateway tokens, the gateway sends the upstream key; neither leaks."""

from __future__ import annotations

from pathlib import Path

import anthropic
import httpx2
import pytest

from claudewire.testing import run_sim
from tests.conftest import SIM_MODEL
from tests.gateway.conftest import run_gateway

UPSTREAM_KEY = "sk-ant-api03-upstream-secret-0000000000"
TOKEN = "cw-token-alpha-1234567890"
MESSAGES = [{"role": "user", "content": "hello"}]


def test_token_is_swapped_for_the_upstream_key(access_log: Path) -> None:
    """A valid token (x-api-key or Bearer) is accepted and the upstream sees only the gateway's key."""
    with (
        run_sim(seed=0) as sim,
        run_gateway(
            sim.base_url, tokens=(TOKEN, "cw-other"), upstream_key=UPSTREAM_KEY, access_log=str(access_log)
        ) as gw,
    ):
        bearer = anthropic.Anthropic(base_url=gw.base_url, api_key=TOKEN, max_retries=0)
        assert bearer.messages.create(model=SIM_MODEL, max_tokens=8, messages=MESSAGES).content
        seen_bearer = sim.requests[-1].headers
        body = {"model": SIM_MODEL, "max_tokens": 8, "messages": MESSAGES}
        plain = httpx2.post(
            gw.base_url + "/v1/messages",
            json=body,
            headers={"x-api-key": "cw-other", "anthropic-version": "2023-06-01"},
        )
        seen_plain = sim.requests[-1].headers
        metrics = httpx2.get(gw.base_url + "/metrics", headers={"authorization": f"Bearer {TOKEN}"}).text
    assert plain.status_code == 200
    for seen in (seen_bearer, seen_plain):
        assert seen["x-api-key"] == UPSTREAM_KEY
        assert "authorization" not in seen
    logged = access_log.read_text()
    for secret in (UPSTREAM_KEY, TOKEN, "cw-other"):
        assert secret not in logged and secret not in metrics


@pytest.mark.parametrize("headers", [{}, {"x-api-key": "cw-wrong"}, {"authorization": "Bearer cw-token-alpha"}])
def test_missing_or_wrong_token_is_401_and_never_forwarded(headers: dict[str, str]) -> None:
    """No token, a wrong one or a prefix of a real one: 401 authentication_error, nothing sent upstream."""
    with run_sim(seed=0) as sim, run_gateway(sim.base_url, tokens=(TOKEN,), upstream_key=UPSTREAM_KEY) as gw:
        response = httpx2.post(gw.base_url + "/v1/messages", json={"model": SIM_MODEL}, headers=headers)
        assert sim.stats.total == 0
    assert response.status_code == 401
    error = response.json()
    assert error["type"] == "error" and error["error"]["type"] == "authentication_error"
    assert "gateway token" in error["error"]["message"]
    assert UPSTREAM_KEY not in response.text


def test_sdk_sees_authentication_error_for_a_bad_token() -> None:
    """The official SDK raises its own AuthenticationError for a rejected gateway token."""
    with run_sim(seed=0) as sim, run_gateway(sim.base_url, tokens=(TOKEN,), upstream_key=UPSTREAM_KEY) as gw:
        client = anthropic.Anthropic(base_url=gw.base_url, api_key="cw-nope", max_retries=0)
        with pytest.raises(anthropic.AuthenticationError):
            client.messages.create(model=SIM_MODEL, max_tokens=8, messages=MESSAGES)
