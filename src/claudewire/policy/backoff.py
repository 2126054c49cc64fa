"""Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter")."""

from __future__ import annotations

import random

__all__ = ["backoff_ceiling", "full_jitter"]


def backoff_ceiling(retry: int, initial: float, maximum: float) -> float:
    """The upper bound of the wait before retry number `retry` (1-based): initial × 2^(retry-1), capped."""
    if retry < 1:
        raise ValueError("retry numbers start at 1")
    # cap the exponent: 2**1000 overflows float multiplication long before it matters
    return min(maximum, initial * (2.0 ** min(retry - 1, 64)))


def full_jitter(retry: int, initial: float, maximum: float, rng: random.Random) -> float:
    """A wait drawn uniformly from [0, backoff_ceiling(retry)]."""
    return rng.uniform(0.0, backoff_ceiling(retry, initial, maximum))
