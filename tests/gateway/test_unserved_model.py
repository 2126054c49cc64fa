"""A model no upstream serves is the caller's mistake: a 404 naming it and the models served, sent nowhere, never
retried, and no breaker counts it."""

from __future__ import annotations

import anthropic
import httpx2
import pytest

from claudewire.gateway import GatewayConfig, GatewayThread
from claudewire.gateway.upstream.specs import UpstreamSpec
from claudewire.testing import FastClock, run_sim
from tests.conftest import SIM_KEY, SIM_MODEL
from tests.gateway.conftest import ROOMY

MESSAGES = [{"role": "user", "content": "hello"}]


def test_a_model_no_upstream_serves_is_a_404_naming_it_and_sent_nowhere() -> None:
    """A typo'd model with every upstream listing its models: 404 not_found_error, x-should-retry: false, the
    model and the served ones named; nothing reaches an upstream and every breaker stays closed."""
    with run_sim(seed=0) as opus, run_sim(seed=0) as haiku:
        specs = (
            UpstreamSpec("opus", opus.base_url, models=("claude-opus-4-5",)),
            UpstreamSpec("haiku", haiku.base_url, models=(SIM_MODEL,), priority=1),
        )
        config = GatewayConfig(upstreams=specs, port=0, policy=ROOMY, access_log=None)
        with GatewayThread(config, clock=FastClock()) as gw:
            body = {"model": "claude-opsu-4-5", "max_tokens": 8, "messages": MESSAGES}
            with httpx2.Client(base_url=gw.base_url, timeout=10) as http:
                answers = [http.post("/v1/messages", json=body, headers={"x-api-key": SIM_KEY}) for _ in range(20)]
                ready = http.get("/readyz").json()
            client = anthropic.Anthropic(base_url=gw.base_url, api_key=SIM_KEY, max_retries=2)
            with pytest.raises(anthropic.NotFoundError, match="claude-opsu-4-5"):
                client.messages.create(model="claude-opsu-4-5", max_tokens=8, messages=MESSAGES)  # type: ignore[arg-type]
            served = client.messages.create(model=SIM_MODEL, max_tokens=8, messages=MESSAGES)  # type: ignore[arg-type]
    first = answers[0]
    assert {a.status_code for a in answers} == {404}
    assert first.headers["x-should-retry"] == "false"
    error = first.json()["error"]
    assert error["type"] == "not_found_error"
    assert "claude-opsu-4-5" in error["message"]
    assert "claude-opus-4-5" in error["message"] and SIM_MODEL in error["message"]
    assert "breaker" not in error["message"]
    assert (opus.stats.total, haiku.stats.total) == (0, 1)  # the typo never left; the good call was served
    assert served.content
    assert ready["status"] == "ready"
    assert {k["state"] for u in ready["upstreams"] for k in u["keys"]} == {"closed"}
