"""State in this process only: the default, and what the Redis backend falls back to while Redis is away."""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from claudewire.policy import BudgetTracker, RetryBudget
from claudewire.state.base import DAY, MINUTE, Admission, ClientLimits, Clock, Decision, Ticket
from claudewire.state.kv import MemoryKV

__all__ = ["MemoryState"]


@dataclass(slots=True)
class _Client:
    log: collections.deque[float] = field(default_factory=collections.deque)
    minute: int = -1
    minute_used: int = 0
    day: int = -1
    day_used: int = 0


class MemoryState:
    """Per-client counters in a dict; `wall` is the wall clock (windows are wall-clock minutes and UTC days)."""

    shared = False

    def __init__(self, *, wall: Clock = time.time) -> None:
        self.wall = wall
        self._clients: dict[str, _Client] = {}
        self.kv = MemoryKV(wall=wall)

    @property
    def up(self) -> bool:
        """Always True: memory is always there."""
        return True

    @property
    def url(self) -> str:
        """``memory``."""
        return "memory"

    def _client(self, name: str, now: float) -> _Client:
        state = self._clients.get(name)
        if state is None:
            state = self._clients[name] = _Client()
        minute, day = int(now // MINUTE), int(now // DAY)
        if state.minute != minute:
            state.minute, state.minute_used = minute, 0
        if state.day != day:
            state.day, state.day_used = day, 0
        log = state.log
        while log and log[0] <= now - MINUTE:
            log.popleft()
        return state

    def admit_now(self, limits: ClientLimits, reserve: int) -> Admission:
        """`admit` without awaiting (the Redis backend's fallback calls this)."""
        now = self.wall()
        state = self._client(limits.name, now)
        log = state.log
        decision = Decision(
            limits,
            now,
            reserve,
            log_count=len(log),
            oldest=log[0] if log else None,
            minute_used=state.minute_used,
            day_used=state.day_used,
        ).decide()
        if decision.allowed:
            if limits.requests_per_minute is not None:
                log.append(now)
            state.minute_used += reserve
            state.day_used += reserve
        return decision

    async def admit(self, limits: ClientLimits, reserve: int) -> Admission:
        """Count one request if every limit allows it (see `claudewire.state.base`)."""
        return self.admit_now(limits, reserve)

    def settle(self, ticket: Ticket, used: int) -> None:
        """Put the `used` tokens in place of the reservation, in the windows it was made in."""
        state = self._clients.get(ticket.client)
        if state is None:
            return
        delta = used - ticket.reserved
        if state.minute == ticket.minute:
            state.minute_used = max(0, state.minute_used + delta)
        if state.day == ticket.day:
            state.day_used = max(0, state.day_used + delta)

    async def session_get(self, session: str, ttl: float) -> str | None:
        """One process: the pool's own map knows its sessions."""
        return None

    async def session_set(self, session: str, key: str, ttl: float) -> None:
        """One process: the pool's own map knows its sessions."""

    async def kv_put(self, key: str, value: bytes, ttl: float, *, only_new: bool = False) -> bool:
        """Store `value` under `key` for `ttl` seconds (`only_new`: only if nothing is there)."""
        return self.kv.put(key, value, ttl, only_new=only_new)

    async def kv_get(self, key: str) -> bytes | None:
        """The value under `key`, or None."""
        return self.kv.get(key)

    async def kv_take(self, key: str) -> bytes | None:
        """The value under `key`, deleted."""
        return self.kv.take(key)

    async def kv_seen(self, key: str) -> bool:
        """Whether `key` holds a value."""
        return self.kv.get(key) is not None

    def retry_budget(self, budget: RetryBudget) -> BudgetTracker:
        """This process's own budget."""
        return BudgetTracker(budget)

    def publish(self, event: bytes) -> None:
        """One process: nobody else to tell."""

    def listen(self, callback: Callable[[bytes], None]) -> None:
        """One process: nobody else will speak."""

    async def start(self) -> None:
        """Nothing to start."""

    async def aclose(self) -> None:
        """Nothing to close."""
