"""Fixtures for the sans-IO policy: a fake clock that only moves when told to."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from claudewire.policy import Hooks, Policy, PolicyEngine


@dataclass
class FakeClock:
    """A monotonic and a wall clock that advance together, only when `advance` is called."""

    now: float = 1000.0
    wall_now: float = 1_800_000_000.0

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return self.wall_now

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.wall_now += seconds


class RecordingHooks(Hooks):
    """Keeps every event as a tuple, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[object, ...]] = []

    def on_attempt_start(self, upstream: str, attempt: int) -> None:
        self.events.append(("start", attempt))

    def on_attempt_end(self, upstream: str, attempt: int, failure: object, elapsed: float) -> None:
        self.events.append(("end", attempt, failure is None))

    def on_retry(self, upstream: str, attempt: int, delay: float, failure: object) -> None:
        self.events.append(("retry", attempt, delay))

    def on_give_up(self, upstream: str, attempt: int, failure: object, reason: str) -> None:
        self.events.append(("give_up", attempt, reason))

    def on_breaker_change(self, upstream: str, old: object, new: object) -> None:
        self.events.append(("breaker", str(old), str(new)))

    def on_ratelimit_wait(self, upstream: str, delay: float) -> None:
        self.events.append(("rl_wait", delay))

    def on_ratelimit(self, upstream: str, family: str, remaining: float) -> None:
        self.events.append(("rl", family, remaining))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def hooks() -> RecordingHooks:
    return RecordingHooks()


def make_engine(clock: FakeClock, policy: Policy | None = None, hooks: Hooks | None = None) -> PolicyEngine:
    """An engine on the fake clock with a seeded jitter source."""
    return PolicyEngine(policy, clock=clock.monotonic, wall=clock.wall, hooks=hooks, rng=random.Random(7))
