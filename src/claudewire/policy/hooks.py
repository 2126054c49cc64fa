"""What the policy tells listeners (metrics, logs); it imports none of them."""

from __future__ import annotations

from claudewire._errors import Failure
from claudewire.policy.breaker import BreakerState

__all__ = ["Hooks", "MultiHooks"]


class Hooks:
    """Override the events you care about; every method is a no-op here. Hooks must be fast and must not raise."""

    def on_attempt_start(self, upstream: str, attempt: int) -> None:
        """Attempt number `attempt` (1-based) of a call is about to be sent."""

    def on_attempt_end(self, upstream: str, attempt: int, failure: Failure | None, elapsed: float) -> None:
        """An attempt ended after `elapsed` seconds: `failure` is None on success."""

    def on_retry(self, upstream: str, attempt: int, delay: float, failure: Failure) -> None:
        """The policy will retry after `delay` seconds because of `failure`."""

    def on_give_up(self, upstream: str, attempt: int, failure: Failure, reason: str) -> None:
        """The call ends with `failure` after `attempt` attempts; `reason` says why no retry."""

    def on_breaker_change(self, upstream: str, old: BreakerState, new: BreakerState) -> None:
        """The breaker of `upstream` moved from `old` to `new`."""

    def on_ratelimit_wait(self, upstream: str, delay: float) -> None:
        """A request is held `delay` seconds because the upstream said a rate-limit bucket is empty."""

    def on_ratelimit(self, upstream: str, family: str, remaining: float) -> None:
        """The upstream reported `remaining` in the bucket `family` (requests, tokens, input_tokens, output_tokens)."""


class MultiHooks(Hooks):
    """Fans every event out to several listeners, in order."""

    def __init__(self, *hooks: Hooks) -> None:
        self.hooks = hooks

    def on_attempt_start(self, upstream: str, attempt: int) -> None:
        for h in self.hooks:
            h.on_attempt_start(upstream, attempt)

    def on_attempt_end(self, upstream: str, attempt: int, failure: Failure | None, elapsed: float) -> None:
        for h in self.hooks:
            h.on_attempt_end(upstream, attempt, failure, elapsed)

    def on_retry(self, upstream: str, attempt: int, delay: float, failure: Failure) -> None:
        for h in self.hooks:
            h.on_retry(upstream, attempt, delay, failure)

    def on_give_up(self, upstream: str, attempt: int, failure: Failure, reason: str) -> None:
        for h in self.hooks:
            h.on_give_up(upstream, attempt, failure, reason)

    def on_breaker_change(self, upstream: str, old: BreakerState, new: BreakerState) -> None:
        for h in self.hooks:
            h.on_breaker_change(upstream, old, new)

    def on_ratelimit_wait(self, upstream: str, delay: float) -> None:
        for h in self.hooks:
            h.on_ratelimit_wait(upstream, delay)

    def on_ratelimit(self, upstream: str, family: str, remaining: float) -> None:
        for h in self.hooks:
            h.on_ratelimit(upstream, family, remaining)
