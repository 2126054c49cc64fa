"""The policy engine: per-target breakers and rate-limit trackers, a shared retry budget, and the per-call
state (`CallState.gate` before an attempt, `CallState.record` after it) that `claudewire.policy.flow` drives.

Scopes: the engine holds what every call shares (the breakers, the retry budget, the rate-limit state and its hold
cap), built from the engine-wide fields of its `Policy`; a call may bring its own per-call fields (retries, backoff,
deadline) but never different engine-wide ones (`PolicyEngine.start` refuses: make another engine).

The engine never sleeps and never touches a socket. Its lock guards only in-memory bookkeeping and is released
before any hook runs, so no lock is ever held across I/O. Breaker transitions are logged at WARNING.
"""

from __future__ import annotations

import enum
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from claudewire._errors import Failure, FailureKind
from claudewire.policy.backoff import full_jitter
from claudewire.policy.breaker import Breaker, BreakerState
from claudewire.policy.budget import BudgetState, BudgetTracker
from claudewire.policy.config import Policy
from claudewire.policy.hooks import Hooks
from claudewire.policy.ratelimit import RateLimitTracker

__all__ = ["CallState", "Decision", "DecisionAction", "Gate", "GateAction", "PolicyEngine", "upstream_key"]

# Failures that say the upstream (or the path to it) is unhealthy. Any other answer, a 400 or a 429 included,
# proves the upstream is alive and closes the breaker's count.
_BREAKER_KINDS = frozenset(
    {
        FailureKind.DNS,
        FailureKind.CONNECT_REFUSED,
        FailureKind.CONNECT_TIMEOUT,
        FailureKind.CONNECTION_RESET,
        FailureKind.READ_TIMEOUT,
        FailureKind.OVERLOADED,
        FailureKind.SERVER,
        FailureKind.TIMEOUT,
        FailureKind.STREAM_INTERRUPTED,
        FailureKind.NO_RESPONSE,
    }
)
# How long a caller is told to wait while a half-open probe is deciding.
_PROBE_WAIT = 1.0
_DEFAULT_PORTS = {"http": 80, "https": 443}
_log = logging.getLogger(__name__)


def upstream_key(url: str) -> str:
    """The breaker key of a URL: ``scheme://host:port`` (paths and queries do not matter)."""
    parts = urlsplit(url)
    scheme = (parts.scheme or "https").lower()
    host = (parts.hostname or "").lower()
    port = parts.port or _DEFAULT_PORTS.get(scheme, 0)
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


class GateAction(enum.StrEnum):
    """What to do before an attempt."""

    SEND = "send"
    WAIT = "wait"
    REJECT = "reject"


@dataclass(frozen=True, slots=True)
class Gate:
    """The answer of `CallState.gate`: send now, wait `delay` seconds and ask again, or reject with `failure`."""

    action: GateAction
    delay: float = 0.0
    failure: Failure | None = None


class DecisionAction(enum.StrEnum):
    """What to do after an attempt."""

    DONE = "done"
    RETRY = "retry"
    GIVE_UP = "give_up"


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer of `CallState.record`: done, retry after `delay` seconds, or give up (`reason` says why)."""

    action: DecisionAction
    delay: float = 0.0
    reason: str = ""


# The answers of every call that goes well, shared: both are frozen, and a frozen dataclass's __init__ costs a
# setattr per field on every call otherwise.
_SEND = Gate(GateAction.SEND)
_DONE = Decision(DecisionAction.DONE)


@dataclass(slots=True)
class _Upstream:
    breaker: Breaker
    limiter: RateLimitTracker


class PolicyEngine:
    """Shared state of one policy: make one per application (a client and its copies share theirs)."""

    def __init__(
        self,
        policy: Policy | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        hooks: Hooks | None = None,
        rng: random.Random | None = None,
        budget: BudgetState | None = None,
    ) -> None:
        self.policy = policy or Policy()
        self.hooks = hooks or Hooks()
        self.clock = clock
        self.wall = wall
        self.rng = rng or random.Random()
        self.lock = threading.Lock()
        self.upstreams: dict[str, _Upstream] = {}
        self._checked: Policy | None = None  # the last call policy found to share this engine's settings
        # `budget`: the policy's retry budget kept elsewhere (shared by a deployment); None: in this engine
        spec = self.policy.retry_budget
        self.budget: BudgetState | None = budget if budget is not None or spec is None else BudgetTracker(spec)

    def upstream(self, key: str) -> _Upstream:
        """The state of one upstream, created on first use. Call with `lock` held."""
        state = self.upstreams.get(key)
        if state is None:
            p = self.policy
            state = _Upstream(Breaker.from_policy(p), RateLimitTracker(p.max_retry_after))
            self.upstreams[key] = state
        return state

    def start(
        self,
        upstream: str | None = None,
        *,
        deadline: float | None = None,
        policy: Policy | None = None,
        reserve: float = 0.0,
    ) -> CallState:
        """Begin one logical call; `upstream` is the target key of its attempts (or give one to each `gate`).

        `policy` brings the call's own per-call fields (retries, backoff, deadline); its engine-wide fields must be
        this engine's (`ValueError` otherwise: they would silently not apply). `deadline` overrides the policy's.
        `reserve`: seconds an attempt needs to be of use; a retry that would leave less before the deadline is not
        made (the last failure is the answer while the caller still waits).
        """
        call_policy = policy or self.policy
        # the field-by-field check runs once per distinct policy object, not once per call (it is on the hot path)
        if call_policy is not self.policy and call_policy is not self._checked and not self._check(call_policy):
            raise ValueError(
                "this call's policy changes engine-wide settings "
                f"({', '.join(call_policy.engine_changes(self.policy))}): they belong to a new PolicyEngine"
            )
        if deadline is None:
            deadline = call_policy.deadline
        return CallState(self, upstream or "", call_policy, deadline, reserve)

    def ratelimit_hold(self, key: str) -> float:
        """Seconds new requests to `key` are held because the upstream said a rate-limit bucket is empty (0: none)."""
        with self.lock:
            state = self.upstreams.get(key)
            return state.limiter.wait_time(self.clock()) if state else 0.0

    def adopt_hold(self, key: str, seconds: float) -> None:
        """Hold new requests to `key` for `seconds` (capped like a local hold): another replica saw its bucket empty."""
        with self.lock:
            limiter = self.upstream(key).limiter
            limiter.hold_until = max(limiter.hold_until, self.clock() + min(seconds, limiter.max_hold))

    def adopt_breaker(self, key: str, open_for: float | None) -> None:
        """Take a breaker decision made elsewhere (another replica): opened with `open_for` seconds left, or closed
        after a good probe (None: an open breaker here probes at once). A local half-open probe decides for itself."""
        with self.lock:
            breaker = self.upstream(key).breaker
            old = breaker.state
            if open_for is None:
                breaker.closed_elsewhere(self.clock())
            else:
                breaker.open_elsewhere(self.clock(), open_for)
            new = breaker.state
        if old is not new:
            _log_transition(key, old, new)
            self.hooks.on_breaker_change(key, old, new)

    def _check(self, policy: Policy) -> bool:
        if not policy.shares_engine(self.policy):
            return False
        self._checked = policy
        return True

    def breaker_state(self, upstream: str) -> BreakerState:
        """The breaker state of `upstream` (CLOSED for one never seen)."""
        with self.lock:
            state = self.upstreams.get(upstream)
            return state.breaker.state if state else BreakerState.CLOSED

    def breaker_retry_in(self, upstream: str) -> float:
        """Seconds until an open breaker of `upstream` admits a probe."""
        with self.lock:
            state = self.upstreams.get(upstream)
            return state.breaker.retry_in(self.clock()) if state else 0.0

    def ratelimit_left(self, upstream: str, family: str) -> float | None:
        """The last remaining value of one bucket `family` of `upstream` (None: never reported). Lock-free: a
        choice between keys may read a value one answer old, never a torn one."""
        state = self.upstreams.get(upstream)
        return state.limiter.remaining.get(family) if state is not None else None

    def ratelimit_remaining(self, upstream: str) -> dict[str, float]:
        """The last reported remaining values of `upstream`'s rate-limit buckets."""
        with self.lock:
            state = self.upstreams.get(upstream)
            return dict(state.limiter.remaining) if state else {}


class CallState:
    """One logical call: ask `gate()` before every attempt and `record()` after it (`call_flow` does both)."""

    __slots__ = ("_attempt_started", "_engine", "_probe", "attempts", "deadline_at", "policy", "reserve", "upstream")

    def __init__(
        self, engine: PolicyEngine, upstream: str, policy: Policy, deadline: float | None, reserve: float = 0.0
    ) -> None:
        # `upstream`: the target key of the current attempt; `gate(key)` moves it for the next one
        self._engine = engine
        self.upstream = upstream
        self.policy = policy
        self.attempts = 0
        now = engine.clock()
        self.deadline_at = now + deadline if deadline is not None else None
        self.reserve = reserve  # seconds an attempt needs to be of use: no retry that would leave it less
        self._attempt_started = now
        self._probe = False

    def remaining(self) -> float | None:
        """Seconds left before the deadline (None: no deadline)."""
        if self.deadline_at is None:
            return None
        return max(0.0, self.deadline_at - self._engine.clock())

    def gate(self, key: str | None = None) -> Gate:
        """Whether the next attempt may go out now, to target `key` (default: the last one asked about)."""
        engine = self._engine
        if key is not None:
            if self._probe and key != self.upstream:
                self.cancel()
            self.upstream = key
        now = engine.clock()
        with engine.lock:
            state = engine.upstream(self.upstream)
            wait = state.limiter.wait_time(now)
            # Hold for an empty rate-limit bucket only when the hold fits the deadline; otherwise let the upstream
            # answer for itself.
            if wait > 0 and (self.deadline_at is None or now + wait <= self.deadline_at):
                gate = Gate(GateAction.WAIT, delay=wait)
                old = new = state.breaker.state
            else:
                old = state.breaker.state
                admitted = state.breaker.admit(now)
                new = state.breaker.state
                if admitted:
                    self._probe = new is BreakerState.HALF_OPEN
                    self.attempts += 1
                    self._attempt_started = now
                    if self.attempts == 1 and engine.budget is not None:
                        engine.budget.on_request(now)
                    gate = _SEND
                else:
                    retry_in = state.breaker.retry_in(now) or _PROBE_WAIT
                    gate = Gate(
                        GateAction.REJECT,
                        failure=Failure.of(FailureKind.CIRCUIT_OPEN, retry_after=retry_in),
                    )
        hooks = engine.hooks
        if old is not new:
            _log_transition(self.upstream, old, new)
            hooks.on_breaker_change(self.upstream, old, new)
        if gate.action is GateAction.WAIT:
            hooks.on_ratelimit_wait(self.upstream, gate.delay)
        elif gate.action is GateAction.SEND:
            hooks.on_attempt_start(self.upstream, self.attempts)
        return gate

    def record(
        self, failure: Failure | None, headers: Mapping[str, str] | None = None, *, failover: bool = False
    ) -> Decision:
        """The outcome of the attempt `gate()` admitted: `failure` is None on success; `headers` of the answer.

        `failover`: another target can take the next attempt at once, so a failure that would end the call here
        (not retryable on this target, a retry-after over the cap, this target's breaker open) is retried with no
        delay, still within `max_retries`, the deadline and the retry budget.
        """
        if self.attempts == 0:
            raise RuntimeError("record() called before gate() admitted an attempt")
        engine = self._engine
        now = engine.clock()
        elapsed = now - self._attempt_started
        with engine.lock:
            state = engine.upstream(self.upstream)
            seen = state.limiter.observe(headers, now, engine.wall()) if headers else {}
            breaker = state.breaker
            old = breaker.state
            if failure is not None and failure.kind in _BREAKER_KINDS:
                breaker.on_failure(now, probe=self._probe)
            else:
                breaker.on_success(now, probe=self._probe)
            self._probe = False
            new = breaker.state
            decision = self._decide(failure, now, breaker.state, failover)
        hooks = engine.hooks
        hooks.on_attempt_end(self.upstream, self.attempts, failure, elapsed)
        for family, left in seen.items():
            hooks.on_ratelimit(self.upstream, family, left)
        if old is not new:
            _log_transition(self.upstream, old, new)
            hooks.on_breaker_change(self.upstream, old, new)
        if failure is not None:
            if decision.action is DecisionAction.RETRY:
                hooks.on_retry(self.upstream, self.attempts, decision.delay, failure)
            else:
                hooks.on_give_up(self.upstream, self.attempts, failure, decision.reason)
        return decision

    def _decide(self, failure: Failure | None, now: float, breaker: BreakerState, failover: bool) -> Decision:
        # called with the engine lock held
        if failure is None:
            return _DONE
        policy = self.policy
        if failover:
            return self._bounded(now, 0.0)
        if not failure.retryable:
            return Decision(DecisionAction.GIVE_UP, reason=f"not retryable ({failure.kind})")
        if self.attempts > policy.max_retries:
            return Decision(DecisionAction.GIVE_UP, reason=f"retries exhausted after {self.attempts} attempts")
        retry_after = failure.retry_after
        if retry_after is not None and retry_after > policy.max_retry_after:
            return Decision(
                DecisionAction.GIVE_UP,
                reason=f"retry-after {retry_after:g}s is over the {policy.max_retry_after:g}s cap",
            )
        if breaker is BreakerState.OPEN:
            return Decision(DecisionAction.GIVE_UP, reason="circuit open")
        if retry_after is not None:
            delay = retry_after
        else:
            delay = full_jitter(self.attempts, policy.backoff_initial, policy.backoff_max, self._engine.rng)
        return self._bounded(now, delay)

    def _bounded(self, now: float, delay: float) -> Decision:
        # a retry after `delay`, unless the attempts, the deadline or the retry budget say no (lock held)
        if self.attempts > self.policy.max_retries:
            return Decision(DecisionAction.GIVE_UP, reason=f"retries exhausted after {self.attempts} attempts")
        if self.deadline_at is not None and now >= self.deadline_at:
            return Decision(DecisionAction.GIVE_UP, reason="the deadline has passed")
        if self.deadline_at is not None and now + delay + self.reserve > self.deadline_at:
            return Decision(DecisionAction.GIVE_UP, reason="the next retry would pass the deadline")
        budget = self._engine.budget
        if budget is not None and not budget.try_spend(now):
            return Decision(DecisionAction.GIVE_UP, reason="retry budget exhausted")
        return Decision(DecisionAction.RETRY, delay=delay)

    def cancel(self) -> None:
        """The caller abandoned the call mid-attempt: free the half-open probe it may hold."""
        if not self._probe:
            return
        engine = self._engine
        with engine.lock:
            engine.upstream(self.upstream).breaker.on_abandon()
            self._probe = False


def _log_transition(key: str, old: BreakerState, new: BreakerState) -> None:
    _log.warning("circuit breaker of %s: %s -> %s", key, old, new)
