"""The limit rules every state backend keeps (memory and real Redis alike), on an injected wall clock."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from claudewire.state import Bucket, ClientLimits, MemoryState, StateBackend
from claudewire.state.redis import RedisState
from tests.redis_server import RedisServer

Scenario = Callable[[StateBackend, "Wall"], Awaitable[None]]


class Wall:
    """A settable wall clock."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "redis"])
def run(request: pytest.FixtureRequest) -> Callable[[Scenario, float], None]:
    """Runs a scenario against one backend (Redis: a real redis-server) with a wall clock starting at `start`."""

    def runner(scenario: Scenario, start: float = 1_800_000_000.0) -> None:
        wall = Wall(start)

        async def main() -> None:
            if request.param == "memory":
                await scenario(MemoryState(wall=wall), wall)
                return
            server: RedisServer = request.getfixturevalue("redis_server")
            state = RedisState(server.url, wall=wall, timeout=1.0)  # loaded CI machines: no fallback by accident
            try:
                await scenario(state, wall)
                assert state.up
            finally:
                await state.aclose()

        asyncio.run(main())

    return runner


def test_requests_per_minute_is_a_sliding_window_with_the_exact_wait(run: Callable[[Scenario, float], None]) -> None:
    """N requests in any 60 s pass; the next waits until the oldest leaves the window, to the second."""

    async def scenario(state: StateBackend, wall: Wall) -> None:
        limits = ClientLimits("ci", requests_per_minute=3)
        for step in range(3):
            wall.now += step
            assert (await state.admit(limits, 0)).allowed
        refused = await state.admit(limits, 0)
        assert not refused.allowed and refused.refused_by is Bucket.REQUESTS
        assert refused.retry_after == pytest.approx(57.0)  # the first was 3 s ago
        (view,) = refused.buckets
        assert (view.limit, view.remaining, view.reset) == (3, 0, pytest.approx(1_800_000_070.0))
        wall.now += 57.0
        assert (await state.admit(limits, 0)).allowed  # the first left the window
        assert not (await state.admit(limits, 0)).allowed

    run(scenario, 1_800_000_010.0)


def test_a_refusal_by_tokens_takes_no_request_slot(run: Callable[[Scenario, float], None]) -> None:
    """A request refused for tokens does not count against requests_per_minute."""

    async def scenario(state: StateBackend, wall: Wall) -> None:
        limits = ClientLimits("ci", requests_per_minute=2, tokens_per_minute=100)
        assert (await state.admit(limits, 100)).allowed
        for _ in range(5):
            assert (await state.admit(limits, 10)).refused_by is Bucket.TOKENS
        assert (await state.admit(limits, 0)).allowed  # the second request slot is still free
        assert (await state.admit(limits, 0)).refused_by is Bucket.REQUESTS

    run(scenario, 1_800_000_000.0)


def test_reservations_are_replaced_by_the_real_usage(run: Callable[[Scenario, float], None]) -> None:
    """settle() swaps a reservation for the tokens used, so a big max_tokens does not block once answered."""

    async def scenario(state: StateBackend, wall: Wall) -> None:
        limits = ClientLimits("ci", tokens_per_minute=1000)
        first = await state.admit(limits, 900)
        assert first.allowed and first.ticket is not None
        assert not (await state.admit(limits, 200)).allowed  # 900 reserved + 200 > 1000
        state.settle(first.ticket, 50)
        await asyncio.sleep(0.05)  # a backend may send it in the background
        second = await state.admit(limits, 200)
        assert second.allowed
        assert second.buckets[0].remaining == 1000 - 50 - 200

    run(scenario, 1_800_000_000.0)


def test_an_empty_window_admits_one_request_bigger_than_the_limit(run: Callable[[Scenario, float], None]) -> None:
    """A max_tokens over the whole limit passes in an empty window (once), instead of locking the client out."""

    async def scenario(state: StateBackend, wall: Wall) -> None:
        limits = ClientLimits("ci", tokens_per_minute=100)
        assert (await state.admit(limits, 500)).allowed
        assert not (await state.admit(limits, 1)).allowed

    run(scenario, 1_800_000_000.0)


def test_token_windows_reset_on_the_minute_and_the_utc_day(run: Callable[[Scenario, float], None]) -> None:
    """tokens_per_minute refills at the next wall-clock minute, tokens_per_day at the next UTC midnight."""
    day = 86400.0

    async def scenario(state: StateBackend, wall: Wall) -> None:
        limits = ClientLimits("ci", tokens_per_minute=100, tokens_per_day=150)
        assert (await state.admit(limits, 100)).allowed
        refused = await state.admit(limits, 10)
        assert refused.refused_by is Bucket.TOKENS and refused.retry_after == pytest.approx(30.0)
        wall.now += 30.0
        assert (await state.admit(limits, 50)).allowed
        refused = await state.admit(limits, 10)
        assert refused.refused_by is Bucket.DAILY_TOKENS and refused.retry_after == pytest.approx(day - 60.0)
        wall.now = 20_001 * day
        assert (await state.admit(limits, 100)).allowed

    run(scenario, 20_000 * day + 30.0)  # 30 s into a UTC day


def test_settling_a_ticket_of_a_past_window_changes_nothing_now(run: Callable[[Scenario, float], None]) -> None:
    """A stream that ends in the next minute does not give the new minute back tokens it never took."""

    async def scenario(state: StateBackend, wall: Wall) -> None:
        limits = ClientLimits("ci", tokens_per_minute=100)
        ticket = (await state.admit(limits, 100)).ticket
        assert ticket is not None
        wall.now += 2.0
        assert (await state.admit(limits, 60)).allowed
        state.settle(ticket, 0)
        await asyncio.sleep(0.05)
        assert not (await state.admit(limits, 50)).allowed  # 60 used in this minute; the old refund did not land

    run(scenario, 1_800_000_000.0 - 1_800_000_000.0 % 60 + 59.0)
