"""State shared through Redis by every worker and replica of one deployment (redis-py's asyncio client).

- One round trip on the way in: what requests of one event-loop tick ask (admissions, session bindings) goes out
  as one pipeline of ``EVALSHA`` calls (one Lua script per call, so each check-and-count is atomic); settlements
  and retry-budget counts ride along with the next pipeline (or go out on their own a moment later), so a request
  costs one round trip in all (`claudewire.state.pipe`).
- Keys live under ``<prefix>:{<client>}:...`` (one hash slot per client), ``<prefix>:s:<session digest>`` and
  ``<prefix>:{budget}:<window>``, and all expire: the request log after a minute, token counters after their
  window, a session binding `ttl` after its last request, budget windows after three windows.
- Redis down never fails a request: a connection error, or a pipeline not answered within its bound (10 x
  `timeout`, at least 0.5 s), switch to the local `MemoryState` (each process counting alone, with the full limits:
  fail open): logged once, `up` False, and a background probe reconnects with backoff (0.25 s doubling to 5 s)
  before the shared state is used again.
- Redis slow is not Redis down: an admission not answered within `timeout` (50 ms) is granted locally only within a
  small lease (a tenth of this process's share of each limit, `processes` sharing it on this host, at least 1 per
  window), and otherwise waits for Redis's own answer; so a cold start's first burst, or a Redis taking 80 ms,
  cannot make each worker grant a whole minute's quota. The overshoot while Redis is slow is at most one lease per
  process and window: the lease's grants that Redis, answering late, refused. Session reads still give up at
  `timeout` (a best effort). `start()` connects and loads the scripts before serving, so the first requests do not
  pay for that.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import logging
import math
import os
import time
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from claudewire.policy import RetryBudget
from claudewire.state.base import DAY, MINUTE, Admission, ClientLimits, Clock, Decision, StateUnavailableError, Ticket
from claudewire.state.budget import BUDGET_SCRIPT, SharedBudget
from claudewire.state.memory import MemoryState
from claudewire.state.pipe import MISSING, Call, RedisLink, safe_url

__all__ = ["RedisState", "safe_url"]

_log = logging.getLogger(__name__)

# KEYS: request log (zset), minute tokens, day tokens. ARGV: now ms, rpm, tpm, tpd (0: none), reserve, member.
# Returns 'refused,log count,oldest ms,minute used,day used' (refused: 0 none, 1 requests, 2 tokens, 3 daily; oldest
# -1: none): one bulk string, cheaper to read than an array of five.
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
return string.format('%d,%d,%d,%d,%d', refused, count, oldest, mu, du)
"""
# KEYS: (minute tokens, day tokens) per settlement, of one client; ARGV: each settlement's delta. A counter whose
# window is over (key expired) stays gone.
_SETTLE = """
for i = 1, #ARGV do
  for j = 2 * i - 1, 2 * i do
    if redis.call('EXISTS', KEYS[j]) == 1 then redis.call('INCRBY', KEYS[j], ARGV[i]) end
  end
end
return 0
"""
# KEYS: the session's binding. ARGV: TTL ms. The member key serving the session (its TTL refreshed), or nil.
_SESSION = """
local v = redis.call('GET', KEYS[1])
if v then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return v
"""
# KEYS: the session's binding. ARGV: member key, TTL ms.
_BIND = """
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""

# KEYS: one key-value entry. Whether it holds a value (the request path's revocation check).
_SEEN = """
return redis.call('EXISTS', KEYS[1])
"""

_KV_TIMEOUT = 2.0  # seconds a sign-in key-value call may take (rare, and a wrong answer is worse than a late one)
_SETTLE_DELAY = 0.02  # seconds a settlement waits to share the next admission pipeline's round trip


_LEASE = 10  # a slow Redis's local lease: this process's share of a limit divided by this


class _SilentError(ConnectionError):
    """The event subscription's connection stopped answering (a NAT or a firewall dropped it without a word)."""


class RedisState:
    """The Redis backend; see the module docstring. `processes`: how many processes on this host share the
    deployment's limits (``--workers``), for the lease; `heartbeat`: seconds of silence after which the event
    subscription PINGs (and as long again without an answer: the connection is dead, Redis counts as down, both
    reconnect); `stable`: seconds a flapping Redis must stay up before the log says it is back; `wall` is the wall
    clock used for windows (tests inject one); `connect` are redis-py connection options (TLS: ``ssl_ca_certs``)."""

    shared = True

    def __init__(
        self,
        url: str,
        *,
        namespace: str = "claudewire",
        timeout: float = 0.05,
        processes: int = 1,
        heartbeat: float = 5.0,
        stable: float = 10.0,
        wall: Clock = time.time,
        client: aioredis.Redis | None = None,
        connect: dict[str, Any] | None = None,
    ) -> None:
        self.namespace = namespace
        self.processes = max(1, processes)
        self.heartbeat = heartbeat
        self._leases: dict[ClientLimits, ClientLimits] = {}
        self.wall = wall
        self.local = MemoryState(wall=wall)
        self.link = RedisLink(
            url,
            (_ADMIT, _SETTLE, _SESSION, _BIND, _SEEN, BUDGET_SCRIPT),
            timeout=timeout,
            client=client,
            connect=connect,
            stable=stable,
        )
        self._ids = itertools.count(1)
        self._member = f"{os.getpid():x}.{int(time.time() * 1000):x}."
        self.channel = f"{namespace}:events"
        self._listener: Callable[[bytes], None] | None = None
        self._listening: asyncio.Task[None] | None = None
        self._budget: SharedBudget | None = None
        self._settles: list[tuple[Ticket, int]] = []  # settlements waiting for the next pipeline
        self._refreshing: asyncio.Task[None] | None = None

    @property
    def up(self) -> bool:
        """Whether Redis answered the last call in time."""
        return self.link.up

    @property
    def url(self) -> str:
        """The Redis URL without credentials."""
        return self.link.url

    @property
    def timeout(self) -> float:
        """Seconds a call on the way in may take before local state answers it."""
        return self.link.timeout

    def _keys(self, name: str, minute: int, day: int) -> list[str]:
        base = f"{self.namespace}:{{{name}}}"
        return [f"{base}:r", f"{base}:t:{minute}", f"{base}:d:{day}"]

    # --- the way in ------------------------------------------------------------------------------------------------
    async def admit(self, limits: ClientLimits, reserve: int) -> Admission:
        """Count one request in Redis (one pipelined round trip); from local state while Redis is away."""
        if not self.link.up:
            return self.local.admit_now(limits, reserve)
        now = self.wall()
        minute, day = int(now // MINUTE), int(now // DAY)
        rpm, tpm, tpd = (v or 0 for v in (limits.requests_per_minute, limits.tokens_per_minute, limits.tokens_per_day))
        member = f"{self._member}{next(self._ids)}"
        answer = await self.link.ask(
            _ADMIT,
            self._keys(limits.name, minute, day),
            [int(now * 1000), rpm, tpm, tpd, reserve, member],
            meanwhile=lambda: self._lease(limits, reserve),
        )
        if isinstance(answer, Admission):  # granted from the lease while Redis is slow
            return answer
        if answer is MISSING:  # Redis failed or went away: fail open
            return self.local.admit_now(limits, reserve)
        refused, count, oldest, used_minute, used_day = (int(v) for v in answer.split(b","))
        decision = Decision(
            limits,
            now,
            reserve,
            log_count=count,
            oldest=oldest / 1000 if oldest >= 0 else None,
            minute_used=used_minute,
            day_used=used_day,
        ).decide()
        if decision.allowed != (refused == 0):  # same inputs, same rule: only a bug could make them differ
            _log.error("state: Redis and local rules disagree for client %s (refused=%s)", limits.name, refused)
        ticket = Ticket(limits.name, reserve, minute, day, shared=True) if refused == 0 else None
        return Admission(refused == 0, ticket, decision.refused_by, decision.retry_after, decision.buckets, True)

    def _lease(self, limits: ClientLimits, reserve: int) -> Admission | None:
        """An admission granted locally while Redis is slow, within the lease; None once the lease is used up (the
        caller then waits for Redis). Counted in the same local state as a fail-open admission, so an outage's
        local grants use up the lease too."""
        leased = self._leases.get(limits)
        if leased is None:
            leased = self._leases[limits] = ClientLimits(
                limits.name, *(self._share(v) for v in (limits.requests_per_minute, limits.tokens_per_minute,
                                                        limits.tokens_per_day))
            )  # fmt: skip
        admission = self.local.admit_now(leased, reserve)
        return admission if admission.allowed else None

    def _share(self, limit: int | None) -> int | None:
        return None if limit is None else max(1, math.ceil(limit / (self.processes * _LEASE)))

    def _session_key(self, session: str) -> str:
        # a digest: the id is the caller's, of any length and alphabet; its binding names only a member key
        return f"{self.namespace}:s:{hashlib.sha256(session.encode('utf-8', 'replace')).hexdigest()[:32]}"

    async def session_get(self, session: str, ttl: float) -> str | None:
        """The member key bound to `session` (its TTL refreshed), or None: none, or Redis could not say in time."""
        answer = await self.link.ask(_SESSION, [self._session_key(session)], [max(1, int(ttl * 1000))])
        if isinstance(answer, bytes):
            return answer.decode("utf-8", "replace")
        return answer if isinstance(answer, str) else None

    async def session_set(self, session: str, key: str, ttl: float) -> None:
        """Bind `session` to member `key` for `ttl` seconds (bounded like every call; lost while Redis is away)."""
        await self.link.ask(_BIND, [self._session_key(session)], [key, max(1, int(ttl * 1000))])

    # --- key-value entries (sign-in): awaited, bounded by `_KV_TIMEOUT`, never answered from local state -----------
    def _kv_key(self, key: str) -> str:
        return f"{self.namespace}:kv:{key}"

    async def _kv(self, command: str, *args: Any) -> Any:
        if not self.link.up:
            raise StateUnavailableError(f"state backend {self.url} is unreachable")
        try:
            async with asyncio.timeout(_KV_TIMEOUT):
                return await self.link.client.execute_command(command, *args)  # type: ignore[no-untyped-call]
        except (TimeoutError, RedisError, OSError) as exc:
            raise StateUnavailableError(f"state backend {self.url} did not answer {command}: {exc!r}") from exc

    async def kv_put(self, key: str, value: bytes, ttl: float, *, only_new: bool = False) -> bool:
        """``SET key value PX ttl [NX]`` in Redis; True when stored."""
        extra = ("NX",) if only_new else ()
        return bool(await self._kv("SET", self._kv_key(key), value, "PX", max(1, int(ttl * 1000)), *extra))

    async def kv_get(self, key: str) -> bytes | None:
        """``GET`` in Redis."""
        value = await self._kv("GET", self._kv_key(key))
        return value if isinstance(value, bytes) or value is None else str(value).encode()

    async def kv_take(self, key: str) -> bytes | None:
        """``GETDEL`` in Redis (6.2 or newer): atomic, so of two replicas finishing one grant only one gets it."""
        value = await self._kv("GETDEL", self._kv_key(key))
        return value if isinstance(value, bytes) or value is None else str(value).encode()

    async def kv_seen(self, key: str) -> bool:
        """Whether `key` exists, in this tick's pipeline; False when Redis could not say in time (fail open)."""
        answer = await self.link.ask(_SEEN, [self._kv_key(key)], [])
        return answer is not MISSING and int(answer) == 1

    def retry_budget(self, budget: RetryBudget) -> SharedBudget:
        """The deployment's retry budget, counted in Redis (one per process: make it once)."""
        if self._budget is None:
            self._budget = SharedBudget(budget, self.link, namespace=self.namespace, wall=self.wall)
        return self._budget

    # --- the way out -----------------------------------------------------------------------------------------------
    def settle(self, ticket: Ticket, used: int) -> None:
        """Queue the correction of `ticket`'s reservation; sent in the background, batched."""
        if not ticket.shared:
            self.local.settle(ticket, used)
            return
        delta = used - ticket.reserved
        if delta == 0 or not self.link.up:
            return
        if not self._settles:
            self.link.ride(self._settlements, delay=_SETTLE_DELAY)
        self._settles.append((ticket, delta))

    def _settlements(self) -> list[Call]:
        # one call per client for every settlement queued since the last pipeline
        settles, self._settles = self._settles, []
        by_client: dict[str, tuple[list[str], list[int]]] = {}
        for ticket, delta in settles:
            keys, deltas = by_client.setdefault(ticket.client, ([], []))
            keys += self._keys(ticket.client, ticket.minute, ticket.day)[1:]
            deltas.append(delta)
        return [(_SETTLE, keys, deltas) for keys, deltas in by_client.values()]

    # --- events between replicas (pub/sub) -------------------------------------------------------------------------
    def publish(self, event: bytes) -> None:
        """Publish `event` on the deployment's channel in the background (dropped while Redis is away)."""
        if self.link.up:
            self.link.spawn(self._publish(event))

    async def _publish(self, event: bytes) -> None:
        try:
            async with asyncio.timeout(max(self.link.timeout * 10, 0.5)):
                await self.link.client.publish(self.channel, event)
        except (TimeoutError, RedisError, OSError) as exc:
            self.link.down(exc)

    def listen(self, callback: Callable[[bytes], None]) -> None:
        """Call `callback` with every event published by the others (subscribed from `start` on)."""
        self._listener = callback

    async def _listen(self) -> None:
        # its own connection; reconnected with backoff whenever it fails or goes silent (`_receive`)
        delay = 0.25
        while True:
            subscriber = self.link.new_client(socket_connect_timeout=1.0)
            try:
                async with subscriber.pubsub() as pubsub:
                    await pubsub.subscribe(self.channel)
                    delay = 0.25
                    await self._receive(pubsub)
            except _SilentError as exc:
                self.link.down(exc)  # the pipelines' connections may have gone the same way: the probe renews them
            except (RedisError, OSError, TimeoutError):
                pass
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await subscriber.aclose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _receive(self, pubsub: Any) -> None:
        # A quiet channel is not a dead one, and a connection a NAT dropped silently is not closed either: it just
        # never answers. So after `heartbeat` seconds with nothing heard the subscription PINGs, and a PING with no
        # answer within another `heartbeat` is a dead connection (a read with no timeout would wait forever).
        pinged = False
        while True:
            message = await pubsub.get_message(timeout=self.heartbeat)
            if message is not None:
                pinged = False
                if message.get("type") == "message" and self._listener is not None:
                    self._listener(message["data"])
                continue
            if pinged:
                raise _SilentError(f"the event subscription got no answer to PING within {self.heartbeat:g} s")
            await pubsub.ping(b"claudewire")
            pinged = True

    async def _refresh(self, budget: SharedBudget) -> None:
        # an idle process keeps its view of the deployment's retry budget fresh, so its first retry sees it
        while True:
            await asyncio.sleep(budget.refresh / 2)
            if self.link.up and budget.stale():
                budget.sync()

    async def start(self) -> None:
        """Connect and load the scripts (bounded); Redis away at start is like Redis going away later."""
        loop = asyncio.get_running_loop()
        if self._listener is not None and self._listening is None:
            self._listening = loop.create_task(self._listen())
        if self._budget is not None and self._refreshing is None:
            self._refreshing = loop.create_task(self._refresh(self._budget))
        await self.link.start()

    async def aclose(self) -> None:
        """Send pending settlements (bounded), stop the background tasks, close the connections."""
        for task in (self._listening, self._refreshing):
            if task is not None:
                task.cancel()
        await self.link.aclose()
