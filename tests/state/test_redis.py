"""The Redis backend: exact across instances, namespaced expiring keys, fail open when Redis goes away."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
import redis

from claudewire.state import ClientLimits, StateError, open_state
from claudewire.state.redis import RedisState, safe_url
from tests.redis_server import RedisServer


def test_a_limit_is_exact_across_instances_sharing_redis(redis_server: RedisServer) -> None:
    """Four instances (own connection pools) admitting 120 requests at once let exactly 30 through, not 4 x 30."""
    limits = ClientLimits("ci-bot", requests_per_minute=30)

    async def main() -> list[bool]:
        states = [RedisState(redis_server.url, timeout=2.0) for _ in range(4)]
        try:
            results = await asyncio.gather(*(states[i % 4].admit(limits, 0) for i in range(120)))
            assert all(s.up for s in states)
            return [r.allowed for r in results]
        finally:
            for state in states:
                await state.aclose()

    allowed = asyncio.run(main())
    assert allowed.count(True) == 30


def test_keys_carry_the_namespace_and_all_expire(redis_server: RedisServer) -> None:
    """Every key is under the deployment's prefix and has a TTL, so nothing grows without bound."""
    limits = ClientLimits("ci-bot", requests_per_minute=5, tokens_per_minute=100, tokens_per_day=1000)

    async def main() -> None:
        state = RedisState(redis_server.url, namespace="team-a", timeout=2.0)
        try:
            ticket = (await state.admit(limits, 40)).ticket
            assert ticket is not None
            state.settle(ticket, 10)
        finally:
            await state.aclose()

    asyncio.run(main())
    direct = redis.Redis.from_url(redis_server.url)
    keys = sorted(k.decode() for k in direct.keys("*"))
    assert len(keys) == 3 and all(k.startswith("team-a:{ci-bot}:") for k in keys)
    assert all(0 < direct.pttl(k) <= 90_000_000 for k in keys)
    counters = [int(direct.get(k) or 0) for k in keys if ":t:" in k or ":d:" in k]
    assert counters == [10, 10]  # the reservation of 40 was replaced by the 10 used


def test_redis_down_fails_open_fast_logs_once_and_comes_back(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """With Redis killed, admissions come from local state within the bound; once it returns, sharing resumes."""
    limits = ClientLimits("ci-bot", requests_per_minute=1000)
    caplog.set_level(logging.WARNING, logger="claudewire.state")

    async def main() -> None:
        state = RedisState(redis_server.url, timeout=0.05)
        try:
            await state.start()
            assert any([(await state.admit(limits, 0)).shared for _ in range(3)])  # one slow call here is local
            redis_server.stop()
            started = time.monotonic()
            answers = [await state.admit(limits, 0) for _ in range(50)]
            took = time.monotonic() - started
            assert all(a.allowed and not a.shared for a in answers)
            assert not state.up
            assert took < 2.0, f"50 admissions with Redis down took {took:.2f}s"  # bounded, not blocked
            redis_server.start()
            for _ in range(100):  # the probe backs off from 0.25 s: bounded wait for it to see Redis again
                if state.up:
                    break
                await asyncio.sleep(0.1)
            assert state.up
            assert any([(await state.admit(limits, 0)).shared for _ in range(3)])
        finally:
            await state.aclose()

    asyncio.run(main())
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert sum("unreachable" in w for w in warnings) == 1
    assert sum("shared again" in w for w in warnings) == 1


def test_urls_are_shown_without_credentials_and_bad_schemes_refused() -> None:
    """A state URL's password never reaches a log line; an unknown scheme is a clear error."""
    assert safe_url("redis://:s3cret@10.0.0.5:6380/2") == "redis://10.0.0.5:6380/2"
    assert safe_url("rediss://user:pw@cache.internal:6380/0") == "rediss://cache.internal:6380/0"
    assert open_state("rediss://user:pw@cache.internal:6380/0").url == "rediss://cache.internal:6380/0"
    with pytest.raises(StateError, match="redis://HOST:PORT/DB"):
        open_state("memcached://127.0.0.1:11211")


def test_a_settlement_queued_while_a_pipeline_is_out_goes_with_the_next(redis_server: RedisServer) -> None:
    """A settlement queued while admissions are on the wire neither breaks their answers nor gets lost."""
    limits = ClientLimits("ci-bot", tokens_per_minute=1000)

    async def main() -> bool:
        state = RedisState(redis_server.url, namespace="t", timeout=2.0)
        try:
            await state.start()
            ticket = (await state.admit(limits, 40)).ticket
            assert ticket is not None
            second = asyncio.ensure_future(state.admit(limits, 40))
            for _ in range(3):  # the second admission's pipeline goes out
                await asyncio.sleep(0)
            state.settle(ticket, 10)
            shared = (await second).shared
            await asyncio.sleep(0.2)  # the settlement goes on its own a moment later
            return shared
        finally:
            await state.aclose()

    assert asyncio.run(main())  # answered by Redis, not by the local fallback
    direct = redis.Redis.from_url(redis_server.url)
    (key,) = direct.keys("t:{ci-bot}:t:*")
    assert int(direct.get(key) or 0) == 10 + 40
