"""The retry budget of a whole deployment, counted in Redis: retries allowed as a ratio of the requests of every
replica over the window, so a replica cannot retry freely while another already spent the budget.

The decision stays synchronous and local (the policy engine asks `try_spend` under its lock, with no I/O): it is
made against the deployment's counts as last read from Redis plus what this process counted since. Counts go to
Redis in the background: a first attempt's count rides the next pipeline of the way in (at most one sync every
`sync_every` seconds, so it costs no round trip of its own); a retry taken is sent at once (its own round trip,
not waited for), and an idle process refreshes its view every `refresh` seconds. So the budget is exact within one
process and, across processes, may be overshot by the retries the others took in the last moment (under
`sync_every` plus a round trip). Redis down: this process's own `BudgetTracker` decides, as it would alone.

Windows are fixed wall-clock windows of `window` seconds (``<prefix>:{budget}:<index>`` hashes of requests and
retries, expiring after three windows); like the local tracker, the sliding window is the current one plus the
previous one weighted by how much of it still overlaps.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from claudewire.policy import BudgetTracker, RetryBudget
from claudewire.state.pipe import Call, Script

__all__ = ["BUDGET_SCRIPT", "SharedBudget"]

# KEYS: this window's hash, the previous window's. ARGV: requests to add, retries to add, TTL ms.
# Returns {requests, retries, previous requests, previous retries}.
BUDGET_SCRIPT: Script = """
local q, r = tonumber(ARGV[1]), tonumber(ARGV[2])
if q > 0 then redis.call('HINCRBY', KEYS[1], 'q', q) end
if r > 0 then redis.call('HINCRBY', KEYS[1], 'r', r) end
if q > 0 or r > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
local c = redis.call('HMGET', KEYS[1], 'q', 'r')
local p = redis.call('HMGET', KEYS[2], 'q', 'r')
return {tonumber(c[1] or 0), tonumber(c[2] or 0), tonumber(p[1] or 0), tonumber(p[2] or 0)}
"""


class Link(Protocol):
    """What the budget needs of the Redis link (`RedisLink` has it)."""

    @property
    def up(self) -> bool: ...

    def ride(
        self, make: Callable[[], Sequence[Call]], on_result: Callable[[Sequence[Any]], None] | None = None, *,
        delay: float, eager: bool = True,
    ) -> None: ...  # fmt: skip

    def hurry(self) -> None: ...


class SharedBudget:
    """A `BudgetState` for the policy engine, shared through Redis: see the module docstring."""

    def __init__(
        self,
        budget: RetryBudget,
        link: Link,
        *,
        namespace: str = "claudewire",
        wall: Callable[[], float] = time.time,
        mono: Callable[[], float] = time.monotonic,
        sync_every: float = 0.1,
        refresh: float = 0.5,
    ) -> None:
        self.budget = budget
        self.link = link
        self.wall = wall  # windows are wall-clock windows, the same in every replica
        self.mono = mono  # when to sync
        self.sync_every = sync_every
        self.refresh = refresh
        self.local = BudgetTracker(budget)  # decides alone while Redis is away
        self._prefix = f"{namespace}:{{budget}}:"
        self._pending: dict[int, list[int]] = {}  # window -> [requests, retries] not sent yet
        self._inflight: dict[int, dict[int, list[int]]] = {}  # sync id -> what it carries, until it is answered
        self._view: tuple[int, int, int, int, int] | None = None  # (window, requests, retries, previous two)
        self._ids = itertools.count(1)
        self._due = False  # a sync is queued on the link, or out
        self._sent = False  # ... and out (made), not answered yet
        self._last = -math.inf  # `mono` time the last sync went out

    # --- the policy engine's budget interface ------------------------------------------------------------------
    def on_request(self, now: float) -> None:
        """A first attempt went out: counted here at once, in Redis with the next sync."""
        self.local.on_request(now)
        self._count(0)

    def try_spend(self, now: float) -> bool:
        """Take one retry if the deployment's budget has room (this process's own budget while Redis is away)."""
        if not self.link.up:
            return self.local.try_spend(now)
        requests, retries = self._estimate()
        if retries + 1 > self.budget.allowance(requests):
            return False
        self.local.try_spend(now)  # kept counting, for when Redis goes away
        self._count(1)
        return True

    def available(self, now: float) -> float:
        """Retries the budget allows now (the deployment's, or this process's while Redis is away)."""
        if not self.link.up:
            return self.local.available(now)
        requests, retries = self._estimate()
        return max(0.0, self.budget.allowance(requests) - retries)

    # --- inside ------------------------------------------------------------------------------------------------
    def _window(self) -> tuple[float, int]:
        t = self.wall()
        return t, int(t // self.budget.window)

    def _count(self, retry: int) -> None:
        _, window = self._window()
        counts = self._pending.get(window)
        if counts is None:  # a new window: the ones before the previous no longer count (bounded while away)
            self._pending = {w: c for w, c in self._pending.items() if w >= window - 1}
            counts = self._pending[window] = [0, 0]
        counts[retry] += 1
        if retry:
            self._schedule(0.0)
        elif not self._due:
            self._schedule(self.sync_every - (self.mono() - self._last))

    def stale(self) -> bool:
        """Whether the view is older than `refresh` (an idle process refreshes it, see `RedisState`)."""
        return not self._due and self.mono() - self._last >= self.refresh

    def sync(self) -> None:
        """Queue a sync now (its own round trip unless a pipeline of the way in goes out first)."""
        self._schedule(0.0)

    def _schedule(self, delay: float) -> None:
        if not self.link.up:
            return
        if self._due:  # one sync at a time: a queued one carries whatever is counted when it goes out, and
            if delay <= 0 and not self._sent:  # what is counted while one is out goes when it is answered
                self.link.hurry()
            return
        self._due = True
        sent: list[tuple[int, list[int]]] = []  # (sync id, its windows): what this ride's answers are about

        def make() -> list[Call]:
            calls, sync, windows = self._make()
            sent.append((sync, windows))
            return calls

        def on_result(results: Sequence[Any]) -> None:
            if sent:
                self._answered(*sent[0], results)

        self.link.ride(make, on_result, delay=max(0.0, delay), eager=False)

    def _make(self) -> tuple[list[Call], int, list[int]]:
        self._sent = True
        _, window = self._window()
        self._last = self.mono()
        batch, self._pending = self._pending, {}
        batch = {w: c for w, c in batch.items() if w >= window - 1}  # older windows no longer count
        sync = next(self._ids)
        self._inflight[sync] = batch
        ttl = int(self.budget.window * 3000)
        windows = sorted(set(batch) | {window})  # the current window last: its answer is the view
        calls: list[Call] = []
        for w in windows:
            q, r = batch.get(w, (0, 0))
            calls.append((BUDGET_SCRIPT, [f"{self._prefix}{w}", f"{self._prefix}{w - 1}"], [q, r, ttl]))
        return calls, sync, windows

    def _answered(self, sync: int, windows: list[int], results: Sequence[Any]) -> None:
        self._due = self._sent = False
        self._inflight.pop(sync, None)
        answer = results[-1] if results else None
        if isinstance(answer, list) and len(answer) == 4:
            q, r, pq, pr = (int(v) for v in answer)
            view = self._view
            if view is not None and view[0] == windows[-1]:  # counters only grow within a window
                q, r, pq, pr = max(q, view[1]), max(r, view[2]), max(pq, view[3]), max(pr, view[4])
            if view is None or windows[-1] >= view[0]:
                self._view = (windows[-1], q, r, pq, pr)
        # else failed: the link marks Redis down; these counts are lost, as they would be without Redis
        if any(c[1] for c in self._pending.values()):
            self._schedule(0.0)  # retries counted while this sync was out
        elif self._pending:
            self._schedule(self.sync_every - (self.mono() - self._last))

    def _estimate(self) -> tuple[float, float]:
        """(requests, retries) of the sliding window: the view, plus what is not in it yet."""
        t, window = self._window()
        cur = [0, 0]
        prev = [0, 0]
        if self._view is not None:
            w, q, r, pq, pr = self._view
            if w == window:
                cur, prev = [q, r], [pq, pr]
            elif w == window - 1:
                prev = [q, r]
        for counts in (self._pending, *self._inflight.values()):
            for w, (q, r) in counts.items():
                into = cur if w == window else prev if w == window - 1 else None
                if into is not None:
                    into[0] += q
                    into[1] += r
        overlap = max(0.0, 1.0 - (t - window * self.budget.window) / self.budget.window)
        return cur[0] + prev[0] * overlap, cur[1] + prev[1] * overlap
