"""The retry budget shared through a real Redis: one deployment's retries against all its requests, fail open."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import redis

from claudewire.policy import RetryBudget
from claudewire.state import open_state
from claudewire.state.budget import SharedBudget
from claudewire.state.redis import RedisState
from tests.redis_server import RedisServer


class Wall:
    """A settable wall clock (windows are wall-clock windows)."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def _until(check: Callable[[], bool], within: float = 5.0) -> bool:
    """Poll `check` on the loop (bounded); True once it holds."""
    for _ in range(int(within / 0.02)):
        if check():
            return True
        await asyncio.sleep(0.02)
    return check()


def _two(server: RedisServer, budget: RetryBudget, wall: Wall) -> tuple[list[RedisState], list[SharedBudget]]:
    states = [RedisState(server.url, namespace="t", timeout=2.0, wall=wall) for _ in range(2)]
    return states, [s.retry_budget(budget) for s in states]


def _run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(scenario())


def test_retries_spent_through_one_process_are_refused_in_the_other(redis_server: RedisServer) -> None:
    """A spends the deployment's 4 retries; B, which saw none of them, may retry no more."""
    wall = Wall()

    async def main() -> None:
        states, (a, b) = _two(redis_server, RetryBudget(ratio=0.0, min_retries=4, window=60.0), wall)
        try:
            for s in states:
                await s.start()
            a.on_request(0.0)
            assert [a.try_spend(0.0) for _ in range(5)] == [True, True, True, True, False]  # exact in A itself
            assert await _until(lambda: (b.sync(), b.available(0.0) == 0.0)[1]), "B never saw A's retries"
            assert not b.try_spend(0.0)
            assert all(s.up for s in states)
        finally:
            for s in states:
                await s.aclose()

    _run(main)


def test_requests_counted_in_every_process_make_room_for_retries_in_any(redis_server: RedisServer) -> None:
    """With ratio 0.5 and no floor, 10 requests through A allow 5 retries through B, which served none."""
    wall = Wall()

    async def main() -> None:
        states, (a, b) = _two(redis_server, RetryBudget(ratio=0.5, min_retries=0, window=60.0), wall)
        try:
            for s in states:
                await s.start()
            assert not b.try_spend(0.0)  # nothing counted anywhere yet
            for _ in range(10):
                a.on_request(0.0)  # counted in Redis with A's next sync, not one round trip each
            assert await _until(lambda: (b.sync(), b.available(0.0) == 5.0)[1]), "B never saw A's requests"
            assert [b.try_spend(0.0) for _ in range(6)] == [True] * 5 + [False]
        finally:
            for s in states:
                await s.aclose()

    _run(main)
    direct = redis.Redis.from_url(redis_server.url)
    (key,) = direct.keys("t:{budget}:*")
    assert direct.hgetall(key) == {b"q": b"10", b"r": b"5"}
    assert 0 < direct.pttl(key) <= 180_000  # three windows, then gone


def test_the_previous_window_counts_by_its_overlap(redis_server: RedisServer) -> None:
    """Half a window later, the previous window's retries count half: room again for half of them."""
    wall = Wall(1_800_000_000.0 - 1_800_000_000.0 % 60)  # the start of a window

    async def main() -> None:
        states, (a, b) = _two(redis_server, RetryBudget(ratio=0.0, min_retries=4, window=60.0), wall)
        try:
            for s in states:
                await s.start()
            assert all(a.try_spend(0.0) for _ in range(4))
            wall.now += 90.0  # half-way through the next window
            assert await _until(lambda: (b.sync(), b.available(0.0) == 2.0)[1])
        finally:
            for s in states:
                await s.aclose()

    _run(main)


def test_redis_down_leaves_each_process_its_own_budget(redis_server: RedisServer) -> None:
    """Redis gone: the budget is this process's own again (fail open), never an error or a wait."""
    wall = Wall()

    async def main() -> None:
        state = RedisState(redis_server.url, namespace="t", timeout=0.05, wall=wall)
        budget = state.retry_budget(RetryBudget(ratio=0.0, min_retries=2, window=60.0))
        try:
            await state.start()
            redis_server.stop()
            assert await state.session_get("s", 60.0) is None  # the call that finds Redis gone: bounded, local
            assert not state.up
            assert [budget.try_spend(0.0) for _ in range(3)] == [True, True, False]
        finally:
            await state.aclose()

    _run(main)


def test_the_memory_backend_gives_the_process_its_own_budget() -> None:
    """Without Redis the engine counts retries in this process (the policy's own tracker)."""
    budget = open_state(None).retry_budget(RetryBudget(ratio=0.0, min_retries=1, window=10.0))
    assert [budget.try_spend(0.0), budget.try_spend(0.0)] == [True, False]
    assert budget.available(0.0) == 0.0
