"""SharedPolicy: breaker and key-out events between replicas, applied to a real engine and pool state."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from claudewire._errors import Failure, FailureKind
from claudewire.policy import BreakerState, MultiHooks, PolicyEngine
from claudewire.policy.poolstate import KeyOut
from claudewire.state.sync import SharedPolicy


class Clock:
    """A settable monotonic clock."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _pair() -> tuple[tuple[SharedPolicy, PolicyEngine], tuple[SharedPolicy, PolicyEngine], Clock]:
    """Two replicas wired to each other as Redis pub/sub would (each sees the other's events)."""
    clock = Clock()
    replicas = []
    for _ in range(2):
        shared = SharedPolicy(lambda raw: None)
        engine = PolicyEngine(clock=clock, hooks=MultiHooks(shared))
        shared.bind(engine)
        replicas.append((shared, engine))
    (a, _), (b, _) = replicas
    a.publish, b.publish = b.receive, a.receive
    return replicas[0], replicas[1], clock


def test_a_breaker_opened_in_one_replica_opens_in_the_other_for_the_time_left() -> None:
    """A's breaker opening reaches B with its pause; B admits nothing until then, and does not echo it back."""
    (a, engine_a), (b, engine_b), clock = _pair()
    call = engine_a.start("up#0")
    for _ in range(engine_a.policy.breaker_failures):
        call.gate("up#0")
        call.record(Failure.of(FailureKind.SERVER, status=503), None)
    assert engine_a.breaker_state("up#0") is BreakerState.OPEN
    assert engine_b.breaker_state("up#0") is BreakerState.OPEN
    assert engine_b.breaker_retry_in("up#0") == engine_a.breaker_retry_in("up#0") > 0
    assert b.received == 1 and a.received == 0  # B did not publish the adopted change back
    clock.now += engine_b.breaker_retry_in("up#0") + 0.01
    assert engine_b.breaker_retry_in("up#0") == 0.0  # the pause is over: the next call here is a probe


def test_a_good_probe_elsewhere_ends_the_pause_here_without_skipping_half_open() -> None:
    """B hearing A's breaker closed stays OPEN but probes at once (OPEN is left only through HALF_OPEN)."""
    _, (b, engine_b), _ = _pair()
    b.receive(b'{"o":"x","t":"breaker","k":"up#0","for":30}')
    assert engine_b.breaker_retry_in("up#0") == 30.0
    b.receive(b'{"o":"x","t":"breaker","k":"up#0","for":null}')
    assert engine_b.breaker_state("up#0") is BreakerState.OPEN and engine_b.breaker_retry_in("up#0") == 0.0


def test_a_key_taken_out_in_one_replica_is_out_in_the_other() -> None:
    """take_out on A (a 401) takes the key out on B for the time left, with the reason."""
    (a, _), (b, _), clock = _pair()
    a.take_out("up#1", KeyOut(clock.now + 300, "HTTP 401 auth"))
    out = b.key_out("up#1", clock.now)
    assert out is not None and out.until == clock.now + 300 and "401" in out.reason
    assert b.key_out("up#1", clock.now + 301) is None


def test_malformed_and_own_events_are_ignored() -> None:
    """Garbage, out-of-range spans and a replica's own events change nothing."""
    (a, engine_a), _, _ = _pair()
    for raw in (b"not json", b"[1]", b'{"t":"breaker","k":"up#0","for":-5}', b'{"t":"breaker","k":"up#0","for":1e9}'):
        a.receive(raw)
    a.receive(json.dumps({"o": a.origin, "t": "breaker", "k": "up#0", "for": 30}).encode())
    assert engine_a.breaker_state("up#0") is BreakerState.CLOSED and a.received == 0


def test_a_rate_limit_hold_learned_by_one_replica_holds_the_other() -> None:
    """An answer with an empty bucket holds A's key until the reset; B holds it as long, told once."""
    (_, engine_a), (b, engine_b), _ = _pair()
    call = engine_a.start("up#0")
    call.gate("up#0")
    reset = datetime.fromtimestamp(engine_a.wall() + 20, UTC).isoformat()
    headers = {
        "anthropic-ratelimit-requests-remaining": "0",
        "anthropic-ratelimit-requests-reset": reset,
        "anthropic-ratelimit-tokens-remaining": "0",
        "anthropic-ratelimit-tokens-reset": reset,
    }
    call.record(None, headers)
    held = engine_a.ratelimit_hold("up#0")
    assert 15 < held <= 20
    assert engine_b.ratelimit_hold("up#0") == held
    assert b.received == 1  # two empty buckets in one answer: one event
    assert engine_b.start("up#0").gate("up#0").delay == held
