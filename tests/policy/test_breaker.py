"""The circuit breaker's state machine."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from claudewire.policy import Breaker, BreakerState


def test_opens_after_consecutive_failures() -> None:
    """Five consecutive failures open the breaker; four do not."""
    b = Breaker(5, 30.0)
    for _ in range(4):
        b.on_failure(0.0)
    assert b.state is BreakerState.CLOSED
    b.on_failure(0.0)
    assert b.state is BreakerState.OPEN


def test_a_success_resets_the_count() -> None:
    """Failures must be consecutive: a success in between starts the count again."""
    b = Breaker(3, 30.0)
    b.on_failure(0.0)
    b.on_failure(0.0)
    b.on_success()
    b.on_failure(0.0)
    b.on_failure(0.0)
    assert b.state is BreakerState.CLOSED


def test_open_rejects_until_cooldown_then_admits_one_probe() -> None:
    """An open breaker rejects during the cooldown, then admits exactly one half-open probe."""
    b = Breaker(1, 30.0)
    b.on_failure(100.0)
    assert not b.admit(129.9)
    assert b.retry_in(110.0) == 20.0
    assert b.admit(130.0)
    assert b.state is BreakerState.HALF_OPEN
    assert not b.admit(130.1), "a second caller must not probe while the first probe is out"


def test_probe_success_closes_and_probe_failure_reopens() -> None:
    """The half-open probe decides: success closes, failure reopens with a fresh cooldown."""
    b = Breaker(1, 10.0)
    b.on_failure(0.0)
    assert b.admit(10.0)
    b.on_failure(10.0)
    assert b.state is BreakerState.OPEN
    assert not b.admit(19.0)
    assert b.admit(20.0)
    b.on_success()
    assert b.state is BreakerState.CLOSED
    assert b.admit(20.0)


def test_abandoned_probe_lets_another_probe() -> None:
    """A probe abandoned without an outcome does not wedge the breaker half-open forever."""
    b = Breaker(1, 10.0)
    b.on_failure(0.0)
    assert b.admit(10.0)
    b.on_abandon()
    assert b.admit(10.5)


_ALLOWED = {
    (BreakerState.CLOSED, BreakerState.CLOSED),
    (BreakerState.CLOSED, BreakerState.OPEN),
    (BreakerState.OPEN, BreakerState.OPEN),
    (BreakerState.OPEN, BreakerState.HALF_OPEN),
    (BreakerState.HALF_OPEN, BreakerState.HALF_OPEN),
    (BreakerState.HALF_OPEN, BreakerState.CLOSED),
    (BreakerState.HALF_OPEN, BreakerState.OPEN),
}

_event = st.one_of(
    st.tuples(st.just("admit"), st.floats(min_value=0, max_value=50)),
    st.tuples(st.just("ok"), st.just(0.0)),
    st.tuples(st.just("fail"), st.just(0.0)),
    st.tuples(st.just("abandon"), st.just(0.0)),
)


@given(events=st.lists(_event, max_size=80), failures=st.integers(1, 6))
def test_never_skips_a_state(events: list[tuple[str, float]], failures: int) -> None:
    """Whatever the event order, every transition is an edge of the diagram: OPEN is left only via HALF_OPEN."""
    b = Breaker(failures, 5.0)
    now = 0.0
    for name, dt in events:
        before = b.state
        if name == "admit":
            now += dt
            b.admit(now)
        elif name == "ok":
            if before is BreakerState.OPEN:
                continue  # no request can be out while open, so no outcome can arrive
            b.on_success()
        elif name == "fail":
            if before is BreakerState.OPEN:
                continue
            b.on_failure(now)
        else:
            b.on_abandon()
        assert (before, b.state) in _ALLOWED, f"{before} -> {b.state} on {name}"
