"""Properties of the breaker's state machine under any order of events, on a fake clock (hypothesis, stateful)."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from claudewire.policy import Breaker, BreakerState
from claudewire.policy.breaker import PAUSE_GROWTH

# The diagram's edges (a state may also stay where it is).
_EDGES = {
    (BreakerState.CLOSED, BreakerState.OPEN),
    (BreakerState.OPEN, BreakerState.HALF_OPEN),
    (BreakerState.HALF_OPEN, BreakerState.CLOSED),
    (BreakerState.HALF_OPEN, BreakerState.OPEN),
}


@dataclass
class _Attempt:
    """One admitted request still waiting for its outcome."""

    probe: bool


class BreakerMachine(RuleBasedStateMachine):
    """Admits requests, lets time pass and delivers outcomes (of any outstanding request, in any order)."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.out: list[_Attempt] = []
        self.transitions: list[tuple[BreakerState, BreakerState]] = []
        self.last_ok: float | None = None

    @initialize(
        failures=st.integers(1, 6),
        rate=st.sampled_from([0.5, 0.9, 1.0]),
        window=st.integers(6, 25),
        probe_after=st.one_of(st.none(), st.floats(0.0, 3.0)),
        cooldown=st.floats(0.5, 20.0),
        silence=st.sampled_from([0.0, 3.0]),
    )
    def make(
        self, failures: int, rate: float, window: int, probe_after: float | None, cooldown: float, silence: float
    ) -> None:
        self.b = Breaker(
            failures, cooldown, failure_rate=rate, window=window, window_seconds=30.0, probe_after=probe_after
        )
        self.b.silence = silence

    def _step(self, before: BreakerState) -> None:
        after = self.b.state
        if after is not before:
            assert (before, after) in _EDGES, f"{before} -> {after} skips a state"
            self.transitions.append((before, after))

    @rule(dt=st.floats(0.0, 10.0))
    def tick(self, dt: float) -> None:
        self.now += dt

    @rule()
    def admit(self) -> None:
        before = self.b.state
        pause_left = self.b.retry_in(self.now)
        admitted = self.b.admit(self.now)
        if before is BreakerState.OPEN:
            assert admitted == (pause_left == 0.0), "OPEN admits exactly when its pause is over"
        if before is BreakerState.CLOSED:
            assert admitted
        if admitted:
            self.out.append(_Attempt(probe=self.b.state is BreakerState.HALF_OPEN))
        self._step(before)

    @precondition(lambda self: bool(self.out))
    @rule(index=st.integers(0, 1000), ok=st.booleans())
    def outcome(self, index: int, ok: bool) -> None:
        attempt = self.out.pop(index % len(self.out))
        before = self.b.state
        consecutive = self.b.consecutive_failures
        if ok:
            self.b.on_success(self.now, probe=attempt.probe)
        else:
            self.b.on_failure(self.now, probe=attempt.probe)
        after = self.b.state
        if before is BreakerState.CLOSED and after is BreakerState.OPEN:
            total, rate = self.b.window_failure_rate(self.now)
            assert not ok and consecutive + 1 >= self.b.failures_to_open
            assert total >= self.b.needed_calls and rate >= self.b.failure_rate
            assert self.last_ok is None or self.now - self.last_ok >= self.b.silence, "successes had not stopped"
        if ok and (before is BreakerState.CLOSED or after is BreakerState.CLOSED):
            self.last_ok = self.now
        if before is BreakerState.HALF_OPEN and after is not before:
            assert attempt.probe, "only the probe's own outcome decides HALF_OPEN"
        if before is BreakerState.OPEN:
            assert after is BreakerState.OPEN, "late outcomes are ignored while OPEN"
        self._step(before)

    @precondition(lambda self: any(a.probe for a in self.out))
    @rule()
    def abandon_probe(self) -> None:
        before = self.b.state
        self.out = [a for a in self.out if not a.probe]
        self.b.on_abandon()
        self._step(before)

    @invariant()
    def one_probe_at_a_time(self) -> None:
        probes = [a for a in self.out if a.probe]
        assert len(probes) <= 1
        if self.b.state is BreakerState.HALF_OPEN:
            assert self.b.probe_in_flight == bool(probes)

    @invariant()
    def pause_is_bounded(self) -> None:
        if self.b.state is BreakerState.OPEN:
            assert 0.0 <= self.b.pause <= self.b.cooldown
            assert 0.0 <= self.b.retry_in(self.now) <= self.b.pause

    @invariant()
    def window_is_bounded(self) -> None:
        total, _ = self.b.window_failure_rate(self.now)
        assert total <= self.b.window


TestBreakerMachine = BreakerMachine.TestCase
TestBreakerMachine.settings = settings(max_examples=100, stateful_step_count=40, deadline=None)


@given(
    failures=st.integers(1, 8),
    healthy=st.integers(0, 40),
    probe_after=st.floats(0.1, 5.0),
    cooldown=st.floats(5.0, 60.0),
)
def test_dead_upstream_opens_within_a_bounded_number_of_failures(
    failures: int, healthy: int, probe_after: float, cooldown: float
) -> None:
    """However many successes came first, an upstream that only fails (for `silence`) opens within max(failures, 18)."""
    b = Breaker(failures, cooldown, probe_after=probe_after)
    for _ in range(healthy):
        b.on_success(0.0)
    spent = 0
    while b.state is BreakerState.CLOSED:
        spent += 1
        b.on_failure(10.0)  # past the silence: the successes stopped
        assert spent <= max(failures, 18)
    assert b.state is BreakerState.OPEN and b.pause == probe_after


@given(outage=st.floats(0.0, 300.0), probe_after=st.floats(0.1, 2.0), cooldown=st.floats(5.0, 60.0))
def test_traffic_resumes_within_one_pause_of_the_outage_ending(
    outage: float, probe_after: float, cooldown: float
) -> None:
    """Probing at every chance, traffic resumes at most one pause after an outage ends (≤ 1.5 × outage, ≤ cooldown)."""
    b = Breaker(1, cooldown, probe_after=probe_after)
    b.on_failure(0.0)
    now = 0.0
    for _ in range(10_000):
        now = b.opened_at + b.pause
        assert b.admit(now)
        if now >= outage:
            b.on_success(now, probe=True)
            break
        b.on_failure(now, probe=True)
    assert b.state is BreakerState.CLOSED
    lag = now - outage
    assert lag <= min(cooldown, max(probe_after, PAUSE_GROWTH * outage)) + 1e-9
