"""The retry budget bounds retries relative to first attempts over a sliding window."""

from __future__ import annotations

from claudewire._errors import Failure, FailureKind
from claudewire.policy import BudgetTracker, DecisionAction, Policy, PolicyEngine, RetryBudget


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


def test_available_says_how_many_retries_are_left_without_spending_one() -> None:
    """`available` is the room `try_spend` would find: it counts down with each retry and reads 0 when spent."""
    tracker = BudgetTracker(RetryBudget(ratio=0.0, min_retries=2, window=10.0))
    assert tracker.available(0.0) == 2.0 == tracker.available(0.0)
    assert tracker.try_spend(0.0) and tracker.available(0.0) == 1.0
    assert tracker.try_spend(0.0) and tracker.available(0.0) == 0.0 and not tracker.try_spend(0.0)


def test_an_engine_counts_in_the_budget_it_is_given() -> None:
    """A budget kept elsewhere (a deployment's) replaces the engine's own: first attempts and retries go to it."""
    shared = BudgetTracker(RetryBudget(ratio=0.0, min_retries=1, window=10.0))
    engine = PolicyEngine(Policy(backoff_initial=0.0, backoff_max=0.0), clock=lambda: 0.0, budget=shared)
    call = engine.start("up")
    call.gate()
    first = call.record(Failure.of(FailureKind.SERVER, status=503))
    call.gate()
    second = call.record(Failure.of(FailureKind.SERVER, status=503))
    assert (first.action, second.action) == (DecisionAction.RETRY, DecisionAction.GIVE_UP)
    assert second.reason == "retry budget exhausted" and shared.available(0.0) == 0.0
