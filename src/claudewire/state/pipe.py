"""The Redis link of the state backend: Lua calls pipelined per event-loop tick, fail open, reconnect with backoff.

- `ask` is the way in: every call asked for in one tick goes out in one pipeline of ``EVALSHA`` (one round trip
  for them all), and the answer is waited for at most `timeout` (50 ms): a slower one is `MISSING`, and the caller
  answers from its own local state; or, for a caller that gives a `meanwhile` (a client's admission), what
  `meanwhile()` answers locally (a small lease), else Redis's own late answer, within the pipeline's bound.
- `ride` is for what can wait (settlements, retry-budget counts): it goes with the next tick's pipeline of the way
  in, or on its own after `delay`, so it adds no round trip of its own to a busy gateway.
- A connection error, or a pipeline not answered within its bound (10 x `timeout`, at least 0.5 s), mark Redis
  down: `up` False (every call is then `MISSING` at once, nothing is sent), said once (a flapping Redis too:
  `claudewire.state.health`), and a background probe reconnects with backoff (0.25 s doubling to 5 s). A Redis
  that answers late is slow, not down: `up` stays True. A restarted Redis has forgotten the scripts: the calls it
  refused for that are sent once more after loading them.
- Cheap per request, because it is on every request's path (measured, docs/benchmarks.md): one timer per batch
  (not a timeout and a shield per call), and the pipelines go straight on connections of the link's own, packed
  here, without redis-py's Pipeline (its per-call bookkeeping and per-read timers cost more than the rest: at 64
  concurrent requests the old path missed the 50 ms bound and fell back to local state).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError, RedisError, ResponseError

from claudewire.state.health import Reachability, describe

__all__ = ["MISSING", "RedisLink", "Script", "safe_url"]

Args = Sequence[int | float | str]
Script = str
"""A Lua script's source; the link loads it once and calls it by its SHA."""
Call = tuple[Script, Sequence[str], Args]
"""(script, keys, args)."""


class _Missing:
    """No answer from Redis (down, slow or failed): the caller uses its local state."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
_SLOW: Final = _Missing()  # an answer not back within the timeout
_PENDING: Final = _Missing()  # the pipeline of this call is still out


def _expire(asked: list[_Asked]) -> None:
    for a in asked:
        if not a.done.done():
            a.done.set_result(_SLOW)


def _pack(commands: list[tuple[Any, ...]]) -> bytes:
    """`commands` as one RESP request (arrays of bulk strings; ints in decimal, text in UTF-8). redis-py's own
    packer handles every argument type there is, and cost more per request than the rest of the pipeline."""
    parts: list[bytes] = []
    add = parts.append
    for command in commands:
        add(b"*%d\r\n" % len(command))
        for arg in command:
            data = arg if isinstance(arg, bytes) else str(arg).encode()
            add(b"$%d\r\n" % len(data))
            add(data)
            add(b"\r\n")
    return b"".join(parts)


_KEEPALIVE = {
    opt: value
    for opt, value in (
        (getattr(socket, "TCP_KEEPIDLE", None) or getattr(socket, "TCP_KEEPALIVE", None), 30),  # Linux; macOS
        (getattr(socket, "TCP_KEEPINTVL", None), 5),
        (getattr(socket, "TCP_KEEPCNT", None), 3),
    )
    if opt is not None
}


def safe_url(url: str) -> str:
    """`url` without user or password: ``redis://host:port/db``."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


@dataclass(slots=True)
class _Asked:
    call: Call
    done: asyncio.Future[Any] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    result: Any = _PENDING  # Redis's answer (or MISSING) once the pipeline is back, however late
    late: asyncio.Future[Any] | None = None  # made only for a caller that waits past the timeout

    def answer(self, result: Any) -> None:
        """The pipeline is back (`result`, or MISSING when it failed): tell whoever still waits."""
        self.result = result
        if not self.done.done():
            self.done.set_result(result)
        if self.late is not None and not self.late.done():
            self.late.set_result(result)


@dataclass(slots=True)
class _Rider:
    make: Callable[[], Sequence[Call]]  # made when it goes out, so it carries what was counted until then
    on_result: Callable[[Sequence[Any]], None] | None
    not_before: float = 0.0  # loop time before which it does not go, even with a pipeline of the way in


class RedisLink:
    """One deployment's connection to Redis: see the module docstring. `client` is made on first use (tests may
    give one); `connect` are redis-py connection options (TLS certificates ...)."""

    def __init__(
        self,
        url: str,
        scripts: Sequence[Script],
        *,
        timeout: float = 0.05,
        client: aioredis.Redis | None = None,
        connect: dict[str, Any] | None = None,
        stable: float = 10.0,
    ) -> None:
        self.raw_url = url
        self.timeout = timeout
        self.scripts = tuple(scripts)
        self.connect = connect or {}
        self._client = client
        self._shas: dict[Script, str] = {}
        self.health = Reachability(self.url, stable=stable)
        self._probe: asyncio.Task[None] | None = None
        self._asked: list[_Asked] = []
        self._riders: list[_Rider] = []
        self._ride_at: float | None = None  # loop time the eager riders are due to go out at ...
        self._ride_timer: asyncio.TimerHandle | None = None  # ... by this timer
        self._tasks: set[asyncio.Task[Any]] = set()
        self._idle: list[Any] = []  # the link's own connections for the pipelines, idle

    @property
    def up(self) -> bool:
        """Whether Redis answered the last call in time."""
        return self.health.up

    @property
    def url(self) -> str:
        """The Redis URL without credentials."""
        return safe_url(self.raw_url)

    @property
    def bound(self) -> float:
        """Seconds a pipeline may take before Redis counts as down (10 x the timeout, at least 0.5 s)."""
        return max(self.timeout * 10, 0.5)

    @property
    def client(self) -> aioredis.Redis:
        """The redis-py client (made on first use, inside the running loop)."""
        if self._client is None:
            self._client = self.new_client(socket_timeout=max(self.timeout * 4, 0.5))
        return self._client

    def new_client(self, **options: Any) -> aioredis.Redis:
        """A redis-py client of this URL with the link's connection options (the subscriber has its own)."""
        options.setdefault("socket_connect_timeout", max(self.timeout * 4, 0.5))
        if not self.raw_url.startswith("unix:"):
            # keepalive after 30 s idle keeps a NAT's mapping of an idle connection, and errors one whose peer is
            # gone. Not redis-py's health_check_interval: on a subscription it never checks a PING was answered;
            # the pipelines' bound and the subscription's heartbeat (`claudewire.state.redis`) notice dead ones.
            options.setdefault("socket_keepalive", True)
            options.setdefault("socket_keepalive_options", _KEEPALIVE)
        return aioredis.Redis.from_url(
            self.raw_url, retry=Retry(NoBackoff(), 0), health_check_interval=0, **self.connect, **options
        )

    # --- the way in ------------------------------------------------------------------------------------------------
    async def ask(
        self, script: Script, keys: Sequence[str], args: Args, *, meanwhile: Callable[[], Any] | None = None
    ) -> Any:
        """Run one script call in this tick's pipeline; its answer, or `MISSING` (Redis down, slow or failing).

        With `meanwhile`, an answer later than the timeout is not given up on: `meanwhile()` is asked first (a
        local answer, or None), and without one Redis's own answer is waited for, within the pipeline's bound.
        """
        if not self.health.up:
            return MISSING
        asked = _Asked((script, keys, args))
        if not self._asked:
            asyncio.get_running_loop().call_soon(self._flush)
        self._asked.append(asked)
        answer = await asked.done  # the batch's own timer bounds the wait (`_expire`)
        if answer is _SLOW:
            if meanwhile is None:
                return MISSING
            local = meanwhile()
            if local is not None:
                return local
            answer = asked.result
            if answer is _PENDING:  # still out: the pipeline's own bound (`_exchange`) ends this wait
                asked.late = asyncio.get_running_loop().create_future()
                answer = await asked.late
        if answer is MISSING:  # the pipeline failed: `_send` has marked Redis down
            return MISSING
        if isinstance(answer, Exception):  # Redis refused this call (out of memory ...): local state serves
            self.down(answer)
            return MISSING
        return answer

    def ride(self, make: Callable[[], Sequence[Call]], on_result: Callable[[Sequence[Any]], None] | None = None,
             *, delay: float, eager: bool = True) -> None:  # fmt: skip
        """Send `make()`'s calls with the next pipeline of the way in (`eager`; else the first one `delay` seconds
        from now), or on their own after `delay` seconds. `on_result` gets their answers (an exception in place of
        one that failed); nothing is queued while Redis is down."""
        if not self.health.up:
            return
        loop = asyncio.get_running_loop()
        at = loop.time() + max(0.0, delay)
        self._riders.append(_Rider(make, on_result, 0.0 if eager else at))
        if not eager:
            loop.call_later(max(0.0, delay), self._flush)
        elif self._ride_at is None or at < self._ride_at:  # one timer for the eager ones, the earliest wins
            if self._ride_timer is not None:
                self._ride_timer.cancel()
            self._ride_at = at
            self._ride_timer = loop.call_later(max(0.0, delay), self._flush)

    def hurry(self) -> None:
        """Send every queued rider now (a retry's count: the others should hear of it at once)."""
        if self._riders:
            for rider in self._riders:
                rider.not_before = 0.0
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        asked, self._asked = self._asked, []
        riders, self._riders = self._riders, []  # a new list: riders queued from now on wait for the next
        if riders:
            soon = asyncio.get_running_loop().time() + 0.001  # a timer may fire a hair early
            if any(r.not_before > soon for r in riders):
                riders, self._riders = (
                    [r for r in riders if r.not_before <= soon],
                    [r for r in riders if r.not_before > soon],
                )
            self._ride_at = None  # no eager rider is left: their timer would only wake the loop for nothing
            if self._ride_timer is not None:
                self._ride_timer.cancel()
                self._ride_timer = None
        if asked or riders:
            # one timer for the batch: whoever still waits then is answered from local state
            timer = asyncio.get_running_loop().call_later(self.timeout, _expire, asked) if asked else None
            self.spawn(self._send(asked, riders, timer))

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run `coro` in the background, kept until done (and waited for, bounded, by `aclose`)."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, asked: list[_Asked], riders: list[_Rider], timer: asyncio.TimerHandle | None) -> None:
        try:
            await self._exchange(asked, riders)
        finally:
            if timer is not None:
                timer.cancel()
            for a in asked:  # whatever happened, nobody is left waiting
                if a.result is _PENDING:
                    a.answer(MISSING)

    async def _exchange(self, asked: list[_Asked], riders: list[_Rider]) -> None:
        # riders go first, so the way in sees the counts they correct
        made = [list(r.make()) for r in riders]
        calls = [c for calls in made for c in calls] + [a.call for a in asked]
        try:
            async with asyncio.timeout(self.bound):
                results = await self.run(calls) if calls else []
        except (TimeoutError, RedisError, OSError) as exc:
            self.down(exc)
            for rider, calls in zip(riders, made, strict=True):
                if rider.on_result is not None:
                    rider.on_result([exc] * len(calls))
            for a in asked:
                a.answer(MISSING)
            return
        at = 0
        for rider, calls in zip(riders, made, strict=True):
            if rider.on_result is not None:
                rider.on_result(results[at : at + len(calls)])
            at += len(calls)
        for a, result in zip(asked, results[at:], strict=True):
            a.answer(result)

    async def run(self, calls: Sequence[Call]) -> list[Any]:
        """Run every (script, keys, args) in one pipeline; the calls Redis had no script for (it restarted) are
        sent once more after loading the scripts, and only those (the others already ran)."""
        results: list[Any] = [None] * len(calls)
        todo = list(range(len(calls)))
        for attempt in range(2):
            shas = {script: await self._sha(script, reload=attempt > 0) for script in {calls[i][0] for i in todo}}
            commands = [("EVALSHA", shas[calls[i][0]], len(calls[i][1]), *calls[i][1], *calls[i][2]) for i in todo]
            answers = await self._pipelined(commands)
            for i, answer in zip(todo, answers, strict=True):
                results[i] = answer
            todo = [i for i in todo if isinstance(results[i], NoScriptError)]
            if not todo:
                break
        return results

    async def _pipelined(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        # straight on a connection of the link's own (redis-py's Pipeline adds its bookkeeping to every request);
        # no socket timeout on it: the batch's timers bound the wait, so no timer per read
        conn = self._idle.pop() if self._idle else self._connection()
        try:
            await conn.send_packed_command(_pack(commands), check_health=False)
            answers: list[Any] = []
            for _ in commands:
                try:
                    answers.append(await conn.read_response())
                except ResponseError as exc:  # this call failed, not the connection
                    answers.append(exc)
        except BaseException:
            with contextlib.suppress(Exception):
                await conn.disconnect()  # replies half read: this connection is out of step, drop it
            raise
        if len(self._idle) < 8:
            self._idle.append(conn)
        else:
            await conn.disconnect()
        return answers

    def _connection(self) -> Any:
        pool = self.client.connection_pool
        return pool.connection_class(**{**pool.connection_kwargs, "socket_timeout": None})

    async def _sha(self, script: Script, *, reload: bool) -> str:
        sha = self._shas.get(script)
        if sha is None or reload:
            sha = self._shas[script] = str(await self.client.script_load(script))
        return sha

    async def _load(self) -> None:
        for script in self.scripts:
            await self._sha(script, reload=True)

    # --- start, Redis away and back, close -----------------------------------------------------------------------
    async def start(self) -> None:
        """Connect and load the scripts (bounded); Redis away at start is like Redis going away later."""
        try:
            async with asyncio.timeout(max(self.timeout * 20, 1.0)):
                await self._load()
        except (TimeoutError, RedisError, OSError) as exc:
            self.down(exc)

    def down(self, exc: BaseException) -> None:
        """Redis failed or did not answer: serve from local state, say so (once, `Reachability`), probe until it
        is back."""
        if not self.health.lost(describe(exc, self.bound)):
            return
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
                    await self._drop_idle()
                    await self._load()  # a restarted Redis has forgotten the scripts
            except (TimeoutError, RedisError, OSError):
                delay = min(delay * 2, 5.0)
                continue
            self.health.regained()
            return

    async def _drop_idle(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            with contextlib.suppress(Exception):
                await conn.disconnect()

    async def aclose(self) -> None:
        """Send what is queued (bounded), stop the probe, close the connections."""
        self._flush()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=1.0)
        if self._probe is not None:
            self._probe.cancel()
        await self._drop_idle()
        if self._client is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._client.aclose()
