"""The one call flow: the steps it asks its drivers for, the chooser it asks for targets, its logs."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from claudewire import FailureKind, classify
from claudewire.policy import (
    CallFlow,
    Choice,
    DecisionAction,
    OneTarget,
    Outcome,
    Policy,
    Reject,
    Send,
    Wait,
    call_flow,
)
from tests.policy.conftest import FakeClock, make_engine

OVERLOADED = classify(529, body={"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
BAD = classify(400, body={"type": "error", "error": {"type": "invalid_request_error", "message": "bad"}})


@dataclass(frozen=True)
class Up:
    """A target named by its key."""

    key: str


A, B = Up("http://a:80"), Up("http://b:80")


class Failover:
    """A two-target chooser: the first target unless it is skipped or just failed, then the second."""

    def __init__(self) -> None:
        self.asked: list[Choice] = []

    def choose(self, choice: Choice) -> Up | None:
        self.asked.append(choice)
        for target in (A, B) if choice.last is not B else (B, A):
            if target.key in choice.skip or (choice.last is target and choice.failure is not None):
                continue
            return target
        return None


class Pool(Failover):
    """A failover chooser: moves any failure of A to B at once and keeps what each attempt did."""

    def __init__(self) -> None:
        super().__init__()
        self.told: list[tuple[str, bool]] = []

    def failover(self, choice: Choice) -> bool:
        return choice.last is A

    def record(self, target: Up, failure: object) -> None:
        self.told.append((target.key, failure is None))


def drive(flow: CallFlow[Up], outcomes: list[Outcome], clock: FakeClock) -> tuple[list[object], object]:
    """Run `flow` to its end, answering each Send with the next outcome; the steps seen and the final value."""
    steps: list[object] = []
    step = next(flow)
    while True:
        steps.append(step)
        try:
            if isinstance(step, Wait):
                clock.advance(step.delay)
                step = flow.send(None)
            elif isinstance(step, Send):
                step = flow.send(outcomes.pop(0))
            else:
                with pytest.raises(StopIteration) as stop:
                    flow.send(None)
                return steps, stop.value.value
        except StopIteration as stop:
            return steps, stop.value


def test_success_is_one_send_to_the_chosen_target(clock: FakeClock) -> None:
    """One good answer: one Send to the one target, then the flow ends DONE."""
    flow = call_flow(make_engine(clock), OneTarget(A))
    steps, decision = drive(flow, [Outcome()], clock)
    assert steps == [Send(A, None, 1)]
    assert getattr(decision, "action", None) is DecisionAction.DONE


def test_retry_is_a_wait_with_the_failure_then_another_send(clock: FakeClock) -> None:
    """A 529 then a success: Send, Wait(retry, failure attached), Send, DONE."""
    flow = call_flow(make_engine(clock, Policy(breaker_failures=100)), OneTarget(A))
    steps, decision = drive(flow, [Outcome(OVERLOADED), Outcome()], clock)
    assert [type(s) for s in steps] == [Send, Wait, Send]
    wait = steps[1]
    assert isinstance(wait, Wait) and wait.retry and wait.failure is OVERLOADED
    assert isinstance(steps[2], Send) and steps[2].attempt == 2
    assert getattr(decision, "action", None) is DecisionAction.DONE


def test_not_retryable_ends_with_give_up(clock: FakeClock) -> None:
    """A 400 is sent once and the flow's value says why it gave up."""
    steps, decision = drive(call_flow(make_engine(clock), OneTarget(A)), [Outcome(BAD)], clock)
    assert len(steps) == 1
    assert getattr(decision, "action", None) is DecisionAction.GIVE_UP
    assert "not retryable" in getattr(decision, "reason", "")


def test_the_chooser_sees_the_failed_target_and_can_fail_over(clock: FakeClock) -> None:
    """After a 529 from A the chooser is told (last=A, failure) and the retry goes to B."""
    chooser = Failover()
    flow = call_flow(make_engine(clock, Policy(breaker_failures=100)), chooser)
    steps, _ = drive(flow, [Outcome(OVERLOADED), Outcome()], clock)
    sends = [s for s in steps if isinstance(s, Send)]
    assert [s.target for s in sends] == [A, B]
    assert chooser.asked[-1].last is A and chooser.asked[-1].failure is OVERLOADED
    assert chooser.asked[-1].attempt == 2


def test_breakers_are_per_target_key_and_an_open_one_is_skipped(clock: FakeClock) -> None:
    """A's breaker open: the flow offers A back in `skip` and sends to B, whose breaker is its own."""
    engine = make_engine(clock, Policy(breaker_failures=1, max_retries=0))
    drive(call_flow(engine, OneTarget(A)), [Outcome(OVERLOADED)], clock)
    assert str(engine.breaker_state(A.key)) == "open"
    chooser = Failover()
    steps, _ = drive(call_flow(engine, chooser), [Outcome()], clock)
    assert steps == [Send(B, None, 1)]
    assert chooser.asked[1].skip == frozenset({A.key})
    assert str(engine.breaker_state(B.key)) == "closed"


def test_no_target_left_is_a_reject_without_sending(clock: FakeClock) -> None:
    """The only target's breaker is open: the flow rejects with circuit_open and never asks for a Send."""
    engine = make_engine(clock, Policy(breaker_failures=1, max_retries=0))
    drive(call_flow(engine, OneTarget(A)), [Outcome(OVERLOADED)], clock)
    steps, decision = drive(call_flow(engine, OneTarget(A)), [], clock)
    assert len(steps) == 1 and isinstance(steps[0], Reject)
    assert steps[0].failure.kind is FailureKind.CIRCUIT_OPEN and (steps[0].failure.retry_after or 0) > 0
    assert getattr(decision, "action", None) is DecisionAction.GIVE_UP


def test_an_empty_rate_limit_bucket_is_a_wait_then_the_send(clock: FakeClock) -> None:
    """A 429 that says the bucket resets in 2 s: the next call first Waits 2 s (not a retry), then Sends."""
    engine = make_engine(clock, Policy(max_retries=0))
    reset = datetime.fromtimestamp(clock.wall_now + 2.0, UTC).isoformat()
    headers = {"anthropic-ratelimit-requests-remaining": "0", "anthropic-ratelimit-requests-reset": reset}
    drive(call_flow(engine, OneTarget(A)), [Outcome(None, headers)], clock)
    steps, _ = drive(call_flow(engine, OneTarget(A)), [Outcome()], clock)
    assert isinstance(steps[0], Wait) and not steps[0].retry and steps[0].delay == pytest.approx(2.0)
    assert isinstance(steps[1], Send)


def test_every_send_is_bounded_by_what_is_left_of_the_deadline(clock: FakeClock) -> None:
    """deadline=5: the first Send may take 5 s; after 3 s spent and a wait, the next gets only what is left."""
    engine = make_engine(clock, Policy(breaker_failures=100, backoff_initial=0.5, backoff_max=0.5))
    flow = call_flow(engine, OneTarget(A), deadline=5.0)
    first = next(flow)
    assert isinstance(first, Send) and first.timeout == pytest.approx(5.0)
    clock.advance(3.0)
    wait = flow.send(Outcome(OVERLOADED))
    assert isinstance(wait, Wait)
    clock.advance(wait.delay)
    second = flow.send(None)
    assert isinstance(second, Send)
    assert second.timeout == pytest.approx(2.0 - wait.delay)


def test_a_retry_past_the_deadline_is_a_give_up(clock: FakeClock) -> None:
    """An attempt that used up the whole deadline is not retried: the flow gives up with the reason."""
    flow = call_flow(make_engine(clock, Policy(breaker_failures=100)), OneTarget(A), deadline=1.0)
    next(flow)
    clock.advance(1.0)
    with pytest.raises(StopIteration) as stop:
        flow.send(Outcome(OVERLOADED))
    assert stop.value.value.action is DecisionAction.GIVE_UP
    assert "deadline" in stop.value.value.reason


def test_closing_an_abandoned_flow_frees_the_half_open_probe(clock: FakeClock) -> None:
    """A probe abandoned mid-attempt (flow.close) lets the next call probe instead of being rejected."""
    engine = make_engine(clock, Policy(breaker_failures=1, max_retries=0, breaker_cooldown=1.0))
    drive(call_flow(engine, OneTarget(A)), [Outcome(OVERLOADED)], clock)
    clock.advance(1.5)
    abandoned = call_flow(engine, OneTarget(A))
    assert isinstance(next(abandoned), Send)  # the probe
    abandoned.close()
    assert isinstance(next(call_flow(engine, OneTarget(A))), Send)


def test_a_call_policy_cannot_change_engine_wide_settings(clock: FakeClock) -> None:
    """A per-call policy with another breaker setting is refused: it would silently not apply."""
    flow = call_flow(make_engine(clock), OneTarget(A), policy=Policy(breaker_failures=1))
    with pytest.raises(ValueError, match="breaker_failures"):
        next(flow)


def test_retries_and_give_ups_are_logged_with_reason_and_delay(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Each retry is an INFO line with the failure and the delay; the give-up a WARNING saying why."""
    logger = logging.getLogger("claudewire.test_flow")
    flow = call_flow(make_engine(clock, Policy(max_retries=1, breaker_failures=100)), OneTarget(A), logger=logger)
    with caplog.at_level(logging.INFO, logger="claudewire.test_flow"):
        drive(flow, [Outcome(OVERLOADED), Outcome(OVERLOADED)], clock)
    records = [r for r in caplog.records if r.name == "claudewire.test_flow"]
    assert [r.levelno for r in records] == [logging.INFO, logging.WARNING]
    assert "retrying http://a:80" in records[0].getMessage() and "overloaded (HTTP 529)" in records[0].getMessage()
    assert "in " in records[0].getMessage()
    assert "retries exhausted after 2 attempts" in records[1].getMessage()


def test_failover_retries_at_once_what_would_end_the_call(clock: FakeClock) -> None:
    """A 401 on A with a chooser that can fail over: retried on B with no delay (alone, a 401 is a give-up)."""
    auth = classify(401, body={"type": "error", "error": {"type": "authentication_error", "message": "no"}})
    pool = Pool()
    flow = call_flow(make_engine(clock), pool)
    steps, decision = drive(flow, [Outcome(auth), Outcome()], clock)
    assert [type(s) for s in steps] == [Send, Wait, Send]
    assert isinstance(steps[1], Wait) and steps[1].delay == 0.0
    assert isinstance(steps[2], Send) and steps[2].target is B
    assert getattr(decision, "action", None) is DecisionAction.DONE
    assert pool.told == [(A.key, False), (B.key, True)]


def test_failover_is_still_bounded_by_max_retries(clock: FakeClock) -> None:
    """max_retries=0: even a chooser that could fail over gets no second attempt."""
    flow = call_flow(make_engine(clock, Policy(max_retries=0)), Pool())
    steps, decision = drive(flow, [Outcome(OVERLOADED)], clock)
    assert len(steps) == 1
    assert "retries exhausted" in getattr(decision, "reason", "")


class Heard:
    """A listener that writes down each step it is told."""

    def __init__(self, fail: bool = False) -> None:
        self.steps: list[tuple[object, ...]] = []
        self.fail = fail

    def on_wait(self, delay: float, failure: object) -> None:
        self.steps.append(("wait", failure is not None))

    def on_send(self, attempt: int, target: Up, breaker: object) -> None:
        self.steps.append(("send", attempt, target.key, str(breaker)))
        if self.fail:
            raise RuntimeError("a listener's bug")

    def on_outcome(self, attempt: int, target: Up, outcome: Outcome) -> None:
        self.steps.append(("outcome", attempt, target.key, outcome.status))


def test_the_listener_hears_each_send_outcome_and_wait_in_order(clock: FakeClock) -> None:
    """A 529 failed over to B: send A, outcome 529, wait (a retry), send B, outcome 200; breaker states included."""
    heard = Heard()
    flow = call_flow(make_engine(clock, Policy(breaker_failures=100)), Pool(), listener=heard)
    drive(flow, [Outcome(OVERLOADED, status=529), Outcome(status=200)], clock)
    assert heard.steps == [
        ("send", 1, A.key, "closed"),
        ("outcome", 1, A.key, 529),
        ("wait", True),
        ("send", 2, B.key, "closed"),
        ("outcome", 2, B.key, 200),
    ]


def test_a_listener_that_raises_never_breaks_the_call(clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    """A listener's exception is logged once and it hears nothing more; the call still retries and succeeds."""
    heard = Heard(fail=True)
    flow = call_flow(make_engine(clock, Policy(breaker_failures=100)), OneTarget(A), listener=heard)
    with caplog.at_level(logging.ERROR):
        steps, decision = drive(flow, [Outcome(OVERLOADED), Outcome()], clock)
    assert [type(s) for s in steps] == [Send, Wait, Send]
    assert getattr(decision, "action", None) is DecisionAction.DONE
    assert heard.steps == [("send", 1, A.key, "closed")]
    assert sum("call listener raised" in r.getMessage() for r in caplog.records) == 1


def test_a_retry_that_leaves_no_useful_time_is_not_made(clock: FakeClock) -> None:
    """deadline 10 s, reserve 9 s, a 529 after 2 s: no wait plus a useful attempt fits, so the 529 is the answer
    now; with reserve 1 s the same 529 is retried."""
    engine = make_engine(clock, Policy(breaker_failures=100))
    for reserve, action in ((9.0, DecisionAction.GIVE_UP), (1.0, None)):
        flow = call_flow(engine, OneTarget(A), deadline=10.0, reserve=reserve)
        assert isinstance(next(flow), Send)
        clock.advance(2.0)
        try:
            step = flow.send(Outcome(OVERLOADED))
        except StopIteration as stop:
            assert action is DecisionAction.GIVE_UP
            assert "deadline" in stop.value.reason
        else:
            assert action is None and isinstance(step, Wait) and step.retry
        flow.close()
