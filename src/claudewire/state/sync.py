"""Policy state shared between replicas: breaker changes, rate-limit holds, keys taken out and session bindings.

`SharedPolicy` listens to the engine's breaker changes and rate-limit reports (it is a policy `Hooks`) and is the
pool's `PoolState`. When this process opens a breaker, closes one after a good probe, holds requests for an empty
``anthropic-ratelimit-*`` bucket, or takes a key out after a 401/403, it publishes the
event through the state backend (Redis pub/sub); every other process applies it to its own engine and pool at once,
so a replica that never saw the failure fails fast too, well within a second. Decisions stay local and sans-IO:
nothing on the request path waits for Redis, and an event lost while Redis is away only means that replica learns
for itself, as it would without Redis. Events carry durations, not clock readings, so clocks need not agree.

Session affinity is shared through the store itself (expiring keys), so a session load-balanced over replicas
keeps one upstream+key: the gateway reads the session's binding on the way in (`fetch_session`, in the request's
one round trip) into the local map the pool chooses from, and writes a binding made or changed (`store_bindings`)
before the answer goes back, so the session's next request, wherever it lands, finds it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import socket
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from claudewire.policy import BreakerState, Hooks
from claudewire.policy.poolstate import KeyOut, MemoryPoolState

__all__ = ["Adopter", "SessionStore", "SharedPolicy"]

_log = logging.getLogger(__name__)


class Adopter(Protocol):
    """What the sync needs of the policy engine (`PolicyEngine` has these)."""

    clock: Callable[[], float]

    def adopt_breaker(self, key: str, open_for: float | None) -> None:
        """Open a breaker for `open_for` more seconds, or close it (None)."""
        ...

    def breaker_retry_in(self, upstream: str) -> float:
        """Seconds until an open breaker admits a probe."""
        ...

    def ratelimit_hold(self, key: str) -> float:
        """Seconds new requests to `key` are held for an empty rate-limit bucket."""
        ...

    def adopt_hold(self, key: str, seconds: float) -> None:
        """Hold new requests to `key` for `seconds`."""
        ...


class SessionStore(Protocol):
    """Where session bindings are shared (`StateBackend` has these); both calls are bounded and never raise."""

    async def session_get(self, session: str, ttl: float) -> str | None:
        """The member key bound to `session` (TTL refreshed), or None."""
        ...

    async def session_set(self, session: str, key: str, ttl: float) -> None:
        """Bind `session` to `key` for `ttl` seconds."""
        ...


class SharedPolicy(Hooks):
    """Publishes this process's breaker and key-out events and applies everyone else's; see the module docstring.

    `publish(bytes)` sends an event to the other replicas (never blocks); wire `receive` to what they send.
    """

    def __init__(
        self,
        publish: Callable[[bytes], None],
        *,
        ttl: float = 3600.0,
        max_sessions: int = 10000,
        sessions: SessionStore | None = None,
    ) -> None:
        self.publish = publish
        self.local = MemoryPoolState(ttl=ttl, max_sessions=max_sessions)
        self.ttl = ttl
        self.sessions = sessions  # None: bindings stay in this process
        self.bindings: list[tuple[str, str]] = []  # made or changed here, not yet written to `sessions`
        self._unshared: dict[str, None] = {}  # sessions the store did not know when asked (bounded)
        self.engine: Adopter | None = None
        self.origin = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._applying = False
        self._held: dict[str, float] = {}  # key -> until (engine clock) of the last hold we told the others
        self.received = 0

    def bind(self, engine: Adopter) -> None:
        """The engine whose breakers this sync shares (it must have this object among its hooks)."""
        self.engine = engine

    def _send(self, event: dict[str, Any]) -> None:
        event["o"] = self.origin
        self.publish(json.dumps(event, separators=(",", ":")).encode())

    # --- the engine's breaker changes ------------------------------------------------------------------------------
    def on_breaker_change(self, upstream: str, old: BreakerState, new: BreakerState) -> None:
        """Tell the others when a breaker opens (with its cooldown left) or closes; half-open stays local."""
        if self._applying or self.engine is None:
            return
        if new is BreakerState.OPEN:
            self._send({"t": "breaker", "k": upstream, "for": self.engine.breaker_retry_in(upstream)})
        elif new is BreakerState.CLOSED:
            self._send({"t": "breaker", "k": upstream, "for": None})

    def on_ratelimit(self, upstream: str, family: str, remaining: float) -> None:
        """An empty bucket made the engine hold `upstream`: tell the others how long (once per hold)."""
        if remaining >= 1 or self._applying or self.engine is None:
            return
        hold = self.engine.ratelimit_hold(upstream)
        until = self.engine.clock() + hold
        if hold <= 0 or until <= self._held.get(upstream, 0.0) + 0.1:
            return
        if len(self._held) > 1024:  # bounded: keys are configuration, but never let it grow
            self._held.clear()
        self._held[upstream] = until
        self._send({"t": "hold", "k": upstream, "for": hold})

    # --- the pool's state --------------------------------------------------------------------------------------------
    def key_out(self, key: str, now: float) -> KeyOut | None:
        """See `PoolState.key_out`."""
        return self.local.key_out(key, now)

    def keys_out(self, now: float) -> Mapping[str, KeyOut]:
        """See `PoolState.keys_out`."""
        return self.local.keys_out(now)

    def take_out(self, key: str, out: KeyOut) -> None:
        """Take `key` out here and in every other replica."""
        self.local.take_out(key, out)
        if not self._applying and self.engine is not None:
            self._send({"t": "out", "k": key, "for": max(0.0, out.until - self.engine.clock()), "r": out.reason})

    def session_target(self, session: str, now: float) -> str | None:
        """See `PoolState.session_target` (the local map, which `fetch_session` filled from the store)."""
        return self.local.session_target(session, now)

    def set_session_target(self, session: str, key: str, now: float) -> None:
        """See `PoolState.set_session_target`; a binding new or changed here is queued for `store_bindings`."""
        before = self.local.session_target(session, now) if self.sessions is not None else key
        self.local.set_session_target(session, key, now)
        unshared = session in self._unshared
        if unshared:
            del self._unshared[session]
        if before != key or unshared:
            self.bindings.append((session, key))

    async def fetch_session(self, session: str) -> None:
        """Read `session`'s binding from the store into the local map (the store's binding wins)."""
        if self.sessions is None or self.engine is None:
            return
        key = await self.sessions.session_get(session, self.ttl)
        now = self.engine.clock()
        if key is not None:
            self.local.set_session_target(session, key, now)
        else:  # unknown there (expired, never written, Redis restarted or slow): what serves it gets written
            if len(self._unshared) >= 1024:
                self._unshared.clear()
            self._unshared[session] = None

    async def store_bindings(self) -> None:
        """Write the bindings made or changed since the last call (one pipelined round trip, bounded)."""
        bindings, self.bindings = self.bindings, []
        if self.sessions is not None and bindings:
            store = self.sessions
            await asyncio.gather(*(store.session_set(s, k, self.ttl) for s, k in dict(bindings).items()))

    # --- what the others say -----------------------------------------------------------------------------------------
    def receive(self, raw: bytes) -> None:
        """Apply one event from another replica (our own and malformed ones are ignored)."""
        try:
            event = json.loads(raw)
            if not isinstance(event, dict) or event.get("o") == self.origin or self.engine is None:
                return
            kind, key, span = event.get("t"), str(event.get("k", ""))[:200], event.get("for")
            if span is not None and not (isinstance(span, int | float) and 0 <= span <= 86400):
                return
        except ValueError:
            return
        self._applying = True
        try:
            if kind == "breaker":
                self.engine.adopt_breaker(key, None if span is None else float(span))
            elif kind == "hold" and span is not None:
                self.engine.adopt_hold(key, float(span))
            elif kind == "out" and span is not None:
                reason = f"{str(event.get('r', ''))[:100]} (seen by another replica)"
                self.local.take_out(key, KeyOut(self.engine.clock() + float(span), reason))
            else:
                return
            self.received += 1
            _log.info("shared state: %s %s from another replica", kind, key)
        finally:
            self._applying = False
