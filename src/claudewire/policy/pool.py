"""Upstream pools, sans-IO: several upstreams with several keys each, failover before the first byte, session affinity.

A `Pool` knows its members: one per (upstream, key), named ``name#index`` (a member whose upstream holds no key
forwards the client's own credentials, ``name#0``). The member's `key` is the policy engine's state key, so each
(upstream, key) has its own breaker and rate-limit tracker there; the pool reads them (`PoolHealth`) and keeps only
what is its own in a `PoolState`: keys taken out after a 401/403, and which member serves each session.

Every call gets a `PoolCall` (`Pool.call(model=..., session=...)`), the chooser of the call flow's targets:

- **Choice**: members serving the model, not taken out, not refused for this attempt (breaker open, rate-limit
  hold); the lowest priority first; equal priorities share load by weight; within an upstream the key with the
  most rate-limit headroom (``anthropic-ratelimit-*-remaining``), round robin among equals (those two measures in
  `claudewire.policy.selection`).
- **Failover** (`failover_reason`): network, TLS, 408, 5xx, 529 and error events before the first delta move the
  next attempt to the next upstream; a 429 to another key of the same upstream first (to the next upstream when
  none is left and the wait is over the cap); a 401/402/403 on a gateway-held key takes that key out for
  `key_cooldown` seconds and moves on. Never on 400/404/413/422 or another request error: the same request fails
  the same way everywhere. When every member has been tried the call starts over from the top (the flow backs off).
- **Affinity**: a session (its id from the caller's headers) sticks to the member that last served it while that
  member is usable; the pool counts hits, new sessions and breaks with their reason.

The flow stays the one deciding retries: `PoolCall.failover` only tells it whether another target can take the
next attempt now. Nothing here sleeps, locks across I/O or sees a secret.
"""

from __future__ import annotations

import itertools
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Generic, Protocol, TypeVar

from claudewire._errors import Failure
from claudewire.policy.breaker import BreakerState
from claudewire.policy.failover import failover_reason
from claudewire.policy.members import Member, MemberStatus, PoolHealth, PoolHooks, UpstreamStatus
from claudewire.policy.poolstate import KeyOut, MemoryPoolState, PoolState
from claudewire.policy.selection import roomiest, weighted_upstream

__all__ = [
    "Member",
    "MemberStatus",
    "Pool",
    "PoolCall",
    "PoolChooser",
    "PoolHealth",
    "PoolHooks",
    "UpstreamStatus",
]

_log = logging.getLogger(__name__)


class Pool:
    """The members and their shared state; make one per gateway (or client) and one `PoolCall` per call."""

    def __init__(
        self,
        members: Sequence[Member],
        health: PoolHealth,
        *,
        state: PoolState | None = None,
        key_cooldown: float = 300.0,
        max_retry_after: float = 60.0,
        hooks: PoolHooks | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        if not members:
            raise ValueError("a pool needs at least one member")
        keys = [m.key for m in members]
        if len(set(keys)) != len(keys):
            raise ValueError(f"pool members must have distinct keys, got {keys}")
        self.members = tuple(sorted(members, key=lambda m: m.priority))
        self.by_key = {m.key: m for m in self.members}
        self.health = health
        self.state: PoolState = state if state is not None else MemoryPoolState()
        self.key_cooldown = key_cooldown
        self.max_retry_after = max_retry_after
        self.hooks = hooks or PoolHooks()
        self.clock = clock
        self.rng = rng or random.Random()
        self._turn = itertools.count()
        self._keys_of = {m.upstream: [k for k in self.members if k.upstream == m.upstream] for m in self.members}
        self._any_models = any(m.models for m in self.members)
        # the first choice of a call with nothing refused, failed or out: the members of the lowest priority
        self._top = [m for m in self.members if m.priority == self.members[0].priority]
        self._top_upstreams = len({m.upstream for m in self._top})

    def call(self, *, model: str | None = None, session: str | None = None) -> PoolCall:
        """The chooser of one call for `model`, sticking to `session`'s member when it has one."""
        return PoolCall(self, model, session or None)

    def is_out(self, member: Member, now: float) -> bool:
        """Whether `member`'s key is out of rotation at `now` (a forwarded credential never is)."""
        return member.held and self.state.key_out(member.key, now) is not None

    def take_out(self, member: Member, failure: Failure) -> None:
        """Take `member`'s key out for `key_cooldown` seconds after the upstream refused it."""
        reason = f"HTTP {failure.status} {failure.kind}" if failure.status else str(failure.kind)
        self.state.take_out(member.key, KeyOut(self.clock() + self.key_cooldown, reason))
        _log.warning("upstream key %s taken out for %gs: %s", member.key, self.key_cooldown, reason)
        self.hooks.on_key_out(member.key, reason)

    def status(self) -> tuple[UpstreamStatus, ...]:
        """Every upstream and key as /readyz shows them."""
        now = self.clock()
        out: list[UpstreamStatus] = []
        for name, members in self._keys_of.items():
            keys = tuple(self._member_status(m, now) for m in members)
            out.append(UpstreamStatus(name, members[0].priority, any(k.usable for k in keys), keys))
        return tuple(out)

    def ready(self) -> bool:
        """True while any upstream can take traffic."""
        return any(u.usable for u in self.status())

    def member_status(self, member: Member) -> MemberStatus:
        """One key's state now."""
        return self._member_status(member, self.clock())

    def _member_status(self, member: Member, now: float) -> MemberStatus:
        gone = self.state.key_out(member.key, now) if member.held else None
        if gone is not None:
            return MemberStatus(member.key, "out", False, gone.reason, round(gone.until - now, 3))
        state = self.health.breaker_state(member.key)
        if state is BreakerState.OPEN:
            wait = self.health.breaker_retry_in(member.key)
            if wait > 0:
                return MemberStatus(member.key, "open", False, "breaker open after upstream failures", round(wait, 3))
            return MemberStatus(member.key, "open", True, "cooldown over: the next request is the probe")
        if state is BreakerState.HALF_OPEN:
            return MemberStatus(member.key, "half_open", True, "a probe is deciding")
        return MemberStatus(member.key, "closed", True)


class _ChoiceLike(Protocol):
    """The call flow's `Choice` as the pool reads it."""

    @property
    def last(self) -> object | None: ...

    @property
    def failure(self) -> Failure | None: ...

    @property
    def skip(self) -> frozenset[str]: ...


class PoolCall:
    """Chooses the target of every attempt of one call (the call flow's chooser) and learns from each outcome."""

    __slots__ = (
        "_avoid",
        "_broke",
        "_failed",
        "_judged",
        "_picks",
        "_pool",
        "_prefer",
        "_prev",
        "_prev_failure",
        "_sticky",
        "_verdict",
        "model",
        "session",
    )

    def __init__(self, pool: Pool, model: str | None, session: str | None) -> None:
        self._pool = pool
        self.model = model
        self.session = session
        self._failed: frozenset[str] = _NONE  # member keys that failed in this call in a way that moves on
        self._avoid: frozenset[str] = _NONE  # upstreams left for the rest of this call
        self._prefer: str | None = None  # after a 429: another key of this upstream first
        self._sticky: str | None = None  # the session's member key when the call started ("" : none)
        self._broke = ""  # why the session's member was not chosen
        self._picks = 0
        self._prev: Member | None = None  # the member of the last recorded attempt, and its failure
        self._prev_failure: Failure | None = None
        self._judged: tuple[str, int] | None = None  # the (member, failure) judged last ...
        self._verdict = False  # ... and whether it moved the call on

    # --- the call flow's chooser interface ---------------------------------------------------------------------
    def choose(self, choice: _ChoiceLike) -> Member | None:
        """The target of the next attempt, or None when none is usable (every member refused for this attempt)."""
        failure = choice.failure
        if failure is not None:
            last = self._member(choice.last)
            if last is not None:
                self._judge(last, failure)
        return self._pick(choice.skip)

    def failover(self, choice: _ChoiceLike) -> bool:
        """After a failed attempt: True when `choice.failure` moves the call on and another member can take it now."""
        last = self._member(choice.last)
        failure = choice.failure
        if last is None or failure is None or not self._judge(last, failure):
            return False
        return bool(self._fresh(self._usable(frozenset(), self._pool.clock())))

    def record(self, target: object, failure: Failure | None) -> None:
        """The outcome of the attempt sent to `target`: a success teaches the session's affinity."""
        if failure is None and self.session is None and self._prev is None:
            return  # the first attempt served, nothing to learn: the hot path
        member = self._member(target)
        if member is None:
            return
        prev, self._prev = self._prev, member
        if prev is not None and self._prev_failure is not None and prev.key != member.key:
            self._pool.hooks.on_failover(prev.upstream, member.upstream, str(self._prev_failure.kind))
        self._prev_failure = failure
        if failure is not None:
            self._judge(member, failure)
            return
        session = self.session
        if session is None:
            return
        pool = self._pool
        if not self._sticky:
            pool.hooks.on_affinity("new", "")
        elif member.key == self._sticky:
            pool.hooks.on_affinity("hit", "")
        else:
            pool.hooks.on_affinity("break", self._broke or "rebalanced")
        pool.state.set_session_target(session, member.key, pool.clock())

    # --- inside ----------------------------------------------------------------------------------------------------
    def _member(self, target: object | None) -> Member | None:
        key = getattr(target, "key", None)
        return self._pool.by_key.get(key) if isinstance(key, str) else None

    def _judge(self, member: Member, failure: Failure) -> bool:
        """Learn from `member`'s failure once per attempt; True when it moves the next attempt elsewhere."""
        judged = (member.key, id(failure))
        if judged == self._judged:
            return self._verdict
        self._judged = judged
        self._verdict = self._learn(member, failure)
        return self._verdict

    def _learn(self, member: Member, failure: Failure) -> bool:
        pool = self._pool
        reason = failover_reason(failure, held=member.held)
        if reason is None:
            return False
        if reason == "key":
            pool.take_out(member, failure)
        elif reason == "rate_limit":
            now = pool.clock()
            others = [m for m in pool._keys_of[member.upstream] if m.key != member.key and not pool.is_out(m, now)]
            wait = failure.retry_after
            if not others and (wait is None or wait <= pool.max_retry_after):
                return False  # the one key of this upstream: waiting for it is the flow's ordinary retry
            if others:
                self._prefer = member.upstream
            else:
                self._avoid |= {member.upstream}
        else:
            self._avoid |= {member.upstream}
            if self._prefer == member.upstream:
                self._prefer = None
        self._failed |= {member.key}
        if self._sticky == member.key and not self._broke:
            self._broke = "failed" if reason != "key" else "key_out"
        return True

    def _usable(self, skip: frozenset[str], now: float) -> list[Member]:
        pool = self._pool
        outs = pool.state.keys_out(now)
        model = self.model if pool._any_models else None
        if not skip and not outs and model is None:
            return list(pool.members)
        return [
            m
            for m in pool.members
            if m.key not in skip and (model is None or m.serves(model)) and not (m.held and m.key in outs)
        ]

    def _fresh(self, usable: Iterable[Member]) -> list[Member]:
        if not self._failed and not self._avoid:
            return usable if isinstance(usable, list) else list(usable)
        return [m for m in usable if m.key not in self._failed and m.upstream not in self._avoid]

    def _pick(self, skip: frozenset[str]) -> Member | None:
        pool = self._pool
        now = pool.clock()
        if (
            self._picks == 0
            and not skip
            and self.session is None
            and pool._top_upstreams == 1
            and (self.model is None or not pool._any_models)
            and not pool.state.keys_out(now)
        ):
            # the common first choice: one upstream at the top, nothing out, no session to honour
            self._picks = 1
            top = pool._top
            return top[0] if len(top) == 1 else roomiest(top, pool.health.ratelimit_left, pool._turn)
        usable = self._usable(skip, now)
        if not usable:
            # every key that serves the model is out: send with the one back soonest, so the caller gets the
            # upstream's own answer (a 401 says more than "no upstream")
            outs = [m for m in pool.members if m.key not in skip and m.serves(self.model)]
            if not outs:
                return None
            self._picks += 1
            return min(outs, key=lambda m: self._back_at(m, now))
        self._picks += 1
        fresh = self._fresh(usable)
        sticky = self._sticky_member(usable, fresh, skip, now)
        if sticky is not None:
            return sticky
        candidates = fresh or usable  # all tried: start over from the top (the flow has backed off)
        if self._prefer is not None:
            same = [m for m in candidates if m.upstream == self._prefer]
            candidates = same or candidates
        tier = candidates[0].priority  # members are sorted by priority
        candidates = [m for m in candidates if m.priority == tier]
        upstream = candidates[0].upstream
        if any(m.upstream != upstream for m in candidates):
            upstream = weighted_upstream(candidates, pool.rng)
            candidates = [m for m in candidates if m.upstream == upstream]
        if len(candidates) == 1:
            return candidates[0]
        return roomiest(candidates, pool.health.ratelimit_left, pool._turn)

    def _back_at(self, member: Member, now: float) -> float:
        out = self._pool.state.key_out(member.key, now)
        return out.until if out is not None else now

    def _sticky_member(
        self, usable: list[Member], fresh: list[Member], skip: frozenset[str], now: float
    ) -> Member | None:
        session = self.session
        if session is None:
            return None
        pool = self._pool
        if self._sticky is None:
            self._sticky = pool.state.session_target(session, now) or ""
        key = self._sticky
        if not key:
            return None
        if any(m.key == key for m in fresh):
            return pool.by_key[key]
        if not self._broke:
            member = pool.by_key.get(key)
            if member is None:
                self._broke = "gone"
            elif not member.serves(self.model):
                self._broke = "model"
            elif member.held and pool.state.key_out(key, now) is not None:
                self._broke = "key_out"
            elif key in skip:
                self._broke = "unhealthy"
            else:
                self._broke = "failed"
        return None


_NONE: frozenset[str] = frozenset()


T = TypeVar("T")


class PoolChooser(PoolCall, Generic[T]):
    """A `PoolCall` as the call flow's chooser of a driver's own targets: `targets` maps member keys to them.

    The gateway's targets carry a connection pool and a credential, the client's a base URL and a key; the pool
    only knows members, and reads any target back by its `key`.
    """

    __slots__ = ("_targets",)

    def __init__(self, pool: Pool, targets: Mapping[str, T], *, model: str | None = None, session: str | None = None):
        super().__init__(pool, model, session or None)
        self._targets = targets

    def choose(self, choice: _ChoiceLike) -> T | None:  # type: ignore[override]
        """The target of the member the pool chooses, or None."""
        member = PoolCall.choose(self, choice)
        return self._targets[member.key] if member is not None else None
