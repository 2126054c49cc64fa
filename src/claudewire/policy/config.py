"""The policy's knobs: one frozen dataclass shared by the client, the gateway and the doctor's report."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

__all__ = ["CALL_FIELDS", "Policy", "RetryBudget"]

CALL_FIELDS = frozenset({"max_retries", "backoff_initial", "backoff_max", "deadline"})
"""The per-call fields of a `Policy`; every other field is engine-wide (shared by all calls of one engine)."""


@dataclass(frozen=True, slots=True)
class RetryBudget:
    """How much retrying is allowed when failures look systemic.

    Over a sliding `window` (seconds), retries may number at most `ratio` × the first attempts seen in it, and never
    fewer than `min_retries` (so a quiet client can always retry). With the default ratio of 1.0 a storm of failures
    at most doubles the load on the upstream (once it offers more than `min_retries` calls per window), where per-call
    retries alone would multiply it by `max_retries + 1`. The floor of 100 per 10 s (Finagle's 10 retries a second)
    covers the end of a burst: 64 concurrent calls through 35% faults still retry after the last new call started.
    """

    ratio: float = 1.0
    min_retries: int = 100
    window: float = 10.0

    def __post_init__(self) -> None:
        if self.ratio < 0 or self.min_retries < 0 or self.window <= 0:
            raise ValueError("RetryBudget needs ratio >= 0, min_retries >= 0 and window > 0")

    def allowance(self, requests: float) -> float:
        """Retries allowed in a window that saw `requests` first attempts: `ratio` of them, at least `min_retries`."""
        return max(float(self.min_retries), self.ratio * requests)


@dataclass(frozen=True, slots=True)
class Policy:
    """The one resilience policy: backoff, retry-after cap, circuit breaker, retry budget, deadline.

    Two scopes. Per call (`CALL_FIELDS`): `max_retries`, `backoff_initial`, `backoff_max`, `deadline`; a client's
    copy or a single call may change them freely. Engine-wide (all the rest): the breaker, the retry budget and
    `max_retry_after` (also the cap on rate-limit holds) are state shared by every call of one `PolicyEngine`, so
    changing one means another engine: `client.copy(policy=...)` builds one (with fresh breakers) when they differ.

    - `max_retries`: retries after the first attempt. 8 by default: through 35% transient faults five attempts fail
      together on 0.5% of calls, nine on 0.008%; the retry budget, not this count, bounds the load in a brownout, and
      a dead upstream opens the breaker after five.
    - `backoff_initial` / `backoff_max`: exponential backoff bounds in seconds, with full jitter.
    - `max_retry_after`: a server asking for a longer wait is not waited for; the call fails at once with the SDK's
      own error, which carries the wait.
    - the breaker of an upstream opens on an outage, never on a storm: `breaker_failures` failures in a row AND no
      success for `breaker_silence` seconds AND at least `breaker_failure_rate` of its last `breaker_window`
      outcomes failed (at least `breaker_min_calls` of them, none older than `breaker_window_seconds`; None:
      `breaker_failures`). A fresh breaker on a dead API opens
      after `breaker_failures` failures, as before. It pauses `breaker_probe_after` seconds, then one half-open
      probe decides; each failed probe makes the pause 1.5× longer, up to `breaker_cooldown` (None for
      `breaker_probe_after`: always `breaker_cooldown`). See `claudewire.policy.breaker`.
    - `retry_budget`: see `RetryBudget`; None switches the budget off.
    - `deadline`: total seconds for one call, its retries and waits included (None: only the SDK timeout bounds it).
    """

    max_retries: int = 8
    backoff_initial: float = 1.0
    backoff_max: float = 10.0
    max_retry_after: float = 60.0
    breaker_failures: int = 5
    breaker_cooldown: float = 30.0
    breaker_failure_rate: float = 0.9
    breaker_min_calls: int | None = None
    breaker_window: int = 20
    breaker_window_seconds: float = 60.0
    breaker_probe_after: float | None = 1.0
    breaker_silence: float = 3.0
    retry_budget: RetryBudget | None = field(default_factory=RetryBudget)
    deadline: float | None = None

    def engine_changes(self, other: Policy) -> list[str]:
        """Names of the engine-wide fields in which this policy differs from `other`."""
        return [
            f.name
            for f in fields(self)
            if f.name not in CALL_FIELDS and getattr(self, f.name) != getattr(other, f.name)
        ]

    def shares_engine(self, other: Policy) -> bool:
        """True when both policies have the same engine-wide fields (so one engine can serve both)."""
        return not self.engine_changes(other)

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if self.backoff_initial < 0 or self.backoff_max < self.backoff_initial:
            raise ValueError("backoff needs 0 <= backoff_initial <= backoff_max")
        if self.max_retry_after < 0:
            raise ValueError("max_retry_after must be >= 0")
        if self.breaker_failures < 1 or self.breaker_cooldown < 0:
            raise ValueError("breaker needs breaker_failures >= 1 and breaker_cooldown >= 0")
        if not 0.0 < self.breaker_failure_rate <= 1.0:
            raise ValueError("breaker_failure_rate must be in (0, 1], e.g. 0.9 for 90%")
        if self.breaker_min_calls is not None and not 1 <= self.breaker_min_calls <= self.breaker_window:
            raise ValueError("breaker_min_calls must be between 1 and breaker_window, or None")
        if self.breaker_window < 1 or self.breaker_window_seconds <= 0:
            raise ValueError("breaker needs breaker_window >= 1 outcome and breaker_window_seconds > 0")
        if self.breaker_probe_after is not None and self.breaker_probe_after < 0:
            raise ValueError("breaker_probe_after must be >= 0 seconds, or None")
        if self.breaker_silence < 0:
            raise ValueError("breaker_silence must be >= 0 seconds")
        if self.deadline is not None and self.deadline <= 0:
            raise ValueError("deadline must be > 0 seconds, or None")
