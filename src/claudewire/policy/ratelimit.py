"""Adaptive rate limiting from the upstream's ``anthropic-ratelimit-*`` headers.

The API tells every caller how much of each bucket is left and when it refills (``...-remaining`` and ``...-reset``,
an RFC 3339 time). When a bucket is empty, sending more requests only earns 429s; holding them until the reset is
cheaper for everyone. This tracker turns the headers into "hold new requests until monotonic time T".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["FAMILIES", "RateLimitTracker", "parse_reset"]

FAMILIES: tuple[str, ...] = ("requests", "tokens", "input_tokens", "output_tokens")
_HEADER = {family: "anthropic-ratelimit-" + family.replace("_", "-") for family in FAMILIES}
# (family, its -remaining header, its -reset header): built once, read on every answer
_NAMES = tuple((family, prefix + "-remaining", prefix + "-reset") for family, prefix in _HEADER.items())


def parse_reset(value: str, wall_now: float) -> float | None:
    """Seconds from `wall_now` until an RFC 3339 reset time (0 when past), or None when unparseable."""
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - wall_now)


@dataclass(slots=True)
class RateLimitTracker:
    """The last known headroom of one upstream, and until when new requests should be held."""

    max_hold: float
    remaining: dict[str, float] = field(default_factory=dict)
    hold_until: float = 0.0

    def observe(self, headers: Mapping[str, str], now: float, wall_now: float) -> dict[str, float]:
        """Read the rate-limit headers of one answer; returns the remaining values it found, by family."""
        seen: dict[str, float] = {}
        for family, remaining, reset_name in _NAMES:
            raw = headers.get(remaining)
            if raw is None:
                continue
            try:
                left = float(raw)
            except ValueError:
                continue
            seen[family] = left
            if left >= 1:
                continue
            reset = headers.get(reset_name)
            wait = parse_reset(reset, wall_now) if reset else None
            if wait:
                self.hold_until = max(self.hold_until, now + min(wait, self.max_hold))
        if seen:
            self.remaining.update(seen)
        return seen

    def wait_time(self, now: float) -> float:
        """Seconds a new request should be held (0: send now)."""
        return max(0.0, self.hold_until - now)
