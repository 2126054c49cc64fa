"""claudewire.Anthropic(metrics=...) counts streamed tokens: message_start and message_delta usage, cache too."""

from __future__ import annotations

import asyncio
from typing import Any

from prometheus_client import CollectorRegistry

import claudewire
from claudewire.policy import upstream_key
from claudewire.testing import FastClock, run_sim
from tests.conftest import SIM_KEY, SIM_MODEL

LONG = "A system prompt long enough to be cached by the simulator, repeated on every request here. " * 300


def _body(question: str = "Hi?") -> dict[str, Any]:
    system = [{"type": "text", "text": LONG, "cache_control": {"type": "ephemeral"}}]
    return {"model": SIM_MODEL, "max_tokens": 16, "system": system, "messages": [{"role": "user", "content": question}]}


def _tokens(registry: CollectorRegistry, kind: str) -> float:
    return registry.get_sample_value("claudewire_tokens_total", {"model": SIM_MODEL, "kind": kind}) or 0.0


def test_a_stream_counts_input_output_and_cache_tokens() -> None:
    """A plain call writes the cache, a streamed repeat reads it: both streams' tokens match what the SDK saw."""
    registry = CollectorRegistry()
    with run_sim(seed=0) as sim:
        client = claudewire.Anthropic(base_url=sim.base_url, api_key=SIM_KEY, clock=FastClock(), metrics=registry)
        first = client.messages.create(**_body()).usage
        with client.messages.stream(**_body("Again?")) as stream:
            text = "".join(stream.text_stream)
            second = stream.get_final_message().usage
    assert text  # the SDK still got every byte
    assert second.cache_read_input_tokens and second.cache_read_input_tokens == first.cache_creation_input_tokens
    assert _tokens(registry, "cache_read") == second.cache_read_input_tokens
    assert _tokens(registry, "cache_creation") == first.cache_creation_input_tokens
    assert _tokens(registry, "input") == first.input_tokens + second.input_tokens
    assert _tokens(registry, "output") == first.output_tokens + second.output_tokens
    labels = {"model": SIM_MODEL, "outcome": "hit", "upstream": upstream_key(sim.base_url)}
    hit = registry.get_sample_value("claudewire_prompt_cache_requests_total", labels)
    assert hit == 1


def test_a_raw_stream_abandoned_early_counts_what_it_said() -> None:
    """stream=True iterated for two events then closed: message_start's input tokens are counted, once."""
    registry = CollectorRegistry()
    with run_sim(seed=0, reply_tokens=50) as sim:
        client = claudewire.Anthropic(base_url=sim.base_url, api_key=SIM_KEY, clock=FastClock(), metrics=registry)
        events = client.messages.create(**_body(), stream=True)
        start = next(iter(events))
        events.close()
    assert start.type == "message_start"
    assert _tokens(registry, "input") == start.message.usage.input_tokens > 0
    assert _tokens(registry, "cache_creation") == start.message.usage.cache_creation_input_tokens
    assert _tokens(registry, "output") <= 1  # message_start's placeholder, not the 50 the reply would have had


def test_the_async_client_counts_streams_too() -> None:
    """AsyncAnthropic's streams are counted the same way."""
    registry = CollectorRegistry()

    async def main(base_url: str) -> Any:
        client = claudewire.AsyncAnthropic(base_url=base_url, api_key=SIM_KEY, clock=FastClock(), metrics=registry)
        async with client.messages.stream(**_body()) as stream:
            return (await stream.get_final_message()).usage

    with run_sim(seed=0) as sim:
        usage = asyncio.run(main(sim.base_url))
    assert _tokens(registry, "output") == usage.output_tokens > 0
    assert _tokens(registry, "cache_creation") == usage.cache_creation_input_tokens > 0
