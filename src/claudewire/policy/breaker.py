"""A circuit breaker that opens on an outage, never on a storm: a pure state machine fed outcomes and a monotonic time.

It never sleeps or locks (the engine serialises access). The state machine::

           trip: >= `failures_to_open` failures in a row AND no success for `silence` seconds AND, of the
           last `window` outcomes (at least `min_calls` of them, none older than `window_seconds`), >= `failure_rate`
           failed
      CLOSED ───────────────────────────────────────────────────────────────────────────────▶ OPEN
        ▲                                                                                    │   ▲
        │ the probe succeeds                     the pause is over and a call asks: that     │   │ the probe fails:
        │ (window cleared)                       call is the one probe                       ▼   │ a longer pause
        └──────────────────────────────────────────────────────────────────────────────── HALF_OPEN

Why these conditions. A *storm* (say 25% of attempts answered 529 or reset, the rest fine) throws up runs of five
failures in a row every few seconds once enough calls are concurrent; the seed's breaker, which counted only the
run, opened on it and turned a 25% fault rate into a 100% one. What an *outage* has and a storm has not is that the
successes stop. So a run of failures opens the breaker only when the recent outcomes are nearly all failures too
(resilience4j's failure-rate window with a minimum number of calls; Portkey's count-or-percentage thresholds, here
count-*and*-percentage) and no attempt at all has succeeded for `silence` seconds. The rate alone is not enough at
high volume (an upstream failing 80% of attempts shows 18 failures in 20 now and then, yet still serves thousands of
calls a minute: that is the retry budget's case, not the breaker's); the silence alone is not enough for a lone
caller (its own backoff between attempts is a silence). The window is count-based (the last `window` outcomes) so
it means the same at 1 call/s and at 1,000; outcomes older than `window_seconds` are forgotten so that an idle
client's successes from an hour ago do not mask a dead API. On a fresh breaker a dead upstream still opens after
`failures_to_open` failures in a row (the window then holds only failures and there was no success), which keeps
the seed's intent.

The pause grows like Envoy's ejection time: the first is `probe_after` seconds (probe early: a short outage costs
seconds, not a fixed cooldown), each failed probe multiplies it by 1.5 up to `cooldown`. An upstream that opens
again within `cooldown` of closing (flapping) resumes at its last pause instead of the shortest one.

Invariants (pinned by property tests): no transition skips a state (OPEN is only left through HALF_OPEN); HALF_OPEN
admits one probe at a time; only the probe's own outcome moves HALF_OPEN. Outcomes of attempts admitted before the
breaker opened (still in flight when it did) arrive late and are ignored while OPEN or HALF_OPEN.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field

from claudewire.policy.config import Policy

__all__ = ["PAUSE_GROWTH", "Breaker", "BreakerState"]

PAUSE_GROWTH = 1.5
"""Each failed probe multiplies the pause by this, up to the breaker's `cooldown`."""


class BreakerState(enum.StrEnum):
    """Where a breaker stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(slots=True)
class Breaker:
    """The breaker of one upstream. Not thread-safe by itself: the engine serialises access.

    `failures_to_open` and `cooldown` keep their positional places from the first breaker; the other knobs are
    keywords. `min_calls` None means `failures_to_open` (or `window` if smaller); `probe_after` None means
    `cooldown` (a fixed pause, the seed's behaviour).
    """

    failures_to_open: int
    cooldown: float
    failure_rate: float = 0.9
    min_calls: int | None = None
    window: int = 20
    window_seconds: float = 60.0
    probe_after: float | None = None
    silence: float = 3.0
    state: BreakerState = BreakerState.CLOSED
    consecutive_failures: int = 0
    opened_at: float = 0.0
    pause: float = 0.0
    probe_in_flight: bool = False
    closed_at: float | None = None
    last_success: float | None = None
    _outcomes: deque[tuple[float, bool]] = field(default_factory=deque, repr=False)

    def __post_init__(self) -> None:
        if self.failures_to_open < 1 or self.cooldown < 0:
            raise ValueError("breaker needs failures_to_open >= 1 and cooldown >= 0")
        if not 0.0 < self.failure_rate <= 1.0:
            raise ValueError("breaker failure_rate must be in (0, 1]")
        if self.min_calls is not None and self.min_calls < 1:
            raise ValueError("breaker min_calls must be >= 1 (or None: failures_to_open)")
        if self.window < self.needed_calls or self.window_seconds <= 0:
            raise ValueError("breaker window must hold at least min_calls outcomes and window_seconds be > 0")
        if self.probe_after is not None and self.probe_after < 0:
            raise ValueError("breaker probe_after must be >= 0 (or None: cooldown)")
        if self.silence < 0:
            raise ValueError("breaker silence must be >= 0 seconds")

    @classmethod
    def from_policy(cls, policy: Policy) -> Breaker:
        """The breaker a `Policy`'s ``breaker_*`` fields describe."""
        return cls(
            policy.breaker_failures,
            policy.breaker_cooldown,
            failure_rate=policy.breaker_failure_rate,
            min_calls=policy.breaker_min_calls,
            window=policy.breaker_window,
            window_seconds=policy.breaker_window_seconds,
            probe_after=policy.breaker_probe_after,
            silence=policy.breaker_silence,
        )

    @property
    def needed_calls(self) -> int:
        """How many outcomes the window must hold before its failure rate may open the breaker."""
        if self.min_calls is not None:
            return self.min_calls
        # a run of failures_to_open already means that many outcomes were seen; a window smaller than the run is full
        return min(self.failures_to_open, self.window)

    @property
    def first_pause(self) -> float:
        """The pause after a trip from a healthy CLOSED state."""
        return self.cooldown if self.probe_after is None else min(self.probe_after, self.cooldown)

    def window_failure_rate(self, now: float) -> tuple[int, float]:
        """(outcomes, fraction failed) in the window at `now`; (0, 0.0) when it is empty."""
        self._forget(now)
        total = len(self._outcomes)
        if not total:
            return 0, 0.0
        return total, sum(failed for _, failed in self._outcomes) / total

    def retry_in(self, now: float) -> float:
        """Seconds until an open breaker admits a probe (0 when it would admit one now or is not open)."""
        if self.state is not BreakerState.OPEN:
            return 0.0
        return min(self.pause, max(0.0, self._pause_left(now)))

    def admit(self, now: float) -> bool:
        """Whether a request may go out now; admitting the probe moves OPEN to HALF_OPEN (the caller's is the probe)."""
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.OPEN:
            if self._pause_left(now) > 0.0:
                return False
            self.state = BreakerState.HALF_OPEN
            self.probe_in_flight = True
            return True
        # HALF_OPEN: one probe at a time
        if self.probe_in_flight:
            return False
        self.probe_in_flight = True
        return True

    def on_success(self, now: float, *, probe: bool = False) -> None:
        """An attempt got an answer that proves the upstream alive; `probe` says it was the one HALF_OPEN admitted."""
        if self.state is BreakerState.CLOSED:
            self.consecutive_failures = 0
            self.last_success = now
            self._record(now, failed=False)
        elif self.state is BreakerState.HALF_OPEN and probe and self.probe_in_flight:
            self.state = BreakerState.CLOSED
            self.probe_in_flight = False
            self.consecutive_failures = 0
            self.closed_at = self.last_success = now
            self._outcomes.clear()  # a fresh start: the failures that opened it are history

    def on_failure(self, now: float, *, probe: bool = False) -> None:
        """An attempt failed in a way that counts against the upstream (5xx, overload, connection failure)."""
        if self.state is BreakerState.CLOSED:
            self.consecutive_failures += 1
            self._record(now, failed=True)
            if self.consecutive_failures >= self.failures_to_open and self._outage(now):
                flapping = self.closed_at is not None and now - self.closed_at < self.cooldown
                self._open(now, self.pause if flapping and self.pause else self.first_pause)
        elif self.state is BreakerState.HALF_OPEN and probe and self.probe_in_flight:
            self.probe_in_flight = False
            self._open(now, min(self.cooldown, max(self.pause, self.first_pause) * PAUSE_GROWTH))

    def open_elsewhere(self, now: float, pause: float) -> None:
        """Another replica opened this upstream's breaker with `pause` seconds left: a CLOSED one opens for as long."""
        if self.state is BreakerState.CLOSED:
            self._open(now, pause)

    def closed_elsewhere(self, now: float) -> None:
        """Another replica's probe succeeded: an OPEN breaker's pause ends now, so the next call is the probe here
        (OPEN is still only left through HALF_OPEN)."""
        if self.state is BreakerState.OPEN:
            self.pause = min(self.pause, max(0.0, now - self.opened_at))

    def on_abandon(self) -> None:
        """The probe was abandoned without an outcome: let another call probe."""
        self.probe_in_flight = False

    def _pause_left(self, now: float) -> float:
        # one expression for admit() and retry_in(), so they can never disagree by a rounding error
        return self.opened_at + self.pause - now

    def _open(self, now: float, pause: float) -> None:
        self.state = BreakerState.OPEN
        self.opened_at = now
        self.pause = pause

    def _outage(self, now: float) -> bool:
        if self.last_success is not None and now - self.last_success < self.silence:
            return False
        total, rate = self.window_failure_rate(now)
        return total >= self.needed_calls and rate >= self.failure_rate

    def _record(self, now: float, *, failed: bool) -> None:
        self._outcomes.append((now, failed))
        if len(self._outcomes) > self.window:
            self._outcomes.popleft()

    def _forget(self, now: float) -> None:
        outcomes = self._outcomes
        while outcomes and now - outcomes[0][0] > self.window_seconds:
            outcomes.popleft()
