"""The per-call state machine that the client and the gateway drive."""

from __future__ import annotations

import threading

from hypothesis import given
from hypothesis import strategies as st

from claudewire import FailureKind, classify
from claudewire.policy import (
    BreakerState,
    DecisionAction,
    GateAction,
    Policy,
    RetryBudget,
    upstream_key,
)
from tests.policy.conftest import FakeClock, RecordingHooks, make_engine

UP = "https://api.anthropic.com:443"
OVERLOADED = classify(529, body={"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
BAD = classify(400, body={"type": "error", "error": {"type": "invalid_request_error", "message": "bad"}})


def test_upstream_key_ignores_path_and_fills_port() -> None:
    """The breaker key is scheme://host:port, so every path of one API shares one breaker."""
    assert upstream_key("https://API.anthropic.com/v1/messages?x=1") == UP
    assert upstream_key("http://127.0.0.1:8780") == "http://127.0.0.1:8780"


def test_success_is_done_first_time(clock: FakeClock) -> None:
    """A success needs no retry and leaves the breaker closed."""
    call = make_engine(clock).start(UP)
    assert call.gate().action is GateAction.SEND
    assert call.record(None).action is DecisionAction.DONE
    assert call.attempts == 1


def test_overload_retries_with_bounded_backoff_then_gives_up(clock: FakeClock) -> None:
    """A 529 is retried max_retries times with delays under the backoff ceiling, then the call gives up."""
    engine = make_engine(clock, Policy(max_retries=3, breaker_failures=100))
    call = engine.start(UP)
    delays = []
    while True:
        assert call.gate().action is GateAction.SEND
        decision = call.record(OVERLOADED)
        if decision.action is not DecisionAction.RETRY:
            break
        delays.append(decision.delay)
        clock.advance(decision.delay)
    assert call.attempts == 4
    assert decision.action is DecisionAction.GIVE_UP and "exhausted" in decision.reason
    assert all(0 <= d <= c for d, c in zip(delays, [1.0, 2.0, 4.0], strict=True))


def test_non_retryable_is_tried_once(clock: FakeClock) -> None:
    """A 400 is never retried."""
    call = make_engine(clock).start(UP)
    call.gate()
    decision = call.record(BAD)
    assert decision.action is DecisionAction.GIVE_UP
    assert "not retryable" in decision.reason


def test_should_retry_false_is_obeyed(clock: FakeClock) -> None:
    """x-should-retry: false turns a 529 into a give-up."""
    failure = classify(529, headers={"x-should-retry": "false"}, body=None)
    call = make_engine(clock).start(UP)
    call.gate()
    assert call.record(failure).action is DecisionAction.GIVE_UP


def test_retry_after_within_cap_wins_and_over_cap_fails_at_once(clock: FakeClock) -> None:
    """retry-after: 3 is waited exactly; retry-after: 3600 ends the call at once."""
    engine = make_engine(clock)
    call = engine.start(UP)
    call.gate()
    decision = call.record(classify(429, headers={"retry-after": "3"}))
    assert decision.action is DecisionAction.RETRY and decision.delay == 3.0
    call = engine.start(UP)
    call.gate()
    decision = call.record(classify(429, headers={"retry-after": "3600"}))
    assert decision.action is DecisionAction.GIVE_UP and "cap" in decision.reason


def test_deadline_stops_retries(clock: FakeClock) -> None:
    """No retry is scheduled whose wait would pass the call's deadline."""
    engine = make_engine(clock, Policy(deadline=2.0))
    call = engine.start(UP)
    call.gate()
    assert call.record(classify(503, headers={"retry-after": "5"})).action is DecisionAction.GIVE_UP


def test_breaker_opens_rejects_then_probes(clock: FakeClock, hooks: RecordingHooks) -> None:
    """After 5 failing calls the breaker rejects without sending; after its first pause one probe goes out."""
    engine = make_engine(clock, Policy(max_retries=0), hooks)
    for _ in range(5):
        call = engine.start(UP)
        assert call.gate().action is GateAction.SEND
        call.record(OVERLOADED)
    assert engine.breaker_state(UP) is BreakerState.OPEN
    gate = engine.start(UP).gate()
    assert gate.action is GateAction.REJECT
    assert gate.failure is not None and gate.failure.kind is FailureKind.CIRCUIT_OPEN
    assert gate.failure.retry_after == Policy().breaker_probe_after == 1.0
    clock.advance(1.0)
    probe = engine.start(UP)
    assert probe.gate().action is GateAction.SEND
    assert engine.start(UP).gate().action is GateAction.REJECT, "only one probe while half-open"
    probe.record(None)
    assert engine.breaker_state(UP) is BreakerState.CLOSED
    changes = [e for e in hooks.events if e[0] == "breaker"]
    assert changes == [
        ("breaker", "closed", "open"),
        ("breaker", "open", "half_open"),
        ("breaker", "half_open", "closed"),
    ]


def test_breaker_opening_mid_call_stops_its_retries(clock: FakeClock) -> None:
    """A call whose failure opens the breaker does not keep retrying into it."""
    engine = make_engine(clock, Policy(breaker_failures=2, max_retries=4))
    call = engine.start(UP)
    call.gate()
    assert call.record(OVERLOADED).action is DecisionAction.RETRY
    call.gate()
    decision = call.record(OVERLOADED)
    assert decision.action is DecisionAction.GIVE_UP and decision.reason == "circuit open"


def test_client_errors_do_not_count_against_the_breaker(clock: FakeClock) -> None:
    """400s prove the upstream alive: they never open the breaker."""
    engine = make_engine(clock, Policy(breaker_failures=2))
    for _ in range(10):
        call = engine.start(UP)
        call.gate()
        call.record(BAD)
    assert engine.breaker_state(UP) is BreakerState.CLOSED


def test_cancelled_probe_frees_the_half_open_slot(clock: FakeClock) -> None:
    """A probe abandoned by its caller lets the next call probe."""
    engine = make_engine(clock, Policy(breaker_failures=1, max_retries=0))
    call = engine.start(UP)
    call.gate()
    call.record(OVERLOADED)
    clock.advance(31)
    probe = engine.start(UP)
    assert probe.gate().action is GateAction.SEND
    probe.cancel()
    assert engine.start(UP).gate().action is GateAction.SEND


def test_empty_bucket_holds_new_calls(clock: FakeClock, hooks: RecordingHooks) -> None:
    """After an answer saying requests-remaining=0, the next call waits for the reset instead of sending."""
    engine = make_engine(clock, hooks=hooks)
    call = engine.start(UP)
    call.gate()
    reset = "2027-01-15T08:00:04Z"  # the fake wall clock starts at 08:00:00Z
    call.record(None, {"anthropic-ratelimit-requests-remaining": "0", "anthropic-ratelimit-requests-reset": reset})
    gate = engine.start(UP).gate()
    assert gate.action is GateAction.WAIT and gate.delay == 4.0
    clock.advance(4.0)
    assert engine.start(UP).gate().action is GateAction.SEND
    assert ("rl", "requests", 0.0) in hooks.events and ("rl_wait", 4.0) in hooks.events


def test_budget_stops_a_retry_storm(clock: FakeClock) -> None:
    """With every call failing, retries stay within the budget instead of max_retries per call."""
    engine = make_engine(clock, Policy(breaker_failures=10_000, retry_budget=RetryBudget(ratio=0.5, min_retries=0)))
    retries = 0
    for _ in range(100):
        call = engine.start(UP)
        call.gate()
        while call.record(OVERLOADED).action is DecisionAction.RETRY:
            retries += 1
            call.gate()
    assert retries <= 50


def test_hooks_see_attempts_retries_and_give_up(clock: FakeClock, hooks: RecordingHooks) -> None:
    """Listeners see each attempt start and end, the retry with its delay, and the final give-up."""
    engine = make_engine(clock, Policy(max_retries=1), hooks)
    call = engine.start(UP)
    call.gate()
    d = call.record(OVERLOADED)
    call.gate()
    call.record(OVERLOADED)
    kinds = [e[0] for e in hooks.events]
    assert kinds == ["start", "end", "retry", "start", "end", "give_up"]
    assert hooks.events[2] == ("retry", 1, d.delay)


def test_engine_is_thread_safe(clock: FakeClock) -> None:
    """Concurrent callers on many threads never corrupt the breaker's count."""
    engine = make_engine(clock, Policy(breaker_failures=10_000_000, max_retries=0))

    def work() -> None:
        for _ in range(2000):
            call = engine.start(UP)
            call.gate()
            call.record(OVERLOADED)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert engine.upstreams[UP].breaker.consecutive_failures == 16_000


@given(
    statuses=st.lists(st.sampled_from([200, 400, 429, 500, 503, 529]), min_size=1, max_size=12),
    retry_after=st.one_of(st.none(), st.floats(min_value=0, max_value=120)),
)
def test_delays_never_exceed_bounds(statuses: list[int], retry_after: float | None) -> None:
    """Whatever the answers, a scheduled delay is ≤ backoff_max, or the server's retry-after when within the cap."""
    clock = FakeClock()
    policy = Policy(max_retries=20, breaker_failures=1000)
    engine = make_engine(clock, policy)
    call = engine.start(UP)
    for status in statuses:
        call.gate()
        headers = {} if retry_after is None else {"retry-after": repr(retry_after)}
        failure = classify(status, headers=headers)
        decision = call.record(failure, headers)
        if decision.action is DecisionAction.RETRY:
            bound = retry_after if retry_after is not None else policy.backoff_max
            assert 0 <= decision.delay <= bound <= max(policy.backoff_max, policy.max_retry_after)
        else:
            break
