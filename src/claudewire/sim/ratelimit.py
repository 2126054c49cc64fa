"""Request and token buckets per API key, with the numbers the ``anthropic-ratelimit-*`` headers report.

Sans-IO: every method takes the monotonic time; the caller turns reset instants into wall-clock timestamps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from claudewire.sim.config import RateLimits

__all__ = ["Admission", "Bucket", "RateLimiter"]


@dataclass(slots=True)
class Bucket:
    """A bucket of `capacity` refilled continuously at capacity per minute (the API's token-bucket algorithm)."""

    capacity: float
    level: float
    stamp: float

    def refill(self, now: float) -> None:
        """Add what the elapsed time earned, up to capacity."""
        if now > self.stamp:
            self.level = min(self.capacity, self.level + (now - self.stamp) * self.capacity / 60.0)
        self.stamp = now

    def wait_for(self, amount: float) -> float:
        """Seconds until `amount` is available (0 if it is now; inf if it never fits)."""
        if amount > self.capacity:
            return math.inf
        missing = amount - self.level
        return 0.0 if missing <= 0 else missing * 60.0 / self.capacity

    def until_full(self) -> float:
        """Seconds until the bucket is full again."""
        return (self.capacity - self.level) * 60.0 / self.capacity


@dataclass(frozen=True, slots=True)
class Admission:
    """The outcome of one request against the buckets, with what the headers should say."""

    allowed: bool
    retry_after: float
    requests_limit: int
    requests_remaining: int
    requests_reset_in: float
    tokens_limit: int
    tokens_remaining: int
    tokens_reset_in: float


class RateLimiter:
    """Per-key request and token buckets. Not thread-safe: one event loop owns it."""

    def __init__(self, limits: RateLimits) -> None:
        self.limits = limits
        self._buckets: dict[str, tuple[Bucket, Bucket]] = {}

    def _pair(self, key: str, now: float) -> tuple[Bucket, Bucket]:
        pair = self._buckets.get(key)
        if pair is None:
            if len(self._buckets) > 10_000:  # bounded: forget keys rather than grow without end
                self._buckets.clear()
            rpm, tpm = float(self.limits.requests_per_minute), float(self.limits.tokens_per_minute)
            pair = (Bucket(rpm, rpm, now), Bucket(tpm, tpm, now))
            self._buckets[key] = pair
        return pair

    def admit(self, key: str, tokens: int, now: float, *, consume: bool = True) -> Admission:
        """Take one request and `tokens` from `key`'s buckets if both have room; say how long to wait if not.

        With `consume` false nothing is taken: the state is only reported (endpoints outside the limits).
        """
        requests, token_bucket = self._pair(key, now)
        requests.refill(now)
        token_bucket.refill(now)
        wait = max(requests.wait_for(1.0), token_bucket.wait_for(float(tokens))) if consume else 0.0
        allowed = wait == 0.0
        if allowed and consume:
            requests.level -= 1.0
            token_bucket.level -= tokens
        return Admission(
            allowed=allowed,
            retry_after=0.0 if allowed else wait,
            requests_limit=self.limits.requests_per_minute,
            requests_remaining=max(0, int(requests.level)),
            requests_reset_in=requests.until_full(),
            tokens_limit=self.limits.tokens_per_minute,
            tokens_remaining=max(0, int(token_bucket.level)),
            tokens_reset_in=token_bucket.until_full(),
        )
