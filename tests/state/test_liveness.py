"""Redis connections a NAT drops silently are noticed; a flapping Redis is a few log lines, not two a second."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import pytest
import redis

from claudewire.state import ClientLimits
from claudewire.state.redis import RedisState
from tests.redis_server import RedisServer
from tests.state.nat import Nat


async def _until(ready: Callable[[], bool], within: float, what: str) -> None:
    """Wait (polling every 20 ms, at most `within` seconds) until `ready()` holds."""
    deadline = time.monotonic() + within
    while not ready():
        assert time.monotonic() < deadline, f"never: {what}"
        await asyncio.sleep(0.02)


async def _heard(state_events: asyncio.Queue[bytes], publisher: redis.Redis, event: bytes, within: float) -> None:
    """Publish `event` every 0.1 s until the replica hears it (a subscription being made misses what came before)."""
    deadline = time.monotonic() + within
    while True:
        publisher.publish("claudewire:events", event)
        try:
            while (await asyncio.wait_for(state_events.get(), 0.1)) != event:
                pass
            return
        except TimeoutError:
            assert time.monotonic() < deadline, f"the replica never heard {event!r}"


def test_a_subscription_a_nat_dropped_is_noticed_and_made_again(redis_server: RedisServer) -> None:
    """Every connection silently dropped: the replica marks Redis down within a few heartbeats (the metric reads
    `up`), reconnects, and hears the events published afterwards (before: it never heard one again, `up` stayed 1)."""
    publisher = redis.Redis.from_url(redis_server.url)

    async def main() -> None:
        with Nat(redis_server.port) as nat:
            state = RedisState(f"redis://127.0.0.1:{nat.port}/0", timeout=0.05, heartbeat=0.2, stable=0.5)
            events: asyncio.Queue[bytes] = asyncio.Queue()
            state.listen(events.put_nowait)
            try:
                await state.start()
                await _heard(events, publisher, b"before", within=10)
                assert nat.drop() >= 2  # the subscription and the link's own connection, at least
                await _until(lambda: not state.up, 5, "Redis marked down after its connections went silent")
                await _until(lambda: state.up, 10, "Redis back on fresh connections")
                await _heard(events, publisher, b"after", within=10)
            finally:
                await state.aclose()

    asyncio.run(main())


def test_a_flapping_redis_logs_its_changes_once_not_at_every_flap(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Eight drops in a few seconds (each noticed and reconnected): 'unreachable', 'back', 'flapping', then one
    'back ... stable' line once it has stayed up; `up` follows every drop."""
    caplog.set_level(logging.WARNING, logger="claudewire.state")
    killer = redis.Redis.from_url(redis_server.url)
    limits = ClientLimits("flappy", requests_per_minute=1_000_000)

    async def main() -> int:
        state = RedisState(redis_server.url, timeout=0.05, stable=1.0)
        downs = 0
        try:
            await state.start()
            for _ in range(8):
                assert (await state.admit(limits, 0)).shared  # through a connection of the link's own
                killer.client_kill_filter(_type="normal", skipme=True)  # every connection but ours: reset

                async def noticed() -> bool:
                    await state.admit(limits, 0)
                    return not state.up

                deadline = time.monotonic() + 5
                while not await noticed():
                    assert time.monotonic() < deadline, "a reset connection was never noticed"
                downs += 1
                await _until(lambda: state.up, 10, "Redis back after a reset")
            during = len(caplog.records)
            await _until(lambda: any("stable for" in r.getMessage() for r in caplog.records), 5, "said stable")
            assert during <= 3
            return downs
        finally:
            await state.aclose()

    assert asyncio.run(main()) == 8
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("claudewire.state")]
    assert len(lines) == 4, lines
    assert "unreachable (" in lines[0] and "is back:" in lines[1] and "flapping" in lines[2]
    assert "is back after 7 interruption(s), stable for 1 s" in lines[3]
