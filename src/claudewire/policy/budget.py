"""The retry budget as a sliding window approximated by two fixed windows (current and previous)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from claudewire.policy.config import RetryBudget

__all__ = ["BudgetState", "BudgetTracker"]


class BudgetState(Protocol):
    """What the engine asks of a retry budget: `BudgetTracker` (this process), or one shared by a deployment."""

    def on_request(self, now: float) -> None:
        """A first attempt went out."""
        ...

    def try_spend(self, now: float) -> bool:
        """Take one retry if the budget has room; False means the retry must not happen."""
        ...

    def available(self, now: float) -> float:
        """Retries the budget allows now."""
        ...


@dataclass(slots=True)
class BudgetTracker:
    """Counts first attempts and retries; `try_spend` says whether one more retry fits the budget."""

    budget: RetryBudget
    _window_start: float = 0.0
    _requests: float = 0.0
    _retries: float = 0.0
    _prev_requests: float = 0.0
    _prev_retries: float = 0.0

    def _roll(self, now: float) -> None:
        elapsed = now - self._window_start
        if elapsed < self.budget.window:
            return
        if elapsed < 2 * self.budget.window:
            self._prev_requests, self._prev_retries = self._requests, self._retries
            self._window_start += self.budget.window
        else:
            self._prev_requests = self._prev_retries = 0.0
            self._window_start = now
        self._requests = self._retries = 0.0

    def _weighted(self, now: float, current: float, previous: float) -> float:
        # the previous window counts in proportion to how much of it still lies inside the sliding window
        overlap = 1.0 - (now - self._window_start) / self.budget.window
        return current + previous * max(0.0, overlap)

    def on_request(self, now: float) -> None:
        """A first attempt went out."""
        self._roll(now)
        self._requests += 1

    def try_spend(self, now: float) -> bool:
        """Take one retry from the budget if it has room; False means the retry must not happen."""
        self._roll(now)
        requests = self._weighted(now, self._requests, self._prev_requests)
        retries = self._weighted(now, self._retries, self._prev_retries)
        allowed = self.budget.allowance(requests)
        if retries + 1 > allowed:
            return False
        self._retries += 1
        return True

    def available(self, now: float) -> float:
        """Retries the budget allows now (0 when it is spent)."""
        self._roll(now)
        requests = self._weighted(now, self._requests, self._prev_requests)
        retries = self._weighted(now, self._retries, self._prev_retries)
        return max(0.0, self.budget.allowance(requests) - retries)
