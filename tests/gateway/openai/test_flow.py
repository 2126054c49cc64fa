"""A translated call rides the gateway's own call flow: failover, the record and metrics with its dialect, the prompt
cache kept, Cursor's request bodies and Azure's deployment route."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx2
import openai
from prometheus_client.parser import text_string_to_metric_families

from claudewire.gateway.openai.settings import OpenAISettings
from claudewire.gateway.upstream.specs import UpstreamSpec
from claudewire.testing import run_sim
from tests.conftest import SIM_KEY
from tests.gateway.openai.conftest import ALIASES, client, ingress, tapped
from tests.gateway.test_failover import pool_gateway

FIXTURES = Path(__file__).resolve().parents[2] / "dialects" / "fixtures"
HELLO: list[Any] = [{"role": "user", "content": "hello"}]
BEARER = {"authorization": f"Bearer {SIM_KEY}"}


def _sample(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return 0.0


def test_an_openai_client_fails_over_from_an_always_529_upstream(tmp_path: Path) -> None:
    """Primary always 529: the OpenAI client gets 200 (plain and streamed); the record and metrics show the
    failover, with dialect chat."""
    log = tmp_path / "access.log"
    settings = OpenAISettings(models=ALIASES)
    with run_sim(seed=0, faults=["529:1.0"]) as primary, run_sim(seed=0) as backup:
        specs = (UpstreamSpec("primary", primary.base_url), UpstreamSpec("backup", backup.base_url, priority=1))
        with pool_gateway(*specs, openai=settings, access_log=str(log)) as gw:
            api = client(gw)
            answer = api.chat.completions.create(model="cw-haiku", messages=HELLO)
            streamed = [c for c in api.chat.completions.create(model="cw-haiku", messages=HELLO, stream=True)]
            assert gw.gateway is not None
            metrics = gw.gateway.metrics.render().decode()
    assert answer.choices[0].message.content
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
    assert primary.stats.total >= 1 and backup.stats.total == 2
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["dialect"], r["status"], r["upstream"]) for r in lines] == [("chat", 200, "backup")] * 2
    assert lines[0]["tried"] == ["primary", "backup"] and lines[0]["path"] == "/v1/chat/completions"
    assert lines[0]["model"].startswith("claude-haiku-4-5")
    ok = {"route": "messages", "dialect": "chat", "status_class": "2xx", "error_kind": "none"}
    assert _sample(metrics, "claudewire_requests_total", **ok) == 2
    assert _sample(metrics, "claudewire_upstream_failovers_total", to="backup", reason="overloaded") >= 1


def test_a_retry_before_the_first_token_stays_invisible_to_a_streaming_client() -> None:
    """The upstream's first answer is a 529: the gateway retries before anything reaches the stream's caller."""
    with ingress(faults=["529:1.0,count=1"]) as (sim, gw):
        chunks = list(client(gw).chat.completions.create(model="cw-haiku", messages=HELLO, stream=True))
        assert sim.stats.total == 2
    assert chunks[0].choices[0].delta.role == "assistant"
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.role) == 1  # one stream, begun once


def test_the_prompt_cache_is_kept_through_the_translation() -> None:
    """Two chat requests with the same cache_control prefix: the second reports cached_tokens > 0."""
    long_system = "You are a careful assistant. " * 1500  # well past the minimum cacheable prefix
    messages: list[Any] = [
        {"role": "system", "content": [{"type": "text", "text": long_system, "cache_control": {"type": "ephemeral"}}]},
        {"role": "user", "content": "hello"},
    ]
    with ingress() as (_, gw):
        api = client(gw)
        first = api.chat.completions.create(model="cw-haiku", messages=messages)
        second = api.chat.completions.create(model="cw-haiku", messages=messages)
    assert first.usage is not None and second.usage is not None
    assert first.usage.prompt_tokens_details is not None and second.usage.prompt_tokens_details is not None
    assert first.usage.prompt_tokens_details.cached_tokens == 0
    assert second.usage.prompt_tokens_details.cached_tokens > 0
    assert second.usage.prompt_tokens == first.usage.prompt_tokens  # cached tokens counted in the prompt


def test_cursor_agent_and_ask_bodies_replayed_get_chat_completion_streams() -> None:
    """Cursor's agent body (Responses-shaped) and ask body (chat with system blocks, object tool_choice,
    cache_control) on /cursor/chat/completions: each answered with chat.completion.chunk SSE ending in [DONE]."""
    settings = OpenAISettings(models=ALIASES | {"cw-sonnet": "claude-sonnet-5-5"}, min_max_tokens={"cursor": 8192})
    with tapped(gateway={"openai": settings}) as (tap, gw):
        answers = []
        for name in ("cursor_agent.json", "cursor_ask.json"):
            body = json.loads((FIXTURES / name).read_text())
            answers.append(httpx2.post(gw.base_url + "/cursor/chat/completions", json=body, headers=BEARER))
        sent = tap.bodies[-2:]
    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("text/event-stream")
        frames = [line[6:] for line in answer.text.split("\n") if line.startswith("data: ")]
        assert frames[-1] == "[DONE]"
        chunks = [json.loads(f) for f in frames[:-1]]
        assert all(c["object"] == "chat.completion.chunk" for c in chunks)
        assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0  # include_usage
    agent, ask = sent
    assert agent["model"] == ask["model"] == "claude-sonnet-5-5"
    # its replayed tool call carries no signed thinking: thinking stays off rather than an invented block (a 400)
    assert "thinking" not in agent and agent["max_tokens"] >= 8192
    assert ask["max_tokens"] == 8192  # Cursor's 1024 raised to the route's floor
    assert ask["tools"][0]["cache_control"] == {"type": "ephemeral"}


def test_azure_deployment_route_selects_the_model_by_name() -> None:
    """POST /openai/deployments/cw-haiku/chat/completions?api-version=...: the AzureOpenAI client is served."""
    with tapped() as (tap, gw):
        api = openai.AzureOpenAI(
            azure_endpoint=gw.base_url, api_key=SIM_KEY, api_version="2024-10-21", azure_deployment="cw-haiku"
        )
        answer = api.chat.completions.create(model="ignored-by-azure", messages=HELLO)
        sent = tap.bodies[-1]
        assert tap.sim.requests[-1].api_key == SIM_KEY  # Azure's api-key header went upstream as x-api-key
    assert answer.choices[0].message.content and sent["model"] == "claude-haiku-4-5"


def test_an_oauth_bearer_stays_a_bearer_and_an_api_key_becomes_x_api_key() -> None:
    """Bearer sk-ant-oat... goes upstream as Authorization: Bearer; any other bearer as x-api-key."""
    with ingress() as (sim, gw):
        oauth = "sk-ant-oat01-sim-oauth-token-0000"
        httpx2.post(
            gw.base_url + "/v1/chat/completions",
            json={"model": "cw-haiku", "messages": HELLO},
            headers={"authorization": f"Bearer {oauth}"},
        )
        seen = sim.requests[-1].headers
    assert seen["authorization"] == f"Bearer {oauth}" and "x-api-key" not in seen
