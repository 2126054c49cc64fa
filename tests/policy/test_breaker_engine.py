"""The breaker inside the engine, driven by a discrete-event simulation on the fake clock: storm, outage, recovery."""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from claudewire import Failure, FailureKind, classify
from claudewire.policy import BreakerState, CallState, DecisionAction, GateAction, Hooks, Policy
from tests.policy.conftest import FakeClock, make_engine

UP = "https://api.anthropic.com:443"
OVERLOADED = classify(529, body={"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
RATE_LIMITED = classify(
    429, headers={"retry-after": "1"}, body={"type": "error", "error": {"type": "rate_limit_error", "message": "slow"}}
)
RESET = Failure.of(FailureKind.CONNECTION_RESET)
UNAVAILABLE = classify(503, body={"type": "error", "error": {"type": "api_error", "message": "down"}})
LATENCY = 0.05
"""Seconds an attempt takes in the simulation."""

Upstream = Callable[[float, random.Random], Failure | None]
"""What the upstream answers an attempt sent at a time: None for a success."""


def storm(now: float, rng: random.Random) -> Failure | None:
    """35% transient faults: 20% 529, 10% 429 with retry-after 1 s, 5% connection resets."""
    roll = rng.random()
    if roll < 0.20:
        return OVERLOADED
    if roll < 0.30:
        return RATE_LIMITED
    return RESET if roll < 0.35 else None


def dead(now: float, rng: random.Random) -> Failure | None:
    """Always 503."""
    return UNAVAILABLE


class Opens(Hooks):
    """Counts breaker transitions into OPEN."""

    def __init__(self) -> None:
        self.opens = 0

    def on_breaker_change(self, upstream: str, old: BreakerState, new: BreakerState) -> None:
        self.opens += new is BreakerState.OPEN


@dataclass
class Result:
    ok: int = 0
    failed: int = 0
    rejected: int = 0
    attempts: int = 0
    successes_at: list[float] = field(default_factory=list)


def simulate(
    policy: Policy, upstream: Upstream, *, calls: int, concurrency: int, seed: int, pace: float = 0.0
) -> tuple[Result, Opens]:
    """`calls` calls by `concurrency` callers, each starting its next call `pace` seconds after the last ended."""
    clock, hooks, rng = FakeClock(), Opens(), random.Random(seed)
    engine = make_engine(clock, policy, hooks)
    result = Result()
    events: list[tuple[float, int, str, int]] = []  # (time, order, what, caller)
    states: dict[int, CallState] = {}
    order = 0
    started = 0

    def push(at: float, what: str, caller: int) -> None:
        nonlocal order
        order += 1
        heapq.heappush(events, (at, order, what, caller))

    def next_call(caller: int, at: float) -> None:
        nonlocal started
        if started < calls:
            started += 1
            states[caller] = engine.start(UP)
            push(at, "gate", caller)

    for caller in range(concurrency):
        next_call(caller, clock.now)
    while events:
        at, _, what, caller = heapq.heappop(events)
        clock.advance(at - clock.now)
        call = states[caller]
        if what == "gate":
            gate = call.gate()
            if gate.action is GateAction.SEND:
                result.attempts += 1
                push(clock.now + LATENCY, "answer", caller)
            elif gate.action is GateAction.WAIT:
                push(clock.now + gate.delay, "gate", caller)
            else:
                result.rejected += 1
                result.failed += 1
                next_call(caller, clock.now + pace)
            continue
        decision = call.record(upstream(clock.now - LATENCY, rng))
        if decision.action is DecisionAction.RETRY:
            push(clock.now + decision.delay, "gate", caller)
            continue
        if decision.action is DecisionAction.DONE:
            result.ok += 1
            result.successes_at.append(clock.now)
        else:
            result.failed += 1
        next_call(caller, clock.now + pace)
    return result, hooks


@pytest.mark.parametrize("concurrency", [1, 8, 32, 64])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_storm_never_opens_the_breaker(concurrency: int, seed: int) -> None:
    """35% transient faults, 400 calls with the default Policy: no opening, ≥ 99.5% success, ≤ 1.6 attempts/call."""
    result, hooks = simulate(Policy(), storm, calls=400, concurrency=concurrency, seed=seed)
    assert hooks.opens == 0
    assert result.ok >= 398, result
    assert result.attempts <= 1.6 * 400


@pytest.mark.parametrize(("concurrency", "most"), [(1, 15), (8, 25)])
def test_a_dead_upstream_opens_it_within_a_few_attempts(concurrency: int, most: int) -> None:
    """Always 503: 40 calls make ≤ 15 attempts sequentially, ≤ 25 at concurrency 8; the rest are rejected unsent."""
    result, hooks = simulate(Policy(), dead, calls=40, concurrency=concurrency, seed=0)
    assert result.ok == 0 and hooks.opens >= 1
    assert result.attempts <= most
    assert result.rejected >= 40 - most


def test_traffic_resumes_within_seconds_of_an_outage_ending() -> None:
    """8 callers, healthy 2 s, 503 for 10 s, healthy again: the breaker opens, and calls succeed ≤ 5 s after the end."""

    def outage(now: float, rng: random.Random) -> Failure | None:
        return UNAVAILABLE if start + 2.0 <= now < start + 12.0 else None

    start = FakeClock().now
    result, hooks = simulate(Policy(), outage, calls=2000, concurrency=8, seed=0, pace=0.2)
    assert hooks.opens >= 1
    after = [t for t in result.successes_at if t >= start + 12.0]
    assert after and after[0] - (start + 12.0) <= 5.0
    fixed, _ = simulate(Policy(breaker_probe_after=None), outage, calls=2000, concurrency=8, seed=0, pace=0.2)
    late = [t for t in fixed.successes_at if t >= start + 12.0]
    assert late and late[0] - (start + 12.0) > 15.0, "the seed's fixed 30 s pause, for contrast"


def test_the_seeds_breaker_would_open_in_that_storm() -> None:
    """The same storm opens a breaker that only counts failures in a row (window = the run, no silence)."""
    seed_breaker = Policy(breaker_window=5, breaker_silence=0.0, breaker_probe_after=None)
    opened = [simulate(seed_breaker, storm, calls=400, concurrency=64, seed=s)[1].opens for s in range(3)]
    assert sum(opened) > 0


def test_an_answer_in_flight_when_it_opened_does_not_close_it(clock: FakeClock) -> None:
    """The OPEN→CLOSED bug: a success of an attempt sent before the breaker opened leaves it open."""
    engine = make_engine(clock, Policy(max_retries=0))
    slow = engine.start(UP)
    assert slow.gate().action is GateAction.SEND
    for _ in range(5):
        call = engine.start(UP)
        call.gate()
        call.record(OVERLOADED)
    assert engine.breaker_state(UP) is BreakerState.OPEN
    slow.record(None)
    assert engine.breaker_state(UP) is BreakerState.OPEN
    assert engine.start(UP).gate().action is GateAction.REJECT
