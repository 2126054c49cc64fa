"""MultiHooks: every event reaches every listener that handles it, in order."""

from __future__ import annotations

from claudewire._errors import Failure, FailureKind
from claudewire.policy import BreakerState, Hooks, MultiHooks


class _Log(Hooks):
    """Records every event it handles, tagged with its name."""

    def __init__(self, name: str, seen: list[tuple[str, str]]) -> None:
        self.name = name
        self.seen = seen

    def on_attempt_start(self, upstream: str, attempt: int) -> None:
        self.seen.append((self.name, "attempt_start"))

    def on_attempt_end(self, upstream: str, attempt: int, failure: Failure | None, elapsed: float) -> None:
        self.seen.append((self.name, "attempt_end"))

    def on_retry(self, upstream: str, attempt: int, delay: float, failure: Failure) -> None:
        self.seen.append((self.name, "retry"))

    def on_give_up(self, upstream: str, attempt: int, failure: Failure, reason: str) -> None:
        self.seen.append((self.name, "give_up"))

    def on_breaker_change(self, upstream: str, old: BreakerState, new: BreakerState) -> None:
        self.seen.append((self.name, "breaker_change"))

    def on_ratelimit_wait(self, upstream: str, delay: float) -> None:
        self.seen.append((self.name, "ratelimit_wait"))

    def on_ratelimit(self, upstream: str, family: str, remaining: float) -> None:
        self.seen.append((self.name, "ratelimit"))


class _RetriesOnly(Hooks):
    """Handles one event only."""

    def __init__(self, seen: list[tuple[str, str]]) -> None:
        self.seen = seen

    def on_retry(self, upstream: str, attempt: int, delay: float, failure: Failure) -> None:
        self.seen.append(("retries", "retry"))


def _fire(hooks: Hooks) -> None:
    failure = Failure.of(FailureKind.SERVER)
    hooks.on_attempt_start("u", 1)
    hooks.on_attempt_end("u", 1, failure, 0.1)
    hooks.on_retry("u", 1, 0.5, failure)
    hooks.on_give_up("u", 2, failure, "retries exhausted")
    hooks.on_breaker_change("u", BreakerState.CLOSED, BreakerState.OPEN)
    hooks.on_ratelimit_wait("u", 1.0)
    hooks.on_ratelimit("u", "requests", 3.0)


def test_every_event_reaches_each_listener_in_order() -> None:
    """Two full listeners, one partial and a plain no-op Hooks: each event goes to those that handle it, in order."""
    seen: list[tuple[str, str]] = []
    _fire(MultiHooks(_Log("a", seen), Hooks(), _RetriesOnly(seen), _Log("b", seen)))
    assert seen == [
        ("a", "attempt_start"),
        ("b", "attempt_start"),
        ("a", "attempt_end"),
        ("b", "attempt_end"),
        ("a", "retry"),
        ("retries", "retry"),
        ("b", "retry"),
        ("a", "give_up"),
        ("b", "give_up"),
        ("a", "breaker_change"),
        ("b", "breaker_change"),
        ("a", "ratelimit_wait"),
        ("b", "ratelimit_wait"),
        ("a", "ratelimit"),
        ("b", "ratelimit"),
    ]


def test_a_single_listener_and_nested_fan_outs_get_every_event() -> None:
    """One listener alone, or behind a MultiHooks inside a MultiHooks, sees every event once; none at all is fine."""
    alone: list[tuple[str, str]] = []
    _fire(MultiHooks(_Log("a", alone)))
    nested: list[tuple[str, str]] = []
    _fire(MultiHooks(MultiHooks(_Log("a", nested)), MultiHooks()))
    assert alone == nested
    assert [event for _, event in alone] == [
        "attempt_start",
        "attempt_end",
        "retry",
        "give_up",
        "breaker_change",
        "ratelimit_wait",
        "ratelimit",
    ]
    _fire(MultiHooks())  # no listener: every event is a no-op
