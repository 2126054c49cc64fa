"""Session-affinity bindings shared through a real Redis: read on the way in, written when made or changed."""

from __future__ import annotations

import asyncio

import redis

from claudewire.policy import MultiHooks, PolicyEngine
from claudewire.state.redis import RedisState
from claudewire.state.sync import SharedPolicy
from tests.redis_server import RedisServer


def test_a_binding_written_by_one_process_is_read_by_another_under_a_digest_with_a_ttl(
    redis_server: RedisServer,
) -> None:
    """B reads the member key A bound the session to; the key holds no session id and expires after the TTL."""

    async def main() -> tuple[str | None, str | None]:
        a, b = (RedisState(redis_server.url, namespace="t", timeout=2.0) for _ in range(2))
        try:
            await a.session_set("session/with spaces & ünïcode", "anthropic#1", 60.0)
            return await b.session_get("session/with spaces & ünïcode", 60.0), await b.session_get("other", 60.0)
        finally:
            await a.aclose()
            await b.aclose()

    bound, unknown = asyncio.run(main())
    assert (bound, unknown) == ("anthropic#1", None)
    direct = redis.Redis.from_url(redis_server.url)
    (key,) = direct.keys("*")
    assert key.startswith(b"t:s:") and b"session" not in key
    assert 0 < direct.pttl(key) <= 60_000


def test_reading_a_binding_refreshes_its_ttl(redis_server: RedisServer) -> None:
    """A session seen again lives `ttl` from its last request, not from when it was bound."""

    async def main() -> None:
        state = RedisState(redis_server.url, namespace="t", timeout=2.0)
        try:
            await state.session_set("s", "up#0", 1.0)
            assert await state.session_get("s", 600.0) == "up#0"
        finally:
            await state.aclose()

    asyncio.run(main())
    direct = redis.Redis.from_url(redis_server.url)
    (key,) = direct.keys("t:s:*")
    assert 1_000 < direct.pttl(key) <= 600_000


def _replica(url: str) -> tuple[SharedPolicy, RedisState]:
    state = RedisState(url, namespace="t", timeout=2.0)
    shared = SharedPolicy(state.publish, ttl=60.0, sessions=state)
    shared.bind(PolicyEngine(clock=lambda: 0.0, hooks=MultiHooks(shared)))  # the times the tests pass
    return shared, state


def test_a_session_bound_in_one_replica_is_chosen_from_in_the_other(redis_server: RedisServer) -> None:
    """A binds the session; B fetches it into its own map; a hit writes nothing, a change is written again."""

    async def main() -> None:
        (a, state_a), (b, state_b) = _replica(redis_server.url), _replica(redis_server.url)
        try:
            await a.fetch_session("s")  # unknown everywhere
            a.set_session_target("s", "up#1", 0.0)
            assert a.bindings == [("s", "up#1")]
            await a.store_bindings()
            assert a.bindings == []
            await b.fetch_session("s")
            assert b.session_target("s", 0.0) == "up#1"
            b.set_session_target("s", "up#1", 1.0)  # a hit: nothing to write
            assert b.bindings == []
            b.set_session_target("s", "up#0", 2.0)  # broken and bound again elsewhere: written
            await b.store_bindings()
            await a.fetch_session("s")
            assert a.session_target("s", 3.0) == "up#0"  # the store's binding wins over A's own
        finally:
            await state_a.aclose()
            await state_b.aclose()

    asyncio.run(main())


def test_a_binding_the_store_lost_is_written_back_by_the_replica_that_serves_it(redis_server: RedisServer) -> None:
    """Redis restarted empty: the replica still holding the binding writes it back when it serves the session."""

    async def main() -> None:
        (a, state_a), (b, state_b) = _replica(redis_server.url), _replica(redis_server.url)
        try:
            a.set_session_target("s", "up#1", 0.0)  # bound here, never written (as if Redis had lost it)
            a.bindings.clear()
            await a.fetch_session("s")  # the store knows nothing: A keeps its own binding ...
            assert a.session_target("s", 0.0) == "up#1"
            a.set_session_target("s", "up#1", 1.0)  # ... and writes it back once it served the session
            await a.store_bindings()
            await b.fetch_session("s")
            assert b.session_target("s", 1.0) == "up#1"
        finally:
            await state_a.aclose()
            await state_b.aclose()

    asyncio.run(main())
