"""The ONE call flow: gate -> send -> record -> wait, retry or give up, choosing the target of every attempt.

A sans-IO generator in the spirit of httpx's ``Auth.auth_flow``: it yields what to do and takes each attempt's
outcome; the sync client, the async client and the gateway drive it with their own I/O and none of them keeps a loop
of its own::

    flow = call_flow(engine, OneTarget(target), deadline=30.0)
    step = next(flow)
    while True:
        if isinstance(step, Wait):       # a rate-limit hold or a retry's backoff; sleep, then send None
            sleep(step.delay); step = flow.send(None)
        elif isinstance(step, Send):     # one attempt to step.target, bounded by step.timeout (None: no deadline)
            outcome = attempt(step.target, step.timeout)
            try:
                step = flow.send(Outcome(failure, headers))
            except StopIteration as stop:
                decision = stop.value    # DONE or GIVE_UP: the last attempt's answer is the call's answer
                break
            # a Wait after a Send means "retry": drop that attempt's answer before sleeping
        else:                            # Reject: answer step.failure without sending anything
            break
    flow.close()                         # always (a `finally`): frees a half-open probe an abandoned call holds

A `CallListener` (``listener=``) is told every step as the flow takes it: each wait, each send (with the
breaker state of its target) and each attempt's outcome. The flow notifies it itself, so a driver never reports a
step by hand; a listener is fast and never raises, and the flow guards it anyway (a bug there is logged once per
call, never the call's failure). `claudewire.calls.Call` is the listener every driver passes.

Where each attempt goes is asked of a `Chooser` before every Send. `OneTarget` is today's single upstream; a pool
(priority, failover) plugs in its own chooser. Breakers and rate-limit trackers live in the engine per
`Target.key`, so a chooser that gives every (upstream, key) pair its own key gets a breaker per pair. A target
whose breaker refuses or whose rate-limit bucket is empty is offered back to the chooser in `Choice.skip`, so the
chooser can pick another; when it has none left the flow waits for the shortest hold or rejects.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Generic, ParamSpec, Protocol, TypeVar

from claudewire._errors import Failure, FailureKind
from claudewire.policy.breaker import BreakerState
from claudewire.policy.config import Policy
from claudewire.policy.engine import Decision, DecisionAction, GateAction, PolicyEngine

__all__ = [
    "CallFlow",
    "CallListener",
    "Choice",
    "Chooser",
    "FailoverChooser",
    "OneTarget",
    "Outcome",
    "Reject",
    "Send",
    "Step",
    "Target",
    "Wait",
    "call_flow",
]

_log = logging.getLogger(__name__)
_NO_SKIP: frozenset[str] = frozenset()


class Target(Protocol):
    """Where an attempt goes. `key` names its breaker and rate-limit state: bounded, never a secret."""

    @property
    def key(self) -> str:
        """The state key, e.g. ``upstream_key(url)``; a pool may add a key id (never the key itself)."""
        ...


P = ParamSpec("P")
T = TypeVar("T", bound=Target)
T_co = TypeVar("T_co", bound=Target, covariant=True)


@dataclass(slots=True)
class Choice:
    """What a chooser is told before an attempt.

    - `attempt`: the number of the attempt about to be sent (1-based).
    - `last`: the target of the previous attempt and its `failure` (None on the first attempt).
    - `skip`: keys of targets refused for THIS attempt (breaker open or rate-limit hold): choose another or None.
    """

    attempt: int
    last: Target | None = None
    failure: Failure | None = None
    skip: frozenset[str] = frozenset()


class Chooser(Protocol[T_co]):
    """Picks the target of each attempt; return None when no target is left (all in `choice.skip`).

    A chooser may also have (the flow calls them when present; see `FailoverChooser`):

    - ``failover(choice) -> bool``, asked after a failed attempt (`choice.last`, `choice.failure`) before the
      policy decides: True means another target can take the next attempt now, so the flow retries at once even
      where it would otherwise give up or back off (a 401 on one of several keys, a retry-after over the cap, the
      breaker of that target just opened); `max_retries`, the deadline and the retry budget still bound it.
    - ``record(target, failure)``, told after every attempt, success (None) included.
    """

    def choose(self, choice: Choice) -> T_co | None:
        """The target of attempt `choice.attempt`, or None."""
        ...


class FailoverChooser(Chooser[T_co], Protocol[T_co]):
    """A chooser that can move a failed call to another target and learns every attempt's outcome."""

    def failover(self, choice: Choice) -> bool:
        """Whether another target can take the next attempt at once after `choice.failure` on `choice.last`."""
        ...

    def record(self, target: Target, failure: Failure | None) -> None:
        """`target` answered this attempt: `failure` is None on success."""
        ...


@dataclass(frozen=True, slots=True)
class OneTarget(Generic[T]):
    """The chooser of a single upstream: always `target`, unless it was refused for this attempt."""

    target: T

    def choose(self, choice: Choice) -> T | None:
        """`target`, or None when it is in `choice.skip`."""
        return None if self.target.key in choice.skip else self.target


@dataclass(slots=True)
class Wait:
    """Sleep `delay` seconds, then send None. `failure` is set when this wait is a retry's backoff."""

    delay: float
    failure: Failure | None = None

    @property
    def retry(self) -> bool:
        """True when an attempt failed and will be retried after the wait (drop its answer first)."""
        return self.failure is not None


@dataclass(slots=True)
class Send(Generic[T]):
    """Send attempt number `attempt` to `target`, bounded by `timeout` seconds (None: no deadline), then send
    the `Outcome`."""

    target: T
    timeout: float | None
    attempt: int


@dataclass(slots=True)
class Reject:
    """Answer `failure` (the circuit is open) without sending anything; the flow is over."""

    failure: Failure


@dataclass(slots=True)
class Outcome:
    """What one attempt produced: `failure` is None on success; `headers` are the answer's (for rate limits);
    `status` its HTTP status (0 when no answer came: a connection error, a timeout)."""

    failure: Failure | None = None
    headers: Mapping[str, str] | None = field(default=None)
    status: int = 0


class CallListener(Protocol):
    """Told each step of one call, by the flow itself. Fast, and never raises (the flow guards it anyway)."""

    def on_wait(self, delay: float, failure: Failure | None) -> None:
        """The flow waits `delay` s: a retry's backoff after `failure`, or (None) a rate-limit hold."""
        ...

    def on_send(self, attempt: int, target: Target, breaker: BreakerState) -> None:
        """Attempt number `attempt` goes to `target`, whose breaker is in state `breaker`."""
        ...

    def on_outcome(self, attempt: int, target: Target, outcome: Outcome) -> None:
        """Attempt number `attempt` to `target` produced `outcome` (before the flow decides what follows)."""
        ...


Step = Wait | Send[T] | Reject
CallFlow = Generator[Step[T], Outcome | None, Decision]


def call_flow(
    engine: PolicyEngine,
    chooser: Chooser[T],
    *,
    policy: Policy | None = None,
    deadline: float | None = None,
    reserve: float = 0.0,
    logger: logging.Logger | None = None,
    listener: CallListener | None = None,
) -> CallFlow[T]:
    """The flow of one logical call; see the module docstring for how to drive it.

    `policy` overrides the engine's per-call fields (retries, backoff, deadline); `deadline` (seconds, from now)
    overrides the policy's. Every Send's timeout and every Wait fit inside the deadline; `reserve` is the time an
    attempt needs to be of use: a retry whose wait would leave less than that before the deadline is not made, and
    the last failure is the answer, while the caller still waits for it. `listener` is told every step. Returns the
    final `Decision` (DONE, or GIVE_UP with its reason) as the generator's value; a Reject ends it with no value.
    Retries are logged at INFO and give-ups at INFO (not retryable) or WARNING on `logger`; a rejected call (the
    breaker is open) at DEBUG only, since the breaker's own transition is a WARNING already.
    """
    log = logger or _log
    call = engine.start(None, deadline=deadline, policy=policy, reserve=reserve)
    heard = _Guard(listener, log) if listener is not None else None
    if isinstance(chooser, OneTarget):  # the common case: no failover, nothing to tell (and no failed getattr per call)
        ask_failover = tell = None
    else:
        ask_failover = getattr(chooser, "failover", None)
        tell = getattr(chooser, "record", None)
    last: Target | None = None
    failure: Failure | None = None
    finished = False
    try:
        while True:
            skip = _NO_SKIP
            hold = 0.0
            refused: Failure | None = None
            while True:
                target = chooser.choose(Choice(call.attempts + 1, last, failure, skip))
                if target is None:
                    break
                key = target.key
                gate = call.gate(key)
                if gate.action is GateAction.SEND:
                    break
                skip = skip | {key}
                if gate.action is GateAction.WAIT:
                    hold = gate.delay if hold == 0.0 else min(hold, gate.delay)
                else:
                    refused = gate.failure
            if target is None:
                if hold > 0.0:
                    if listener is not None and heard is not None:
                        heard.tell(listener.on_wait, hold, None)
                    yield Wait(hold)
                    continue
                finished = True
                rejected = refused or Failure.of(FailureKind.CIRCUIT_OPEN, message="no upstream to send to")
                # DEBUG: while a breaker is open every call is rejected; its transition was logged once at WARNING
                log.debug("call rejected without sending: %s", _describe(rejected))
                yield Reject(rejected)
                return Decision(DecisionAction.GIVE_UP, reason="circuit open")
            if listener is not None and heard is not None:
                heard.tell(listener.on_send, call.attempts, target, engine.breaker_state(key))
            outcome = yield Send(target, call.remaining(), call.attempts)
            if outcome is None:
                raise RuntimeError("the driver must send the Outcome of a Send")
            if listener is not None and heard is not None:
                heard.tell(listener.on_outcome, call.attempts, target, outcome)
            failure = outcome.failure
            failover = bool(
                failure is not None
                and ask_failover is not None
                and ask_failover(Choice(call.attempts + 1, target, failure))
            )
            decision = call.record(failure, outcome.headers, failover=failover)
            if tell is not None:
                tell(target, failure)
            last = target
            if decision.action is DecisionAction.RETRY:
                assert failure is not None
                log.info(
                    "retrying %s (attempt %d failed: %s) in %.3gs",
                    key,
                    call.attempts,
                    _describe(failure),
                    decision.delay,
                )
                if listener is not None and heard is not None:
                    heard.tell(listener.on_wait, decision.delay, failure)
                yield Wait(decision.delay, failure)
                continue
            finished = True
            if failure is not None:
                level = logging.WARNING if failure.retryable else logging.INFO
                log.log(
                    level,
                    "giving up on %s after %d attempt(s): %s; %s",
                    key,
                    call.attempts,
                    decision.reason,
                    _describe(failure),
                )
            return decision
    finally:
        if not finished:
            call.cancel()  # abandoned mid-attempt or mid-wait: free the half-open probe it may hold


class _Guard:
    """A listener behind a guard: the first exception it raises is logged, then it is no longer told anything."""

    __slots__ = ("listener", "log")

    def __init__(self, listener: CallListener | None, log: logging.Logger) -> None:
        self.listener = listener
        self.log = log

    def tell(self, method: Callable[P, None], *args: P.args, **kwargs: P.kwargs) -> None:
        """Call `method` (one of the listener's) unless the listener has failed before."""
        if self.listener is None:
            return
        try:
            method(*args, **kwargs)
        except Exception:
            self.log.exception("a call listener raised; it hears nothing more of this call")
            self.listener = None


def _describe(failure: Failure) -> str:
    # kind, status and the server's wait only: an upstream's message text is not ours to log (it could quote a key)
    text = str(failure.kind)
    if failure.status:
        text += f" (HTTP {failure.status})"
    if failure.retry_after is not None:
        text += f", retry-after {failure.retry_after:g}s"
    return text
