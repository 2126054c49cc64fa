"""The state's small key-value store (sign-in's grants, refresh tokens, revocations): same rules in memory and Redis."""

from __future__ import annotations

import asyncio

import pytest
import redis

from claudewire.state import MemoryState, StateUnavailableError
from claudewire.state.redis import RedisState
from tests.redis_server import RedisServer


class Wall:
    """An injected wall clock."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_memory_put_get_take_and_expiry() -> None:
    """put/get/take with only_new, and a value gone once its TTL has passed on the (injected) wall clock."""
    wall = Wall()
    state = MemoryState(wall=wall)

    async def main() -> None:
        assert await state.kv_put("a", b"1", 10)
        assert not await state.kv_put("a", b"2", 10, only_new=True)
        assert await state.kv_get("a") == b"1"
        assert await state.kv_seen("a")
        assert await state.kv_take("a") == b"1"
        assert await state.kv_take("a") is None
        assert not await state.kv_seen("a")
        await state.kv_put("b", b"x", 5)
        wall.now += 5
        assert await state.kv_get("b") is None
        assert await state.kv_put("b", b"y", 5, only_new=True)  # an expired key is free again

    asyncio.run(main())


def test_memory_store_is_bounded() -> None:
    """Past max_keys a new key is refused (StateUnavailableError); expired keys are swept and free their room."""
    wall = Wall()
    state = MemoryState(wall=wall)
    state.kv.max_keys = 3

    async def main() -> None:
        for i in range(3):
            await state.kv_put(f"k{i}", b"v", 1)
        with pytest.raises(StateUnavailableError):
            await state.kv_put("k3", b"v", 1)
        wall.now += 2
        assert await state.kv_put("k3", b"v", 1)

    asyncio.run(main())


def test_redis_kv_is_shared_namespaced_expiring_and_takes_once(redis_server: RedisServer) -> None:
    """Two replicas see one value; of 20 concurrent takes across them exactly one gets it; keys carry prefix and TTL."""

    async def main() -> list[bytes | None]:
        a = RedisState(redis_server.url, namespace="team-a", timeout=2.0)
        b = RedisState(redis_server.url, namespace="team-a", timeout=2.0)
        try:
            await a.start()
            await b.start()
            assert await a.kv_put("grant", b"started-on-a", 600)
            assert not await b.kv_put("grant", b"other", 600, only_new=True)
            assert await b.kv_get("grant") == b"started-on-a"
            assert await b.kv_seen("grant")
            direct = redis.Redis.from_url(redis_server.url)
            assert [k.decode() for k in direct.keys("*")] == ["team-a:kv:grant"]
            assert 0 < direct.pttl("team-a:kv:grant") <= 600_000
            takes = await asyncio.gather(*((a if i % 2 else b).kv_take("grant") for i in range(20)))
            assert not await a.kv_seen("grant")
            return takes
        finally:
            await a.aclose()
            await b.aclose()

    takes = asyncio.run(main())
    assert takes.count(b"started-on-a") == 1
    assert takes.count(None) == 19


def test_redis_away_is_an_error_not_a_guess(redis_server: RedisServer) -> None:
    """With Redis stopped, kv_get/put/take raise StateUnavailableError (bounded) and kv_seen answers False."""

    async def main() -> None:
        state = RedisState(redis_server.url, timeout=0.2)
        try:
            await state.start()
            await state.kv_put("k", b"v", 60)
            redis_server.stop()
            with pytest.raises(StateUnavailableError):
                await state.kv_get("k")
            with pytest.raises(StateUnavailableError):
                await state.kv_take("k")
            with pytest.raises(StateUnavailableError):
                await state.kv_put("k", b"v", 60)
            assert not await state.kv_seen("k")
        finally:
            await state.aclose()

    asyncio.run(asyncio.wait_for(main(), 30))
