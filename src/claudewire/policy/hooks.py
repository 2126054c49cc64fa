"""What the policy tells listeners (metrics, logs); it imports none of them."""

from __future__ import annotations

from collections.abc import Callable

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
    """Fans every event out to several listeners, in order.

    Each event goes only to the listeners that override it, bound once here: the policy sends several events per
    call, and a no-op method of `Hooks` is still a call. An event with a single listener calls it directly.
    """

    def __init__(self, *hooks: Hooks) -> None:
        self.hooks = hooks
        for name in _EVENTS:
            listeners = tuple(getattr(h, name) for h in hooks if getattr(type(h), name) is not getattr(Hooks, name))
            if len(listeners) == 1:
                setattr(self, name, listeners[0])  # an instance attribute: found before the fan-out below
            else:
                setattr(self, "_" + name, listeners)

    _on_attempt_start: tuple[Callable[[str, int], None], ...]
    _on_attempt_end: tuple[Callable[[str, int, Failure | None, float], None], ...]
    _on_retry: tuple[Callable[[str, int, float, Failure], None], ...]
    _on_give_up: tuple[Callable[[str, int, Failure, str], None], ...]
    _on_breaker_change: tuple[Callable[[str, BreakerState, BreakerState], None], ...]
    _on_ratelimit_wait: tuple[Callable[[str, float], None], ...]
    _on_ratelimit: tuple[Callable[[str, str, float], None], ...]

    def on_attempt_start(self, upstream: str, attempt: int) -> None:
        for h in self._on_attempt_start:
            h(upstream, attempt)

    def on_attempt_end(self, upstream: str, attempt: int, failure: Failure | None, elapsed: float) -> None:
        for h in self._on_attempt_end:
            h(upstream, attempt, failure, elapsed)

    def on_retry(self, upstream: str, attempt: int, delay: float, failure: Failure) -> None:
        for h in self._on_retry:
            h(upstream, attempt, delay, failure)

    def on_give_up(self, upstream: str, attempt: int, failure: Failure, reason: str) -> None:
        for h in self._on_give_up:
            h(upstream, attempt, failure, reason)

    def on_breaker_change(self, upstream: str, old: BreakerState, new: BreakerState) -> None:
        for h in self._on_breaker_change:
            h(upstream, old, new)

    def on_ratelimit_wait(self, upstream: str, delay: float) -> None:
        for h in self._on_ratelimit_wait:
            h(upstream, delay)

    def on_ratelimit(self, upstream: str, family: str, remaining: float) -> None:
        for h in self._on_ratelimit:
            h(upstream, family, remaining)


_EVENTS = (
    "on_attempt_start",
    "on_attempt_end",
    "on_retry",
    "on_give_up",
    "on_breaker_change",
    "on_ratelimit_wait",
    "on_ratelimit",
)
