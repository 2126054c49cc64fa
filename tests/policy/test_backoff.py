"""Backoff with full jitter stays inside its bounds."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from claudewire.policy import backoff_ceiling, full_jitter


def test_ceiling_doubles_then_caps() -> None:
    """The ceiling is initial × 2^(n-1) until it reaches the cap (the seed's 1 s → 10 s)."""
    assert [backoff_ceiling(n, 1.0, 10.0) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_retry_numbers_start_at_one() -> None:
    """Asking for retry 0 is a programming error, not a silent zero wait."""
    with pytest.raises(ValueError):
        backoff_ceiling(0, 1.0, 10.0)


@given(
    retry=st.integers(min_value=1, max_value=10_000),
    initial=st.floats(min_value=0.0, max_value=5.0),
    extra=st.floats(min_value=0.0, max_value=100.0),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_full_jitter_within_bounds(retry: int, initial: float, extra: float, seed: int) -> None:
    """Every drawn delay lies in [0, min(backoff_max, initial·2^(n-1))], whatever the retry number."""
    maximum = initial + extra
    delay = full_jitter(retry, initial, maximum, random.Random(seed))
    assert 0.0 <= delay <= maximum
    assert delay <= backoff_ceiling(retry, initial, maximum)


def test_full_jitter_spreads_delays() -> None:
    """Full jitter draws across the whole range rather than clustering at the ceiling."""
    rng = random.Random(1)
    delays = [full_jitter(3, 1.0, 10.0, rng) for _ in range(2000)]
    assert min(delays) < 0.5
    assert max(delays) > 3.5
