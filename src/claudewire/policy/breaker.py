"""A circuit breaker as a pure state machine: fed outcomes and a monotonic time, it never sleeps or locks.

    CLOSED --(failures consecutive failures)--> OPEN --(cooldown elapsed, one probe admitted)--> HALF_OPEN
    HALF_OPEN --(probe succeeds)--> CLOSED
    HALF_OPEN --(probe fails)--> OPEN (a fresh cooldown)

No transition skips a state: OPEN is only left through HALF_OPEN, and HALF_OPEN admits exactly one probe at a time.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["Breaker", "BreakerState"]


class BreakerState(enum.StrEnum):
    """Where a breaker stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(slots=True)
class Breaker:
    """The breaker of one upstream. Not thread-safe by itself: the engine serialises access."""

    failures_to_open: int
    cooldown: float
    state: BreakerState = BreakerState.CLOSED
    consecutive_failures: int = 0
    opened_at: float = 0.0
    probe_in_flight: bool = False

    def retry_in(self, now: float) -> float:
        """Seconds until an open breaker admits a probe (0 when it would admit one now or is not open)."""
        if self.state is not BreakerState.OPEN:
            return 0.0
        return max(0.0, self.opened_at + self.cooldown - now)

    def admit(self, now: float) -> bool:
        """Whether a request may go out now; admitting the half-open probe moves OPEN to HALF_OPEN."""
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.OPEN:
            if now - self.opened_at < self.cooldown:
                return False
            self.state = BreakerState.HALF_OPEN
            self.probe_in_flight = True
            return True
        # HALF_OPEN: one probe at a time
        if self.probe_in_flight:
            return False
        self.probe_in_flight = True
        return True

    def on_success(self) -> None:
        """The upstream answered (any answer that proves it is alive)."""
        self.consecutive_failures = 0
        self.probe_in_flight = False
        self.state = BreakerState.CLOSED

    def on_failure(self, now: float) -> None:
        """The upstream failed in a way that counts against it (5xx, overload, connection failure)."""
        self.consecutive_failures += 1
        if self.state is BreakerState.HALF_OPEN:
            self.probe_in_flight = False
            self.state = BreakerState.OPEN
            self.opened_at = now
        elif self.state is BreakerState.CLOSED and self.consecutive_failures >= self.failures_to_open:
            self.state = BreakerState.OPEN
            self.opened_at = now

    def on_abandon(self) -> None:
        """The probe was abandoned without an outcome: let another call probe."""
        self.probe_in_flight = False
