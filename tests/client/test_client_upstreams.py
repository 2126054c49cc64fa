"""`claudewire.Anthropic(upstreams=[...])`: the gateway's failover inside an SDK app, against two simulators."""

from __future__ import annotations

import asyncio
from typing import Any

import anthropic
import pytest

import claudewire
from claudewire.client_upstreams import ClientUpstream
from claudewire.testing import FastClock, run_sim
from tests.conftest import SIM_MODEL

MESSAGES: list[Any] = [{"role": "user", "content": "hello"}]
KEY_A = "sk-ant-api03-primary-key-AAAA"
KEY_B = "sk-ant-api03-backup-key-BBBB"


def test_a_primary_answering_529_is_invisible_behind_the_backup() -> None:
    """Every call (plain and streamed) succeeds from the backup; each backup request carries the backup's key."""
    with run_sim(seed=0, faults=["529:1.0"]) as primary, run_sim(seed=0) as backup:
        client = claudewire.Anthropic(
            upstreams=[
                {"base_url": primary.base_url, "api_key": KEY_A, "name": "primary"},
                ClientUpstream(backup.base_url, KEY_B, priority=1, name="backup"),
            ],
            clock=FastClock(),
        )
        for _ in range(5):
            assert client.messages.create(model=SIM_MODEL, max_tokens=16, messages=MESSAGES).content
        with client.messages.stream(model=SIM_MODEL, max_tokens=16, messages=MESSAGES) as stream:
            assert stream.get_final_message().content
        assert backup.stats.total == 6
        assert 1 <= primary.stats.total <= 6
        assert {r.api_key for r in backup.requests} == {KEY_B}
        assert {r.api_key for r in primary.requests} == {KEY_A}
        assert client.policy_engine.breaker_state("backup#0").value == "closed"


def test_a_refused_key_moves_the_call_to_the_next_upstream_and_stays_out() -> None:
    """A 401 on the primary's key: the same call is served by the backup, and later calls skip the primary."""
    with run_sim(seed=0, api_keys=(KEY_B,)) as primary, run_sim(seed=0) as backup:
        client = claudewire.Anthropic(
            upstreams=[
                {"base_url": primary.base_url, "api_key": KEY_A},
                {"base_url": backup.base_url, "api_key": KEY_B, "priority": 1},
            ],
            clock=FastClock(),
        )
        for _ in range(4):
            assert client.messages.create(model=SIM_MODEL, max_tokens=16, messages=MESSAGES).content
        assert (primary.stats.total, backup.stats.total) == (1, 4)


def test_a_400_is_tried_once_on_one_upstream_and_raises_the_sdks_own_error() -> None:
    """A request error is not failed over: one attempt, anthropic.BadRequestError."""
    with run_sim(seed=0, faults=["400:1.0"]) as primary, run_sim(seed=0) as backup:
        client = claudewire.Anthropic(
            upstreams=[{"base_url": primary.base_url, "api_key": KEY_A}, {"base_url": backup.base_url, "priority": 1}],
            clock=FastClock(),
        )
        with pytest.raises(anthropic.BadRequestError):
            client.messages.create(model=SIM_MODEL, max_tokens=16, messages=MESSAGES)
        assert (primary.stats.total, backup.stats.total) == (1, 0)


def test_the_async_client_fails_over_too() -> None:
    """AsyncAnthropic with upstreams drives the same flow: a dead primary port, the backup answers."""
    with run_sim(seed=0) as backup:

        async def main() -> str:
            client = claudewire.AsyncAnthropic(
                upstreams=[
                    {"base_url": "http://127.0.0.1:9", "api_key": KEY_A},  # nothing listens on the discard port
                    {"base_url": backup.base_url, "api_key": KEY_B, "priority": 1},
                ],
                clock=FastClock(),
            )
            reply = await client.messages.create(model=SIM_MODEL, max_tokens=16, messages=MESSAGES)
            return reply.content[0].type

        assert asyncio.run(main()) == "text"
        assert backup.stats.total == 1


def test_bad_upstreams_are_refused_with_the_field() -> None:
    """A URL without a scheme, a zero weight or an unknown field raise ValueError naming it."""
    with pytest.raises(ValueError, match="base_url"):
        claudewire.Anthropic(upstreams=[{"base_url": "api.anthropic.com", "api_key": KEY_A}])
    with pytest.raises(ValueError, match="weight"):
        claudewire.Anthropic(upstreams=[{"base_url": "http://x", "api_key": KEY_A, "weight": 0}])
    with pytest.raises(ValueError, match="unknown upstream field"):
        claudewire.Anthropic(upstreams=[{"url": "http://x", "api_key": KEY_A}])
