"""The in-memory state backend: the limit rules every backend keeps, on an injected wall clock."""

from __future__ import annotations

import asyncio

from claudewire.state import Bucket, ClientLimits, MemoryState


class Wall:
    """A settable wall clock."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _admit(state: MemoryState, limits: ClientLimits, reserve: int = 0) -> bool:
    return asyncio.run(state.admit(limits, reserve)).allowed


def test_requests_per_minute_is_a_sliding_window_with_the_exact_wait() -> None:
    """N requests in any 60 s pass; the next waits until the oldest leaves the window, to the second."""
    wall = Wall(1_800_000_010.0)
    state, limits = MemoryState(wall=wall), ClientLimits("ci", requests_per_minute=3)
    for step in range(3):
        wall.now += step
        assert state.admit_now(limits, 0).allowed
    refused = state.admit_now(limits, 0)
    assert not refused.allowed and refused.refused_by is Bucket.REQUESTS
    assert refused.retry_after == 60.0 - 3  # the first was 3 s ago
    (view,) = refused.buckets
    assert (view.limit, view.remaining, view.reset) == (3, 0, 1_800_000_070.0)
    wall.now += 57.0
    assert state.admit_now(limits, 0).allowed  # the first left the window
    assert not state.admit_now(limits, 0).allowed


def test_a_refusal_by_tokens_takes_no_request_slot() -> None:
    """A request refused for tokens does not count against requests_per_minute."""
    state, limits = MemoryState(wall=Wall()), ClientLimits("ci", requests_per_minute=2, tokens_per_minute=100)
    assert state.admit_now(limits, 100).allowed
    for _ in range(5):
        refused = state.admit_now(limits, 10)
        assert refused.refused_by is Bucket.TOKENS
    assert state.admit_now(limits, 0).allowed  # the second request slot is still free
    assert state.admit_now(limits, 0).refused_by is Bucket.REQUESTS


def test_reservations_are_replaced_by_the_real_usage() -> None:
    """settle() swaps a reservation for the tokens used, so a big max_tokens does not block once answered."""
    state, limits = MemoryState(wall=Wall()), ClientLimits("ci", tokens_per_minute=1000)
    first = state.admit_now(limits, 900)
    assert first.allowed and first.ticket is not None
    assert not state.admit_now(limits, 200).allowed  # 900 reserved + 200 > 1000
    state.settle(first.ticket, 50)
    second = state.admit_now(limits, 200)
    assert second.allowed
    assert second.buckets[0].remaining == 1000 - 50 - 200


def test_an_empty_window_admits_one_request_bigger_than_the_limit() -> None:
    """A max_tokens over the whole limit passes in an empty window (once), instead of locking the client out."""
    state, limits = MemoryState(wall=Wall()), ClientLimits("ci", tokens_per_minute=100)
    assert state.admit_now(limits, 500).allowed
    assert not state.admit_now(limits, 1).allowed


def test_token_windows_reset_on_the_minute_and_the_utc_day() -> None:
    """tokens_per_minute refills at the next wall-clock minute, tokens_per_day at the next UTC midnight."""
    day = 86400.0
    wall = Wall(20_000 * day + 30.0)  # 30 s into a UTC day
    state = MemoryState(wall=wall)
    limits = ClientLimits("ci", tokens_per_minute=100, tokens_per_day=150)
    assert state.admit_now(limits, 100).allowed
    refused = state.admit_now(limits, 10)
    assert refused.refused_by is Bucket.TOKENS and refused.retry_after == 30.0
    wall.now += 30.0
    assert state.admit_now(limits, 50).allowed
    refused = state.admit_now(limits, 10)
    assert refused.refused_by is Bucket.DAILY_TOKENS and refused.retry_after == day - 60.0
    wall.now = 20_001 * day
    assert state.admit_now(limits, 100).allowed


def test_settling_a_ticket_of_a_past_window_changes_nothing_now() -> None:
    """A stream that ends in the next minute does not give the new minute back tokens it never took."""
    wall = Wall(1_800_000_000.0 - 1_800_000_000.0 % 60 + 59.0)
    state, limits = MemoryState(wall=wall), ClientLimits("ci", tokens_per_minute=100)
    ticket = state.admit_now(limits, 100).ticket
    assert ticket is not None
    wall.now += 2.0
    assert state.admit_now(limits, 60).allowed
    state.settle(ticket, 0)
    assert not state.admit_now(limits, 50).allowed  # 60 used in this minute, the old refund did not land here
