"""The circuit breaker's state machine: when it trips, how it pauses and probes, what it ignores."""

from __future__ import annotations

import random

import pytest

from claudewire.policy import Breaker, BreakerState, Policy
from claudewire.policy.breaker import PAUSE_GROWTH


def _open(b: Breaker, now: float = 0.0) -> None:
    for _ in range(b.failures_to_open):
        b.on_failure(now)
    assert b.state is BreakerState.OPEN


def test_fresh_breaker_opens_after_consecutive_failures() -> None:
    """On a fresh breaker five failures in a row open it (a dead API); four do not."""
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
    b.on_success(0.0)
    b.on_failure(0.0)
    b.on_failure(0.0)
    assert b.state is BreakerState.CLOSED


def test_a_run_of_failures_among_recent_successes_does_not_open() -> None:
    """Five failures in a row do not open it while most of the last outcomes were successes (a storm)."""
    b = Breaker(5, 30.0)
    for _ in range(15):
        b.on_success(0.0)
    for _ in range(12):
        b.on_failure(1.0)
    assert b.state is BreakerState.CLOSED
    assert b.window_failure_rate(1.0) == (20, 12 / 20)


def test_opens_once_successes_have_stopped() -> None:
    """The same run opens it once nearly all of the last `window` outcomes are failures: the successes stopped."""
    b = Breaker(5, 30.0)
    for _ in range(15):
        b.on_success(0.0)
    for n in range(1, 19):
        b.on_failure(5.0)
        assert (b.state is BreakerState.OPEN) == (n == 18), n  # 18 of the last 20 failed: 90%


def test_a_brownout_that_still_serves_does_not_open() -> None:
    """18 failures in the last 20 do not open it while successes keep arriving (within `silence` seconds)."""
    b = Breaker(5, 30.0, silence=3.0)
    b.on_success(0.0)
    for _ in range(40):
        b.on_failure(2.9)
    assert b.state is BreakerState.CLOSED
    b.on_failure(3.0)
    assert b.state is BreakerState.OPEN


def test_stale_successes_are_forgotten() -> None:
    """Successes older than window_seconds do not mask a dead API: five failures open it as on a fresh breaker."""
    b = Breaker(5, 30.0, window_seconds=60.0)
    for _ in range(20):
        b.on_success(0.0)
    for _ in range(4):
        b.on_failure(61.0)
    b.on_failure(61.0)
    assert b.state is BreakerState.OPEN


def test_min_calls_holds_the_rate_back_until_enough_outcomes() -> None:
    """With min_calls above failures_to_open, a run on a fresh breaker opens only once min_calls outcomes are in."""
    b = Breaker(2, 30.0, min_calls=4)
    for n in range(1, 5):
        b.on_failure(0.0)
        assert (b.state is BreakerState.OPEN) == (n == 4)


def test_failures_beyond_the_window_still_open() -> None:
    """failures_to_open larger than the window works: the window is then full of failures."""
    b = Breaker(50, 30.0, window=20)
    for n in range(1, 51):
        b.on_failure(0.0)
        assert (b.state is BreakerState.OPEN) == (n == 50)


def test_open_rejects_during_the_pause_then_admits_one_probe() -> None:
    """An open breaker rejects for its pause, then admits exactly one half-open probe."""
    b = Breaker(1, 30.0, probe_after=2.0)
    b.on_failure(100.0)
    assert not b.admit(101.9)
    assert b.retry_in(101.0) == 1.0
    assert b.admit(102.0)
    assert b.state is BreakerState.HALF_OPEN
    assert not b.admit(102.1), "a second caller must not probe while the first probe is out"
    assert b.retry_in(102.1) == 0.0


def test_without_probe_after_the_pause_is_the_cooldown() -> None:
    """probe_after=None keeps the seed's fixed pause: the full cooldown every time."""
    b = Breaker(1, 10.0)
    b.on_failure(0.0)
    assert not b.admit(9.9) and b.admit(10.0)
    b.on_failure(10.0, probe=True)
    assert b.pause == 10.0


def test_failed_probes_back_off_towards_the_cooldown() -> None:
    """Each failed probe multiplies the pause by PAUSE_GROWTH, never past the cooldown."""
    b = Breaker(1, 10.0, probe_after=1.0)
    b.on_failure(0.0)
    now, pauses = 0.0, []
    for _ in range(8):
        pauses.append(b.pause)
        now += b.pause
        assert b.admit(now)
        b.on_failure(now, probe=True)
    assert pauses[:3] == [1.0, PAUSE_GROWTH, PAUSE_GROWTH**2]
    assert pauses[-1] == 10.0 and all(p <= 10.0 for p in pauses)


def test_probe_success_closes_and_clears_the_window() -> None:
    """The probe's success closes the breaker with a fresh window: one later failure does not reopen it."""
    b = Breaker(2, 10.0, probe_after=1.0, silence=0.0)
    _open(b)
    assert b.admit(1.0)
    b.on_success(1.0, probe=True)
    assert b.state is BreakerState.CLOSED and b.admit(1.0)
    b.on_failure(2.0)
    assert b.state is BreakerState.CLOSED
    assert b.window_failure_rate(2.0) == (1, 1.0)


def test_flapping_upstream_keeps_its_longer_pause() -> None:
    """Opening again soon after closing resumes at the last pause; after a healthy cooldown it starts short again."""
    b = Breaker(1, 10.0, probe_after=1.0, silence=0.0)
    b.on_failure(0.0)
    b.admit(1.0)
    b.on_failure(1.0, probe=True)  # pause 1.5
    b.admit(2.5)
    b.on_success(2.5, probe=True)
    b.on_failure(3.0)
    assert b.state is BreakerState.OPEN and b.pause == PAUSE_GROWTH
    b.admit(4.5)
    b.on_success(4.5, probe=True)
    b.on_failure(20.0)
    assert b.pause == 1.0


def test_late_outcomes_never_skip_half_open() -> None:
    """A success from an attempt admitted before the breaker opened does not close it (the OPEN→CLOSED bug)."""
    b = Breaker(1, 10.0, probe_after=1.0)
    b.on_failure(0.0)
    b.on_success(0.5)  # the answer of an attempt that was already in flight
    assert b.state is BreakerState.OPEN
    b.on_failure(0.6)  # a late failure neither extends nor restarts the pause
    assert b.opened_at == 0.0
    assert b.admit(1.0)
    b.on_success(1.1)  # not the probe's answer
    b.on_failure(1.1)
    assert b.state is BreakerState.HALF_OPEN and b.probe_in_flight
    b.on_success(1.2, probe=True)
    assert b.state is BreakerState.CLOSED


def test_abandoned_probe_lets_another_probe() -> None:
    """A probe abandoned without an outcome does not wedge the breaker half-open forever."""
    b = Breaker(1, 10.0)
    b.on_failure(0.0)
    assert b.admit(10.0)
    b.on_abandon()
    b.on_success(10.2, probe=True)  # the abandoned probe's answer, arriving after all: ignored
    assert b.state is BreakerState.HALF_OPEN
    assert b.admit(10.5)


def test_from_policy_reads_every_breaker_field() -> None:
    """Breaker.from_policy carries each breaker_* field of a Policy."""
    policy = Policy(
        breaker_failures=3,
        breaker_cooldown=20.0,
        breaker_failure_rate=0.8,
        breaker_min_calls=4,
        breaker_window=10,
        breaker_window_seconds=5.0,
        breaker_probe_after=0.5,
        breaker_silence=2.0,
    )
    b = Breaker.from_policy(policy)
    assert b.silence == 2.0
    assert (b.failures_to_open, b.cooldown, b.failure_rate, b.min_calls, b.window, b.window_seconds) == (
        3,
        20.0,
        0.8,
        4,
        10,
        5.0,
    )
    assert b.first_pause == 0.5


@pytest.mark.parametrize(
    "kwargs",
    [
        {"breaker_failure_rate": 0.0},
        {"breaker_failure_rate": 1.5},
        {"breaker_min_calls": 0},
        {"breaker_min_calls": 30, "breaker_window": 20},
        {"breaker_window": 0},
        {"breaker_window_seconds": 0.0},
        {"breaker_probe_after": -1.0},
        {"breaker_silence": -1.0},
    ],
)
def test_policy_rejects_breaker_settings_that_cannot_work(kwargs: dict[str, float]) -> None:
    """Impossible breaker settings fail when the Policy is made, with a message naming the field."""
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        Policy(**kwargs)  # type: ignore[arg-type]


def test_storm_of_transient_failures_never_opens() -> None:
    """25% of attempts failing (the 529s and resets of a 35% storm; 429s prove the API alive) never trips it."""
    rng = random.Random(42)
    b = Breaker(5, 30.0, probe_after=1.0)
    opened = 0
    for i in range(200_000):
        now = i * 0.001
        if rng.random() < 0.25:
            b.on_failure(now)
        else:
            b.on_success(now)
        opened += b.state is BreakerState.OPEN
    assert opened == 0
