"""State shared through Redis by every worker and replica of one deployment (redis-py's asyncio client).

- One round trip on the way in: the admissions of one event-loop tick go out as one pipeline of ``EVALSHA`` calls
  (one Lua script per admission, so each check-and-count is atomic); settlements ride along with the next
  pipeline (or go out on their own 20 ms later), so a request costs one round trip in all.
- Keys live under ``<prefix>:{<client>}:...`` (one hash slot per client) and all expire: the request log after a
  minute, token counters after their window.
- Redis down or slow never fails a request: a call that takes longer than `timeout` (50 ms) is answered from the
  local `MemoryState` (each process counting alone); a connection error, or three slow calls in a row, switch to
  local state altogether: logged once, `up` False, and a background probe reconnects with backoff (0.25 s doubling
  to 5 s) before the shared state is used again. `start()` connects and loads the scripts before serving, so the
  first requests do not pay for that.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError, RedisError

from claudewire.state.base import DAY, MINUTE, Admission, ClientLimits, Clock, Decision, Ticket
from claudewire.state.memory import MemoryState

__all__ = ["RedisState", "safe_url"]

_log = logging.getLogger(__name__)

# KEYS: request log (zset), minute tokens, day tokens. ARGV: now ms, rpm, tpm, tpd (0: none), reserve, member.
# Returns {refused (0 none, 1 requests, 2 tokens, 3 daily), log count, oldest ms (-1 none), minute used, day used}.
_ADMIT = """
local now = tonumber(ARGV[1])
local rpm, tpm, tpd, reserve = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local count, oldest = 0, -1
if rpm > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 60000)
  count = redis.call('ZCARD', KEYS[1])
  if count > 0 then oldest = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]) end
end
local mu, du = 0, 0
if tpm > 0 then mu = tonumber(redis.call('GET', KEYS[2]) or '0') end
if tpd > 0 then du = tonumber(redis.call('GET', KEYS[3]) or '0') end
local function fits(used, limit) return used + reserve <= limit or (used <= 0 and reserve > 0) end
local refused = 0
if rpm > 0 and count >= rpm then refused = 1
elseif tpm > 0 and not fits(mu, tpm) then refused = 2
elseif tpd > 0 and not fits(du, tpd) then refused = 3 end
if refused == 0 then
  if rpm > 0 then
    redis.call('ZADD', KEYS[1], now, ARGV[6])
    redis.call('PEXPIRE', KEYS[1], 61000)
  end
  if reserve > 0 and tpm > 0 then
    redis.call('INCRBY', KEYS[2], reserve)
    redis.call('PEXPIRE', KEYS[2], 120000)
  end
  if reserve > 0 and tpd > 0 then
    redis.call('INCRBY', KEYS[3], reserve)
    redis.call('PEXPIRE', KEYS[3], 90000000)
  end
end
return {refused, count, oldest, mu, du}
"""
# KEYS: minute tokens, day tokens; ARGV: delta. A counter whose window is over (key expired) stays gone.
_SETTLE = """
for i = 1, 2 do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('INCRBY', KEYS[i], ARGV[1]) end
end
return 0
"""


_SETTLE_DELAY = 0.02  # seconds a settlement waits to share the next admission pipeline's round trip


def safe_url(url: str) -> str:
    """`url` without user or password: ``redis://host:port/db``."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


@dataclass(slots=True)
class _Pending:
    keys: list[str]
    args: list[int | str]
    done: asyncio.Future[list[int]] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class RedisState:
    """The Redis backend; see the module docstring. `wall` is the wall clock used for windows (tests inject one)."""

    def __init__(
        self,
        url: str,
        *,
        namespace: str = "claudewire",
        timeout: float = 0.05,
        wall: Clock = time.time,
        client: aioredis.Redis | None = None,
    ) -> None:
        self._url = url
        self.namespace = namespace
        self.timeout = timeout
        self.wall = wall
        self.local = MemoryState(wall=wall)
        self._client = client
        self._admit_sha = ""
        self._settle_sha = ""
        self._up = True
        self._slow = 0
        self._probe: asyncio.Task[None] | None = None
        self._pending: list[_Pending] = []
        self._settles: list[tuple[list[str], int]] = []
        self._flushing: set[asyncio.Task[None]] = set()
        self._ids = itertools.count(1)
        self._member = f"{os.getpid():x}.{int(time.time() * 1000):x}."
        self.channel = f"{namespace}:events"
        self._listener: Callable[[bytes], None] | None = None
        self._listening: asyncio.Task[None] | None = None

    @property
    def up(self) -> bool:
        """Whether Redis answered the last call in time."""
        return self._up

    @property
    def url(self) -> str:
        """The Redis URL without credentials."""
        return safe_url(self._url)

    @property
    def client(self) -> aioredis.Redis:
        """The redis-py client (made on first use, inside the running loop)."""
        if self._client is None:
            self._client = aioredis.Redis.from_url(
                self._url,
                socket_timeout=max(self.timeout * 4, 0.5),
                socket_connect_timeout=max(self.timeout * 4, 0.5),
                retry=Retry(NoBackoff(), 0),
                health_check_interval=0,
            )
        return self._client

    def _keys(self, name: str, minute: int, day: int) -> list[str]:
        base = f"{self.namespace}:{{{name}}}"
        return [f"{base}:r", f"{base}:t:{minute}", f"{base}:d:{day}"]

    # --- the way in ------------------------------------------------------------------------------------------------
    async def admit(self, limits: ClientLimits, reserve: int) -> Admission:
        """Count one request in Redis (one pipelined round trip); from local state while Redis is away."""
        if not self._up:
            return self.local.admit_now(limits, reserve)
        now = self.wall()
        minute, day = int(now // MINUTE), int(now // DAY)
        rpm, tpm, tpd = (v or 0 for v in (limits.requests_per_minute, limits.tokens_per_minute, limits.tokens_per_day))
        member = f"{self._member}{next(self._ids)}"
        pending = _Pending(self._keys(limits.name, minute, day), [int(now * 1000), rpm, tpm, tpd, reserve, member])
        if not self._pending:
            asyncio.get_running_loop().call_soon(self._flush)
        self._pending.append(pending)
        try:
            async with asyncio.timeout(self.timeout):
                refused, count, oldest, used_minute, used_day = await asyncio.shield(pending.done)
        except TimeoutError as exc:
            self._slow += 1
            if self._slow >= 3:
                self._down(exc)
            return self.local.admit_now(limits, reserve)
        except (RedisError, OSError) as exc:
            self._down(exc)
            return self.local.admit_now(limits, reserve)
        self._slow = 0
        decision = Decision(
            limits,
            now,
            reserve,
            log_count=int(count),
            oldest=oldest / 1000 if oldest >= 0 else None,
            minute_used=int(used_minute),
            day_used=int(used_day),
        ).decide()
        if decision.allowed != (refused == 0):  # same inputs, same rule: only a bug could make them differ
            _log.error("state: Redis and local rules disagree for client %s (refused=%s)", limits.name, refused)
        ticket = Ticket(limits.name, reserve, minute, day, shared=True) if refused == 0 else None
        return Admission(refused == 0, ticket, decision.refused_by, decision.retry_after, decision.buckets, True)

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        if batch:
            self._spawn(self._send_admits(batch))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def _send_admits(self, batch: list[_Pending]) -> None:
        # settlements waiting to go out ride along, first, so these admissions see the corrected counts
        settles, self._settles = self._settles, []
        calls: list[tuple[str, list[str], list[int | str]]] = [(_SETTLE, keys, [delta]) for keys, delta in settles]
        calls += [(_ADMIT, p.keys, p.args) for p in batch]
        try:
            results = (await self._run(calls))[len(settles) :]
        except (RedisError, OSError) as exc:
            for p in batch:
                if not p.done.done():
                    p.done.set_exception(exc)
            return
        for p, result in zip(batch, results, strict=True):
            if p.done.done():
                continue
            if isinstance(result, Exception):
                p.done.set_exception(result)
            else:
                p.done.set_result([int(v) for v in result])

    async def _run(self, calls: list[tuple[str, list[str], list[int | str]]]) -> list[Any]:
        """Run every (script, keys, args) in one pipeline; the calls Redis had no script for (it restarted) are
        sent once more after loading the scripts, and only those (the others already ran)."""
        results: list[Any] = [None] * len(calls)
        todo = list(range(len(calls)))
        for attempt in range(2):
            shas = {script: await self._sha(script, reload=attempt > 0) for script in {calls[i][0] for i in todo}}
            pipe = self.client.pipeline(transaction=False)
            for i in todo:
                script, keys, args = calls[i]
                pipe.evalsha(shas[script], len(keys), *keys, *args)
            answers: list[Any] = await pipe.execute(raise_on_error=False)
            for i, answer in zip(todo, answers, strict=True):
                results[i] = answer
            todo = [i for i in todo if isinstance(results[i], NoScriptError)]
            if not todo:
                break
        return results

    async def _sha(self, script: str, *, reload: bool) -> str:
        attr = "_admit_sha" if script is _ADMIT else "_settle_sha"
        sha: str = getattr(self, attr)
        if not sha or reload:
            sha = str(await self.client.script_load(script))
            setattr(self, attr, sha)
        return sha

    # --- the way out -----------------------------------------------------------------------------------------------
    def settle(self, ticket: Ticket, used: int) -> None:
        """Queue the correction of `ticket`'s reservation; sent in the background, batched."""
        if not ticket.shared:
            self.local.settle(ticket, used)
            return
        delta = used - ticket.reserved
        if delta == 0 or not self._up:
            return
        keys = self._keys(ticket.client, ticket.minute, ticket.day)[1:]
        if not self._settles:  # sent with the next admissions, or on their own a moment later if none come
            asyncio.get_running_loop().call_later(_SETTLE_DELAY, self._flush_settles)
        self._settles.append((keys, delta))

    def _flush_settles(self) -> None:
        batch, self._settles = self._settles, []
        if batch:
            self._spawn(self._send_settles(batch))

    async def _send_settles(self, batch: list[tuple[list[str], int]]) -> None:
        try:
            async with asyncio.timeout(max(self.timeout * 10, 0.5)):
                await self._run([(_SETTLE, keys, [delta]) for keys, delta in batch])
        except (TimeoutError, RedisError, OSError) as exc:
            self._down(exc)

    # --- events between replicas (pub/sub) -------------------------------------------------------------------------
    def publish(self, event: bytes) -> None:
        """Publish `event` on the deployment's channel in the background (dropped while Redis is away)."""
        if self._up:
            self._spawn(self._publish(event))

    async def _publish(self, event: bytes) -> None:
        try:
            async with asyncio.timeout(max(self.timeout * 10, 0.5)):
                await self.client.publish(self.channel, event)
        except (TimeoutError, RedisError, OSError) as exc:
            self._down(exc)

    def listen(self, callback: Callable[[bytes], None]) -> None:
        """Call `callback` with every event published by the others (subscribed from `start` on)."""
        self._listener = callback

    async def _listen(self) -> None:
        # its own connection, with no read timeout: a quiet channel is not a dead one
        delay = 0.25
        while True:
            subscriber = aioredis.Redis.from_url(self._url, socket_connect_timeout=1.0, retry=Retry(NoBackoff(), 0))
            try:
                async with subscriber.pubsub() as pubsub:
                    await pubsub.subscribe(self.channel)
                    delay = 0.25
                    async for message in pubsub.listen():
                        if message.get("type") == "message" and self._listener is not None:
                            self._listener(message["data"])
            except (RedisError, OSError):
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await subscriber.aclose()

    async def start(self) -> None:
        """Connect and load the scripts (bounded); Redis away at start is like Redis going away later."""
        if self._listener is not None and self._listening is None:
            self._listening = asyncio.get_running_loop().create_task(self._listen())
        try:
            async with asyncio.timeout(max(self.timeout * 20, 1.0)):
                await self._sha(_ADMIT, reload=True)
                await self._sha(_SETTLE, reload=True)
        except (TimeoutError, RedisError, OSError) as exc:
            self._down(exc)

    # --- Redis away, and back ---------------------------------------------------------------------------------------
    def _down(self, exc: BaseException) -> None:
        if not self._up:
            return
        self._up = False
        reason = "no answer within %g ms" % (self.timeout * 1000) if isinstance(exc, TimeoutError) else str(exc)
        _log.warning(
            "state backend %s unreachable (%s): serving from this process's own state until it is back",
            self.url,
            reason,
        )
        if self._probe is None or self._probe.done():
            self._probe = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        delay = 0.25
        while True:
            await asyncio.sleep(delay)
            try:
                async with asyncio.timeout(max(self.timeout * 10, 0.5)):
                    # connections to the Redis that went away are dead: start over with fresh ones
                    await self.client.connection_pool.disconnect()
                    await self._sha(_ADMIT, reload=True)  # a restarted Redis has forgotten the scripts
                    await self._sha(_SETTLE, reload=True)
            except (TimeoutError, RedisError, OSError):
                delay = min(delay * 2, 5.0)
                continue
            self._up, self._slow = True, 0
            _log.warning("state backend %s is back: limits and state are shared again", self.url)
            return

    async def aclose(self) -> None:
        """Send pending settlements (bounded), stop the probe, close the connections."""
        self._flush()
        self._flush_settles()
        if self._flushing:
            await asyncio.wait(set(self._flushing), timeout=1.0)
        for task in (self._probe, self._listening):
            if task is not None:
                task.cancel()
        if self._client is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._client.aclose()
