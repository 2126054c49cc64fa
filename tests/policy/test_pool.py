"""The upstream pool: priority, weight, headroom, failover triggers, keys out, session affinity, readiness."""

from __future__ import annotations

import logging
import random
from collections import Counter
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claudewire._errors import Failure, FailureKind, classify
from claudewire.policy import BreakerState
from claudewire.policy.failover import failover_reason
from claudewire.policy.pool import Member, Pool, PoolCall, PoolHooks
from claudewire.policy.poolstate import MemoryPoolState
from tests.policy.conftest import FakeClock


@dataclass
class FakeHealth:
    """Breaker states and rate-limit headroom per member key, set by the test (the engine's read side)."""

    states: dict[str, BreakerState] = field(default_factory=dict)
    retry_in: dict[str, float] = field(default_factory=dict)
    remaining: dict[str, dict[str, float]] = field(default_factory=dict)

    def breaker_state(self, upstream: str) -> BreakerState:
        return self.states.get(upstream, BreakerState.CLOSED)

    def breaker_retry_in(self, upstream: str) -> float:
        return self.retry_in.get(upstream, 0.0)

    def ratelimit_left(self, upstream: str, family: str) -> float | None:
        return self.remaining.get(upstream, {}).get(family)


class RecordingPoolHooks(PoolHooks):
    """Keeps every pool event in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, ...]] = []

    def on_failover(self, source: str, target: str, reason: str) -> None:
        self.events.append(("failover", source, target, reason))

    def on_key_out(self, member: str, reason: str) -> None:
        self.events.append(("key_out", member, reason))

    def on_affinity(self, outcome: str, reason: str) -> None:
        self.events.append(("affinity", outcome, reason))


@dataclass(frozen=True)
class Choice:
    """What the call flow tells a chooser (the shape of policy.flow.Choice)."""

    attempt: int = 1
    last: Member | None = None
    failure: Failure | None = None
    skip: frozenset[str] = frozenset()


OVERLOADED = classify(529, body={"type": "error", "error": {"type": "overloaded_error", "message": "busy"}})
UNAUTHORIZED = classify(401, body={"type": "error", "error": {"type": "authentication_error", "message": "bad"}})
assert OVERLOADED is not None and UNAUTHORIZED is not None


def _rate_limited(retry_after: float | None) -> Failure:
    headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
    failure = classify(429, headers=headers, body={"type": "error", "error": {"type": "rate_limit_error"}})
    assert failure is not None
    return failure


def _pool(
    members: list[Member], clock: FakeClock, health: FakeHealth | None = None, **kw: object
) -> tuple[Pool, RecordingPoolHooks]:
    hooks = RecordingPoolHooks()
    pool = Pool(
        members,
        health or FakeHealth(),
        hooks=hooks,
        clock=clock.monotonic,
        rng=random.Random(3),
        **kw,  # type: ignore[arg-type]
    )
    return pool, hooks


def _attempt(call: PoolCall, last: Member | None = None, failure: Failure | None = None) -> Member | None:
    """One attempt as the flow makes it: record the previous outcome, then choose."""
    if last is not None:
        call.record(last, failure)
    return call.choose(Choice(last=last, failure=failure))


PRIMARY = Member("primary", 0, priority=0)
BACKUP = Member("backup", 0, priority=1)


def test_lowest_priority_first_and_a_529_fails_over_to_the_next(clock: FakeClock) -> None:
    """The primary takes the first attempt; after its 529 failover() says yes and the backup gets the next one."""
    pool, hooks = _pool([BACKUP, PRIMARY], clock)
    call = pool.call()
    first = call.choose(Choice())
    assert first == PRIMARY
    call.record(first, OVERLOADED)
    assert call.failover(Choice(last=first, failure=OVERLOADED))
    assert call.choose(Choice(attempt=2, last=first, failure=OVERLOADED)) == BACKUP
    assert hooks.events == []  # counted once the attempt went out, not when chosen (it may still be refused)
    call.record(BACKUP, None)
    assert hooks.events == [("failover", "primary", "backup", "overloaded")]


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, "invalid_request_error"),
        (404, "not_found_error"),
        (413, "request_too_large"),
        (422, "invalid_request_error"),
        (409, "invalid_request_error"),
    ],
)
def test_request_errors_never_fail_over(clock: FakeClock, status: int, error_type: str) -> None:
    """400, 404, 413, 422 and 409 are the request's fault: no failover, the next choice stays on the primary."""
    failure = classify(status, body={"type": "error", "error": {"type": error_type, "message": "no"}})
    assert failure is not None
    assert failover_reason(failure, held=True) is None
    pool, hooks = _pool([PRIMARY, BACKUP], clock)
    call = pool.call()
    call.record(call.choose(Choice()), failure)
    assert not call.failover(Choice(last=PRIMARY, failure=failure))
    assert hooks.events == []


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (Failure.of(FailureKind.CONNECT_REFUSED), "upstream"),
        (Failure.of(FailureKind.DNS), "upstream"),
        (Failure.of(FailureKind.CERTIFICATE), "upstream"),
        (Failure.of(FailureKind.CONNECTION_RESET), "upstream"),
        (Failure.of(FailureKind.READ_TIMEOUT), "upstream"),
        (Failure.of(FailureKind.CIRCUIT_OPEN), "upstream"),
        (classify(408), "upstream"),
        (classify(500), "upstream"),
        (classify(503), "upstream"),
        (OVERLOADED, "upstream"),
        (classify({"type": "error", "error": {"type": "overloaded_error", "message": "x"}}), "upstream"),
        (classify({"type": "error", "error": {"type": "api_error", "message": "x"}}), "upstream"),
        (_rate_limited(1.0), "rate_limit"),
        (UNAUTHORIZED, "key"),
        (classify(403), "key"),
    ],
)
def test_failover_triggers(failure: Failure | None, reason: str) -> None:
    """Network, TLS, 408, 5xx, 529 and error events go elsewhere; 429 to another key; 401/403 only for held keys."""
    assert failure is not None
    assert failover_reason(failure, held=True) == reason
    assert failover_reason(failure, held=False) == (None if reason == "key" else reason)


def test_equal_priorities_share_load_by_weight(clock: FakeClock) -> None:
    """Two upstreams of one priority with weights 1 and 3 get about a quarter and three quarters of the calls."""
    pool, _ = _pool([Member("a", weight=1.0), Member("b", weight=3.0)], clock)
    counts = Counter(m.upstream for m in (pool.call().choose(Choice()) for _ in range(4000)) if m is not None)
    assert 0.22 < counts["a"] / 4000 < 0.28 and counts["a"] + counts["b"] == 4000


def test_the_key_with_most_headroom_is_preferred_and_equals_take_turns(clock: FakeClock) -> None:
    """Among keys of one upstream the most remaining requests wins (then tokens); never heard of: unlimited."""
    keys = [Member("primary", i) for i in range(3)]
    health = FakeHealth(remaining={"primary#0": {"requests": 10}, "primary#1": {"requests": 50}})
    pool, _ = _pool(keys, clock, health)
    assert pool.call().choose(Choice()) == keys[2]  # unknown headroom: try it
    health.remaining["primary#2"] = {"requests": 5}
    assert {pool.call().choose(Choice()) for _ in range(5)} == {keys[1]}
    health.remaining = {k.key: {"requests": 7} for k in keys}
    health.remaining["primary#0"]["input_tokens"] = 900
    health.remaining["primary#1"]["input_tokens"] = 100
    assert {pool.call().choose(Choice()) for _ in range(4)} == {keys[2]}  # equal requests: tokens decide
    health.remaining = {}
    assert {pool.call().choose(Choice()) for _ in range(6)} == set(keys)  # all equal: round robin


def test_refused_members_are_skipped_and_none_when_all_are(clock: FakeClock) -> None:
    """A member in choice.skip (breaker refused, rate-limit hold) is never chosen; all skipped gives None."""
    pool, _ = _pool([PRIMARY, BACKUP], clock)
    assert pool.call().choose(Choice(skip=frozenset({"primary#0"}))) == BACKUP
    assert pool.call().choose(Choice(skip=frozenset({"primary#0", "backup#0"}))) is None


def test_models_route_only_to_upstreams_that_serve_them(clock: FakeClock) -> None:
    """A model listed by a lower-priority upstream only goes there; others go to the unrestricted one."""
    special = Member("special", priority=0, models=frozenset({"claude-opus-4-8"}))
    general = Member("general", priority=1)
    pool, _ = _pool([special, general], clock)
    assert pool.call(model="claude-haiku-4-5").choose(Choice()) == general
    assert pool.call(model="claude-opus-4-8").choose(Choice()) == special


def test_a_refused_held_key_is_taken_out_logged_by_label_and_the_next_key_serves(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A 401 on a gateway-held key takes it out (WARNING naming primary#0), the next key serves, /readyz says out."""
    keys = [Member("primary", 0), Member("primary", 1)]
    pool, hooks = _pool(keys, clock, key_cooldown=300.0)
    call = pool.call()
    with caplog.at_level(logging.WARNING, logger="claudewire.policy.pool"):
        first = call.choose(Choice())
        assert first is not None
        call.record(first, UNAUTHORIZED)
    assert call.failover(Choice(last=first, failure=UNAUTHORIZED))
    second = call.choose(Choice(attempt=2, last=first, failure=UNAUTHORIZED))
    assert second is not None and second != first
    assert "upstream key " + first.key + " taken out for 300s: HTTP 401 auth" in caplog.text
    assert ("key_out", first.key, "HTTP 401 auth") in hooks.events
    (status,) = pool.status()
    out = next(k for k in status.keys if k.key == first.key)
    assert (out.state, out.usable, out.reason, out.retry_in) == ("out", False, "HTTP 401 auth", 300.0)
    assert status.usable and pool.ready()
    assert {pool.call().choose(Choice()) for _ in range(4)} == {second}  # it stays out ...
    clock.advance(300.0)
    assert {pool.call().choose(Choice()) for _ in range(4)} == set(keys)  # ... for the cooldown only


def test_when_every_key_is_out_the_caller_gets_the_upstreams_own_error(clock: FakeClock) -> None:
    """The last key refused: no failover (the 401 goes back); a new call still sends, with the key back soonest."""
    keys = [Member("primary", 0), Member("primary", 1)]
    pool, _ = _pool(keys, clock)
    call = pool.call()
    first = call.choose(Choice())
    call.record(first, UNAUTHORIZED)
    assert call.failover(Choice(last=first, failure=UNAUTHORIZED))
    clock.advance(1.0)
    second = call.choose(Choice(attempt=2, last=first, failure=UNAUTHORIZED))
    call.record(second, UNAUTHORIZED)
    assert not call.failover(Choice(attempt=2, last=second, failure=UNAUTHORIZED))
    assert not pool.ready()
    assert pool.call().choose(Choice()) == first  # its cooldown ends first


def test_forwarded_client_credentials_are_never_taken_out(clock: FakeClock) -> None:
    """A 401 on the client's own credentials is the client's error: no key out, no failover."""
    pool, hooks = _pool([Member("primary", held=False), Member("backup", priority=1, held=False)], clock)
    call = pool.call()
    first = call.choose(Choice())
    call.record(first, UNAUTHORIZED)
    assert not call.failover(Choice(last=first, failure=UNAUTHORIZED))
    assert hooks.events == [] and pool.ready()


def test_a_429_tries_another_key_of_the_same_upstream_before_the_backup(clock: FakeClock) -> None:
    """Rate limited on primary#0: primary#1 next (not the backup), then the backup once no primary key is left."""
    keys = [Member("primary", 0), Member("primary", 1)]
    pool, _ = _pool([*keys, BACKUP], clock)
    call = pool.call()
    limited = _rate_limited(120.0)
    first = call.choose(Choice())
    assert first is not None and first.upstream == "primary"
    call.record(first, limited)
    assert call.failover(Choice(last=first, failure=limited))
    second = call.choose(Choice(attempt=2, last=first, failure=limited))
    assert second is not None and second.upstream == "primary" and second != first
    call.record(second, limited)
    assert call.failover(Choice(attempt=2, last=second, failure=limited))
    assert call.choose(Choice(attempt=3, last=second, failure=limited)) == BACKUP


def test_a_429_within_the_cap_on_a_single_key_waits_for_it(clock: FakeClock) -> None:
    """One key, retry-after under max_retry_after: no failover, the retry goes to the same key."""
    pool, hooks = _pool([PRIMARY, BACKUP], clock, max_retry_after=60.0)
    call = pool.call()
    call.record(call.choose(Choice()), _rate_limited(2.0))
    assert not call.failover(Choice(last=PRIMARY, failure=_rate_limited(2.0)))
    assert call.choose(Choice(attempt=2, last=PRIMARY, failure=_rate_limited(2.0))) == PRIMARY
    call = pool.call()
    call.record(call.choose(Choice()), _rate_limited(120.0))
    assert call.failover(Choice(last=PRIMARY, failure=_rate_limited(120.0)))
    assert call.choose(Choice(attempt=2, last=PRIMARY, failure=_rate_limited(120.0))) == BACKUP
    call.record(BACKUP, None)
    assert hooks.events == [("failover", "primary", "backup", "rate_limit")]


def test_when_every_upstream_failed_the_call_starts_over_from_the_top(clock: FakeClock) -> None:
    """Primary and backup both 529: no failover left (the flow backs off), and the next attempt is the primary's."""
    pool, _ = _pool([PRIMARY, BACKUP], clock)
    call = pool.call()
    assert _attempt(call) == PRIMARY
    assert call.failover(Choice(last=PRIMARY, failure=OVERLOADED)) or True
    assert _attempt(call, PRIMARY, OVERLOADED) == BACKUP
    call.record(BACKUP, OVERLOADED)
    assert not call.failover(Choice(attempt=2, last=BACKUP, failure=OVERLOADED))
    assert call.choose(Choice(attempt=3, last=BACKUP, failure=OVERLOADED)) == PRIMARY


def test_a_session_sticks_to_its_member_and_moves_when_it_fails(clock: FakeClock) -> None:
    """50 calls of one session land on one member of four equals; a failure moves it, counted as a break."""
    members = [Member(name, i) for name in ("a", "b") for i in range(2)]
    pool, hooks = _pool(members, clock)
    served = []
    for _ in range(50):
        call = pool.call(session="sess-1")
        member = call.choose(Choice())
        call.record(member, None)
        served.append(member)
    assert len(set(served)) == 1
    assert Counter(e[1] for e in hooks.events) == {"new": 1, "hit": 49}
    home = served[0]
    assert home is not None
    call = pool.call(session="sess-1")
    assert call.choose(Choice()) == home
    call.record(home, OVERLOADED)
    assert call.failover(Choice(last=home, failure=OVERLOADED))
    moved = call.choose(Choice(attempt=2, last=home, failure=OVERLOADED))
    assert moved is not None and moved.upstream != home.upstream
    call.record(moved, None)
    assert hooks.events[-2:] == [
        ("failover", home.upstream, moved.upstream, "overloaded"),
        ("affinity", "break", "failed"),
    ]
    follow = pool.call(session="sess-1")
    assert follow.choose(Choice()) == moved  # the session now lives on its new member


@pytest.mark.parametrize("why", ["unhealthy", "key_out", "model"])
def test_affinity_breaks_are_counted_with_their_reason(clock: FakeClock, why: str) -> None:
    """A session's member refused (breaker), out (401) or not serving the model: another serves, reason counted."""
    a = Member("a", 0, models=frozenset({"m1", "m2"}) if why == "model" else frozenset())
    pool, hooks = _pool([a, Member("b", 0, models=frozenset())], clock)
    call = pool.call(model="m1", session="s")
    home = call.choose(Choice())
    call.record(home, None)
    assert home is not None
    if why == "key_out":
        pool.take_out(home, UNAUTHORIZED)
    model = "m3" if why == "model" else "m1"
    if why == "model" and home.upstream != "a":
        pytest.skip("the seeded choice put the session on the unrestricted upstream")
    call = pool.call(model=model, session="s")
    skip = frozenset({home.key}) if why == "unhealthy" else frozenset()
    other = call.choose(Choice(skip=skip))
    assert other is not None and other != home
    call.record(other, None)
    assert hooks.events[-1] == ("affinity", "break", why)


def test_sessions_expire_after_the_ttl_and_the_map_is_bounded(clock: FakeClock) -> None:
    """The session map forgets a session ttl seconds after its last request and never holds more than its bound."""
    state = MemoryPoolState(ttl=60.0, max_sessions=100)
    for i in range(500):
        state.set_session_target(f"s{i}", "a#0", clock.now)
    assert len(state) == 100 and state.session_target("s0", clock.now) is None
    assert state.session_target("s499", clock.now) == "a#0"
    clock.advance(59.0)
    assert state.session_target("s499", clock.now) == "a#0"  # refreshed
    clock.advance(59.0)
    assert state.session_target("s499", clock.now) == "a#0"
    assert state.session_target("s498", clock.now) is None
    clock.advance(61.0)
    state.set_session_target("fresh", "b#0", clock.now)
    assert len(state) == 1


def test_readiness_reports_open_breakers_and_is_false_when_nothing_can_serve(clock: FakeClock) -> None:
    """An open breaker cooling down is not usable (with the wait); once cooled, usable again (the probe)."""
    health = FakeHealth(states={"primary#0": BreakerState.OPEN}, retry_in={"primary#0": 12.5})
    pool, _ = _pool([PRIMARY, BACKUP], clock, health)
    primary, backup = pool.status()
    assert (primary.name, primary.usable, primary.keys[0].state, primary.keys[0].retry_in) == (
        "primary",
        False,
        "open",
        12.5,
    )
    assert backup.usable and pool.ready()
    health.states["backup#0"] = BreakerState.OPEN
    health.retry_in["backup#0"] = 3.0
    assert not pool.ready()
    health.retry_in["backup#0"] = 0.0
    assert pool.ready() and pool.status()[1].keys[0].reason.startswith("cooldown over")


_FAILURES = [OVERLOADED, UNAUTHORIZED, _rate_limited(1.0), _rate_limited(600.0), classify(400), classify(404), None]


@settings(max_examples=300, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(range(len(_FAILURES))), st.sets(st.sampled_from(["a#0", "a#1", "b#0", "c#0"]))),
        min_size=1,
        max_size=12,
    ),
    model=st.sampled_from([None, "m1", "m2"]),
)
def test_choices_stay_inside_the_rules(steps: list[tuple[int, set[str]]], model: str | None) -> None:
    """Whatever fails: never a skipped member, never one not serving the model, never an out key while another is
    usable, and never a failover after a request error."""
    clock = FakeClock()
    members = [
        Member("a", 0),
        Member("a", 1),
        Member("b", 0, priority=1, models=frozenset({"m1"})),
        Member("c", 0, priority=2),
    ]
    pool, _ = _pool(members, clock)
    call = pool.call(model=model, session="s")
    last: Member | None = None
    failure: Failure | None = None
    for index, skip in steps:
        member = call.choose(Choice(last=last, failure=failure, skip=frozenset(skip)))
        if member is None:
            assert all(m.key in skip or not m.serves(model) for m in members)
            break
        assert member.key not in skip and member.serves(model)
        usable = [m for m in members if m.key not in skip and m.serves(model) and not pool.is_out(m, clock.now)]
        assert not usable or not pool.is_out(member, clock.now)
        failure = _FAILURES[index]
        call.record(member, failure)
        if failure is not None and failure.status in (400, 404):
            assert not call.failover(Choice(last=member, failure=failure))
        last = member
        clock.advance(1.0)
