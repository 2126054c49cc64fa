"""The state interface: what the gateway keeps that other workers and instances must see.

Per-client limits are counted here (`admit` on the way in, `settle` on the way out). A backend is in memory (one
process) or Redis (every worker and replica of one deployment); both keep the same rules:

- ``requests_per_minute``: a sliding log; at most N admissions in any 60 seconds, exactly.
- ``tokens_per_minute``: a counter per wall-clock minute; ``tokens_per_day`` a counter per UTC day.
- A request reserves its worst case (``max_tokens`` plus an input estimate) when admitted, and `settle` replaces
  the reservation with what the answer's ``usage`` reported, so concurrent streams cannot overshoot a budget by more
  than one request's reservation (a request is admitted while the reservation fits, or when the window is empty).
- A check that fails takes nothing: a request refused for tokens does not use up a request slot.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from claudewire.policy import BudgetState, RetryBudget

__all__ = [
    "DAY",
    "MINUTE",
    "Admission",
    "Bucket",
    "BucketView",
    "ClientLimits",
    "StateBackend",
    "StateUnavailableError",
    "Ticket",
    "rfc3339",
]

MINUTE = 60.0
DAY = 86400.0


class StateUnavailableError(RuntimeError):
    """The shared store could not answer a key-value call in time (sign-in answers 503 and the client retries)."""


class Bucket(enum.StrEnum):
    """Which of a client's limits a view describes (or refused a request)."""

    REQUESTS = "requests"
    TOKENS = "tokens"
    DAILY_TOKENS = "daily_tokens"


@dataclass(frozen=True, slots=True)
class ClientLimits:
    """One client's limits (None: unlimited). `name` is bounded configuration, safe as a key and a metric label."""

    name: str
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    tokens_per_day: int | None = None

    @property
    def counted(self) -> bool:
        """Whether any limit is set (a client without one needs no state at all)."""
        return any(v is not None for v in (self.requests_per_minute, self.tokens_per_minute, self.tokens_per_day))


@dataclass(frozen=True, slots=True)
class BucketView:
    """One bucket as the client sees it: `limit`, what is `remaining`, and `reset` (wall-clock epoch seconds)."""

    bucket: Bucket
    limit: int
    remaining: int
    reset: float


@dataclass(frozen=True, slots=True)
class Ticket:
    """What an admission reserved, so `settle` can put the real count in its place."""

    client: str
    reserved: int
    minute: int
    day: int
    shared: bool = False  # counted in the shared store (else in this process's own)


@dataclass(frozen=True, slots=True)
class Admission:
    """The answer of `StateBackend.admit`: allowed (with a `ticket`) or refused by `refused_by` for `retry_after` s.

    `buckets` describe the client's buckets after the decision (for ``anthropic-ratelimit-*`` style headers).
    `shared` is False when the answer came from this process alone (memory backend, or Redis unreachable).
    """

    allowed: bool
    ticket: Ticket | None = None
    refused_by: Bucket | None = None
    retry_after: float = 0.0
    buckets: tuple[BucketView, ...] = ()
    shared: bool = False


class StateBackend(Protocol):
    """Where the gateway's shared state lives. What a request asks on the way in (`admit`, `session_get`) goes to
    the store in one round trip; everything else is sent in the background."""

    shared: bool
    """Whether other processes see this state (False: memory, nothing to ask the store for)."""

    @property
    def up(self) -> bool:
        """Whether the shared store is reachable (always True for memory)."""
        ...

    @property
    def url(self) -> str:
        """Where the state lives, safe to print (no password)."""
        ...

    async def admit(self, limits: ClientLimits, reserve: int) -> Admission:
        """Count one request of `limits.name` reserving `reserve` tokens, if every limit allows it."""
        ...

    def settle(self, ticket: Ticket, used: int) -> None:
        """Replace `ticket`'s reservation with the `used` tokens; never blocks (a backend may send it later)."""
        ...

    async def session_get(self, session: str, ttl: float) -> str | None:
        """The member key (``name#index``) bound to `session`, its TTL refreshed to `ttl`; None: none known."""
        ...

    async def session_set(self, session: str, key: str, ttl: float) -> None:
        """Bind `session` to member `key` for `ttl` seconds (bounded; a store away loses it)."""
        ...

    async def kv_put(self, key: str, value: bytes, ttl: float, *, only_new: bool = False) -> bool:
        """Store `value` under `key` for `ttl` seconds (`only_new`: only if nothing is there); True when stored.
        Raises `StateUnavailableError` when a shared store cannot answer (sign-in must not guess)."""
        ...

    async def kv_get(self, key: str) -> bytes | None:
        """The value under `key`, or None; raises `StateUnavailableError` like `kv_put`."""
        ...

    async def kv_take(self, key: str) -> bytes | None:
        """The value under `key`, deleted in the same step (exactly one of concurrent takers gets it)."""
        ...

    async def kv_seen(self, key: str) -> bool:
        """Whether `key` holds a value, for a request's path: bounded like `admit`, False when the store could not
        say in time (fail open, as limits do)."""
        ...

    def retry_budget(self, budget: RetryBudget) -> BudgetState:
        """The retry budget the policy engine counts in (shared by the deployment, or this process's own)."""
        ...

    def publish(self, event: bytes) -> None:
        """Send `event` to every other process sharing this state (never blocks; memory: nobody to tell)."""
        ...

    def listen(self, callback: Callable[[bytes], None]) -> None:
        """Call `callback` with every event the others publish (from `start` on)."""
        ...

    async def start(self) -> None:
        """Get ready to serve (connect, load scripts); bounded, and never raises for an unreachable store."""
        ...

    async def aclose(self) -> None:
        """Send what is pending (bounded) and close connections."""
        ...


def rfc3339(epoch: float) -> str:
    """An RFC 3339 UTC time, as the API's ``anthropic-ratelimit-*-reset`` headers carry."""
    return datetime.fromtimestamp(math.ceil(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(slots=True)
class Decision:
    """The pure decision shared by the backends: given counts, admit or refuse (and with what views)."""

    limits: ClientLimits
    now: float
    reserve: int
    log_count: int = 0
    oldest: float | None = None
    minute_used: int = 0
    day_used: int = 0
    views: list[BucketView] = field(default_factory=list)

    def decide(self) -> Admission:
        """Admit or refuse by the first bucket that does not fit; views reflect the state after the decision."""
        lim, now = self.limits, self.now
        minute, day = int(now // MINUTE), int(now // DAY)
        refused: Bucket | None = None
        wait = 0.0
        rpm, tpm, tpd = lim.requests_per_minute, lim.tokens_per_minute, lim.tokens_per_day
        if rpm is not None and self.log_count >= rpm:
            refused = Bucket.REQUESTS
            wait = (self.oldest if self.oldest is not None else now) + MINUTE - now
        elif tpm is not None and not _fits(self.minute_used, self.reserve, tpm):
            refused, wait = Bucket.TOKENS, (minute + 1) * MINUTE - now
        elif tpd is not None and not _fits(self.day_used, self.reserve, tpd):
            refused, wait = Bucket.DAILY_TOKENS, (day + 1) * DAY - now
        allowed = refused is None
        taken = self.reserve if allowed else 0
        views: list[BucketView] = []
        if rpm is not None:
            count = self.log_count + (1 if allowed else 0)
            first = self.oldest if self.oldest is not None else now
            views.append(BucketView(Bucket.REQUESTS, rpm, max(0, rpm - count), first + MINUTE))
        if tpm is not None:
            views.append(BucketView(Bucket.TOKENS, tpm, max(0, tpm - self.minute_used - taken), (minute + 1) * MINUTE))
        if tpd is not None:
            views.append(BucketView(Bucket.DAILY_TOKENS, tpd, max(0, tpd - self.day_used - taken), (day + 1) * DAY))
        ticket = Ticket(lim.name, self.reserve, minute, day) if allowed else None
        return Admission(allowed, ticket, refused, max(0.0, wait), tuple(views))


def _fits(used: int, reserve: int, limit: int) -> bool:
    # an empty window admits one request whatever its size: a limit below one max_tokens must not lock a client out
    return used + reserve <= limit or (used <= 0 and reserve > 0)


Clock = Callable[[], float]
