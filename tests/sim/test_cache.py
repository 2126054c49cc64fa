"""Prompt caching in the simulator: breakpoints, minimum length, TTLs, usage in bodies and streams alike."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from claudewire.sim import SimServer
from claudewire.sim.cache import CacheControlError, PromptCache, min_cacheable_tokens
from claudewire.sim.shapes import count_input_tokens
from tests.conftest import SIM_KEY, SIM_MODEL

LONG = "The simulator caches prompt prefixes exactly as the API does. " * 400  # ~6,000 tokens: above every minimum
EPHEMERAL = {"type": "ephemeral"}


class Clock:
    """A hand-moved monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def body(system: str = LONG, question: str = "Summarise.", **extra: Any) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "text", "text": system, "cache_control": dict(EPHEMERAL)}
    if "ttl" in extra:
        block["cache_control"]["ttl"] = extra.pop("ttl")
    messages = [{"role": "user", "content": question}]
    return {"model": SIM_MODEL, "max_tokens": 16, "system": [block], "messages": messages, **extra}


def run(cache: PromptCache, b: dict[str, Any], scope: str = "k") -> tuple[int, int, int]:
    usage = cache.apply(cache.plan(scope, b["model"], b), count_input_tokens(b))
    return usage.read, usage.created_5m, usage.created_1h


def test_first_request_creates_and_the_repeat_reads() -> None:
    """An explicit breakpoint writes its prefix once; the same prefix again reads it, with a new question after it."""
    cache = PromptCache(Clock())
    read, created, _ = run(cache, body())
    assert read == 0 and created > 4096
    assert run(cache, body(question="Another question.")) == (created, 0, 0)


def test_one_changed_byte_before_the_breakpoint_misses() -> None:
    """A prefix that differs by one character is a different cache entry: created again, nothing read."""
    cache = PromptCache(Clock())
    _, created, _ = run(cache, body())
    changed = LONG[:100] + "X" + LONG[101:]
    assert run(cache, body(system=changed)) == (0, created, 0)


def test_below_the_minimum_nothing_is_cached() -> None:
    """A breakpoint whose prefix is shorter than the model's minimum cacheable length is processed uncached."""
    cache = PromptCache(Clock())
    short = "short system prompt " * 50  # ~250 tokens
    assert run(cache, body(system=short)) == (0, 0, 0)
    assert run(cache, body(system=short)) == (0, 0, 0)
    assert min_cacheable_tokens("claude-haiku-4-5-20251001") == 4096
    assert min_cacheable_tokens("claude-opus-4-8") == 1024


def test_five_minute_entries_expire_and_reads_refresh_them() -> None:
    """A 5m entry lives 5 minutes from its last use: a read at 4 min keeps it past 5, a gap of 5 min loses it."""
    clock = Clock()
    cache = PromptCache(clock)
    _, created, _ = run(cache, body())
    clock.now += 240
    assert run(cache, body()) == (created, 0, 0)
    clock.now += 240  # 8 minutes after the write, 4 after the read
    assert run(cache, body()) == (created, 0, 0)
    clock.now += 301
    assert run(cache, body()) == (0, created, 0)


def test_one_hour_ttl_outlives_five_minutes_and_is_reported_apart() -> None:
    """ttl "1h" writes to ephemeral_1h_input_tokens and is still there after 30 minutes."""
    clock = Clock()
    cache = PromptCache(clock)
    read, created_5m, created_1h = run(cache, body(ttl="1h"))
    assert (read, created_5m) == (0, 0) and created_1h > 4096
    clock.now += 1800
    assert run(cache, body(ttl="1h")) == (created_1h, 0, 0)
    clock.now += 3601
    assert run(cache, body(ttl="1h"))[0] == 0


def test_automatic_caching_moves_forward_with_the_conversation() -> None:
    """Top-level cache_control caches up to the last block; the next turn reads that and writes only the new part."""
    cache = PromptCache(Clock())
    turn1 = {"model": SIM_MODEL, "max_tokens": 16, "cache_control": EPHEMERAL, "system": LONG,
             "messages": [{"role": "user", "content": "First question?"}]}  # fmt: skip
    read, created, _ = run(cache, turn1)
    assert read == 0 and created > 4096
    turn2 = dict(turn1, messages=[*turn1["messages"], {"role": "assistant", "content": "An answer."},
                                  {"role": "user", "content": "Second question?"}])  # fmt: skip
    read2, created2, _ = run(cache, turn2)
    assert read2 == created
    assert 0 < created2 < 50  # only the two new messages


def test_caches_are_scoped_by_key_and_model() -> None:
    """Another key or another model does not read an entry someone else wrote."""
    cache = PromptCache(Clock())
    _, created, _ = run(cache, body())
    assert run(cache, body(), scope="other-key")[0] == 0
    assert run(cache, dict(body(), model="claude-opus-4-8"))[0] == 0
    assert run(cache, body())[0] == created


def test_lookback_finds_an_earlier_breakpoint_within_20_blocks() -> None:
    """A breakpoint moved a few blocks later still reads the prefix written at the earlier position."""
    cache = PromptCache(Clock())
    blocks = [{"type": "text", "text": LONG}] + [{"type": "text", "text": f"note {i}"} for i in range(5)]
    first = {"model": SIM_MODEL, "max_tokens": 16, "messages": [{"role": "user", "content": [
        dict(blocks[0], cache_control=EPHEMERAL), *blocks[1:]]}]}  # fmt: skip
    _, created, _ = run(cache, first)
    later = {"model": SIM_MODEL, "max_tokens": 16, "messages": [{"role": "user", "content": [
        *blocks[:-1], dict(blocks[-1], cache_control=EPHEMERAL)]}]}  # fmt: skip
    read, created2, _ = run(cache, later)
    assert read == created and 0 < created2 < 30


@pytest.mark.parametrize(
    ("control", "fragment"),
    [({"type": "persistent"}, "'ephemeral'"), ({"type": "ephemeral", "ttl": "10m"}, "'5m' or '1h'"), ("yes", "object")],
)
def test_bad_cache_control_is_refused(control: object, fragment: str) -> None:
    """A cache_control of the wrong type or TTL raises with the API's field path."""
    b = body()
    b["system"][0]["cache_control"] = control
    with pytest.raises(CacheControlError, match=fragment):
        PromptCache().plan("k", SIM_MODEL, b)


def test_more_than_four_breakpoints_and_1h_after_5m_are_refused() -> None:
    """Five breakpoints, or a 1h breakpoint after a 5m one, are 400s in the API."""
    blocks = [{"type": "text", "text": f"part {i}", "cache_control": EPHEMERAL} for i in range(5)]
    with pytest.raises(CacheControlError, match="maximum of 4"):
        PromptCache().plan("k", SIM_MODEL, dict(body(), system=blocks))
    mixed = [blocks[0], {"type": "text", "text": "b", "cache_control": {"type": "ephemeral", "ttl": "1h"}}]
    with pytest.raises(CacheControlError, match="1h"):
        PromptCache().plan("k", SIM_MODEL, dict(body(), system=mixed))


def test_the_sdk_sees_creation_then_read_and_the_sum_is_the_prompt(sim: SimServer) -> None:
    """Through the official SDK: usage reports creation then read, with cache_creation detail; the sum holds."""
    client = anthropic.Anthropic(api_key=SIM_KEY, base_url=sim.base_url, max_retries=0)
    first = client.messages.create(**body()).usage
    second = client.messages.create(**body()).usage
    question = [{"role": "user", "content": "Summarise."}]
    total = client.messages.count_tokens(model=SIM_MODEL, system=LONG, messages=question)
    assert first.cache_creation_input_tokens and first.cache_read_input_tokens == 0
    assert first.cache_creation is not None
    assert first.cache_creation.ephemeral_5m_input_tokens == first.cache_creation_input_tokens
    assert second.cache_read_input_tokens == first.cache_creation_input_tokens
    assert second.cache_creation_input_tokens == 0
    for usage in (first, second):
        whole = usage.input_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens
        assert abs(whole - total.input_tokens) <= 2 and usage.input_tokens > 0


def test_streams_report_cache_tokens_in_message_start_and_message_delta(sim: SimServer) -> None:
    """A streamed repeat shows cache_read_input_tokens in message_start and, cumulatively, in message_delta."""
    client = anthropic.Anthropic(api_key=SIM_KEY, base_url=sim.base_url, max_retries=0)
    client.messages.create(**body())
    with client.messages.stream(**body()) as stream:
        events = list(stream)
        final = stream.get_final_message()
    start = next(e for e in events if e.type == "message_start").message.usage
    delta = next(e for e in events if e.type == "message_delta").usage
    assert start.cache_read_input_tokens and start.cache_read_input_tokens > 4096
    assert delta.cache_read_input_tokens == start.cache_read_input_tokens
    assert delta.input_tokens == start.input_tokens
    assert final.usage.cache_read_input_tokens == start.cache_read_input_tokens


def test_a_bad_cache_control_is_a_400_in_the_api_shape(sim: SimServer) -> None:
    """The simulator answers an invalid cache_control with 400 invalid_request_error naming the field."""
    client = anthropic.Anthropic(api_key=SIM_KEY, base_url=sim.base_url, max_retries=0)
    b = body()
    b["system"][0]["cache_control"] = {"type": "ephemeral", "ttl": "2h"}
    with pytest.raises(anthropic.BadRequestError, match=r"system\.0\.cache_control\.ttl"):
        client.messages.create(**b)
