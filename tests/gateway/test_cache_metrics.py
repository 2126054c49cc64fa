"""Prompt caching through the gateway: creation then read tokens, and metrics and hit ratio that agree with usage."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx2
from prometheus_client.parser import text_string_to_metric_families

from claudewire.testing import run_sim
from claudewire.top import Watch, parse
from tests.conftest import SIM_KEY, SIM_MODEL
from tests.gateway.conftest import run_gateway

LONG = "Every request of this test carries the same long system prompt, so its prefix is cached. " * 300


def _body(question: str) -> dict[str, Any]:
    system = [{"type": "text", "text": LONG, "cache_control": {"type": "ephemeral"}}]
    return {"model": SIM_MODEL, "max_tokens": 16, "system": system, "messages": [{"role": "user", "content": question}]}


def test_two_cacheable_requests_create_then_read_and_the_metrics_agree() -> None:
    """Plain then streamed: the first writes the cache, the second reads it; /metrics and top's ratio match usage."""
    with run_sim(seed=0) as sim, run_gateway(sim.base_url) as gw:
        client = anthropic.Anthropic(base_url=gw.base_url, api_key=SIM_KEY, max_retries=0)
        first = client.messages.create(**_body("First?")).usage
        with client.messages.stream(**_body("Second?")) as stream:
            second = stream.get_final_message().usage
        text = httpx2.get(gw.base_url + "/metrics").text
        assert gw.gateway is not None
        upstream = gw.gateway.config.upstreams[0].name
    assert first.cache_creation_input_tokens and not first.cache_read_input_tokens
    assert second.cache_read_input_tokens == first.cache_creation_input_tokens
    assert not second.cache_creation_input_tokens
    scrape = parse(text, at=0.0)
    tokens = {kind: scrape.tokens.get((SIM_MODEL, kind), 0.0) for kind in ("input", "cache_read", "cache_creation")}
    assert tokens["cache_creation"] == first.cache_creation_input_tokens
    assert tokens["cache_read"] == second.cache_read_input_tokens
    assert tokens["input"] == first.input_tokens + second.input_tokens
    prompt = sum(u.input_tokens + (u.cache_read_input_tokens or 0) + (u.cache_creation_input_tokens or 0)
                 for u in (first, second))  # fmt: skip
    view = Watch().add(scrape)
    assert view.cache_hit_ratio == second.cache_read_input_tokens / prompt
    assert 0.45 < view.cache_hit_ratio < 0.5  # one write, one read of the same prefix
    outcomes = {
        (s.labels["outcome"], s.labels["upstream"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "claudewire_prompt_cache_requests_total"
    }
    assert outcomes == {("miss", upstream): 1.0, ("hit", upstream): 1.0}  # by the upstream that answered
