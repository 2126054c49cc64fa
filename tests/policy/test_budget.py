"""The retry budget bounds retries relative to first attempts over a sliding window."""

from __future__ import annotations

from claudewire.policy import BudgetTracker, RetryBudget


def test_floor_allows_retries_for_a_quiet_client() -> None:
    """With no traffic at all, the floor still allows `min_retries` retries per window."""
    t = BudgetTracker(RetryBudget(ratio=0.5, min_retries=3, window=10.0))
    assert [t.try_spend(0.0) for _ in range(4)] == [True, True, True, False]


def test_ratio_caps_retries_under_load() -> None:
    """Under load, retries are capped at ratio × first attempts in the window."""
    t = BudgetTracker(RetryBudget(ratio=0.5, min_retries=0, window=10.0))
    for _ in range(100):
        t.on_request(1.0)
    granted = sum(t.try_spend(1.0) for _ in range(100))
    assert granted == 50


def test_budget_refills_as_the_window_slides() -> None:
    """Spent retries stop counting once they slide out of the window."""
    t = BudgetTracker(RetryBudget(ratio=0.0, min_retries=2, window=10.0))
    assert t.try_spend(0.0) and t.try_spend(0.0)
    assert not t.try_spend(5.0)
    assert t.try_spend(25.0), "two windows later the old retries no longer count"
