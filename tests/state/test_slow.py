"""A slow Redis is not a down Redis: a worker grants locally only a small lease, and Redis decides the rest."""

from __future__ import annotations

import asyncio

import redis

from claudewire.state import ClientLimits
from claudewire.state.redis import RedisState
from tests.redis_server import RedisServer


def _burst(
    url: str, limits: ClientLimits, pause_ms: int, reserve: int = 0, count: int = 400
) -> list[tuple[bool, bool]]:
    """Two workers' backends (processes=2) admitting `count` requests at once while Redis is paused for `pause_ms`:
    (allowed, answered by Redis) per request."""

    async def main() -> list[tuple[bool, bool]]:
        states = [RedisState(url, timeout=0.1, processes=2) for _ in range(2)]
        try:
            for state in states:
                await state.start()
            # every client's commands wait `pause_ms` from now: a Redis slow to answer the first burst
            redis.Redis.from_url(url).execute_command("CLIENT", "PAUSE", pause_ms, "ALL")
            answers = await asyncio.gather(*(states[i % 2].admit(limits, reserve) for i in range(count)))
            assert all(state.up for state in states)  # slow, not down: nothing was decided as if it were away
            return [(a.allowed, a.shared) for a in answers]
        finally:
            for state in states:
                await state.aclose()

    return asyncio.run(main())


def test_a_burst_while_redis_is_slow_admits_the_limit_plus_at_most_one_lease_per_worker(
    redis_server: RedisServer,
) -> None:
    """400 admissions of a 100-a-minute client through 2 workers while Redis answers 300 ms late: at most 100 plus
    each worker's lease (a tenth of its share: 5) are admitted, not a minute's quota per worker (it was 200)."""
    answers = _burst(redis_server.url, ClientLimits("burst", requests_per_minute=100), pause_ms=300)
    admitted = sum(allowed for allowed, _ in answers)
    leased = sum(allowed and not shared for allowed, shared in answers)
    assert 100 <= admitted <= 100 + 2 * 5, admitted
    assert 1 <= leased <= 2 * 5  # the lease answered some at once; Redis, late, decided all the others


def test_a_token_limit_holds_the_same_way(redis_server: RedisServer) -> None:
    """tokens_per_minute 10,000 and 400 reservations of 100 tokens while Redis is slow: the limit's 100 reservations
    plus at most each worker's lease (500 tokens: 5 reservations) are admitted."""
    limits = ClientLimits("tokens", tokens_per_minute=10_000)
    answers = _burst(redis_server.url, limits, pause_ms=300, reserve=100)
    admitted = sum(allowed for allowed, _ in answers)
    assert 100 <= admitted <= 100 + 2 * 5, admitted
