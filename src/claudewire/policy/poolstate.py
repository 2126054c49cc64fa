"""Where an upstream pool keeps what it learns: keys taken out, and which upstream+key serves each session.

`PoolState` is the one interface; `MemoryPoolState` (one process) is the default. A shared backend (Redis, for
several gateway replicas) implements the same few methods on plain values: member keys are ``name#index`` labels and
times come from the pool's clock, so nothing secret or process-specific is stored. Breakers and rate-limit trackers
are not here: they live in the policy engine, per target key.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

__all__ = ["KeyOut", "MemoryPoolState", "PoolState"]


@dataclass(frozen=True, slots=True)
class KeyOut:
    """A key taken out of rotation until `until` (pool clock), and why (``HTTP 401 auth``)."""

    until: float
    reason: str


class PoolState(Protocol):
    """The pool's mutable state. Every method is short, never blocks on I/O for long, and is safe across threads."""

    def key_out(self, key: str, now: float) -> KeyOut | None:
        """The out record of `key` if it is still out at `now` (an expired one is forgotten)."""
        ...

    def keys_out(self, now: float) -> Mapping[str, KeyOut]:
        """Every key still out at `now` (read once per choice: usually empty)."""
        ...

    def take_out(self, key: str, out: KeyOut) -> None:
        """Take `key` out of rotation (a later call replaces an earlier one)."""
        ...

    def session_target(self, session: str, now: float) -> str | None:
        """The member key serving `session`, if it was seen within the TTL; refreshes its TTL."""
        ...

    def set_session_target(self, session: str, key: str, now: float) -> None:
        """Remember that `key` served `session` at `now`."""
        ...


class MemoryPoolState:
    """`PoolState` in this process: an LRU map of at most `max_sessions` sessions, each forgotten `ttl` seconds after
    its last request, and the keys taken out."""

    __slots__ = ("_lock", "_outs", "_sessions", "max_sessions", "ttl")

    def __init__(self, *, ttl: float = 3600.0, max_sessions: int = 10000) -> None:
        if ttl <= 0 or max_sessions < 0:
            raise ValueError("MemoryPoolState needs ttl > 0 and max_sessions >= 0")
        self.ttl = ttl
        self.max_sessions = max_sessions
        self._lock = threading.Lock()
        self._outs: dict[str, KeyOut] = {}
        self._sessions: collections.OrderedDict[str, tuple[str, float]] = collections.OrderedDict()

    def key_out(self, key: str, now: float) -> KeyOut | None:
        """See `PoolState.key_out`."""
        out = self._outs.get(key)
        if out is None:
            return None
        if now >= out.until:
            self.keys_out(now)
            return None
        return out

    def keys_out(self, now: float) -> Mapping[str, KeyOut]:
        """See `PoolState.keys_out`."""
        outs = self._outs
        if not outs:
            return outs
        if any(now >= out.until for out in outs.values()):
            with self._lock:
                self._outs = {k: out for k, out in self._outs.items() if now < out.until}
        return self._outs

    def take_out(self, key: str, out: KeyOut) -> None:
        """See `PoolState.take_out`."""
        with self._lock:
            self._outs = {**self._outs, key: out}  # copied, never mutated: readers hold a consistent snapshot

    def session_target(self, session: str, now: float) -> str | None:
        """See `PoolState.session_target`."""
        with self._lock:
            entry = self._sessions.get(session)
            if entry is None:
                return None
            key, seen = entry
            if now - seen >= self.ttl:
                del self._sessions[session]
                return None
            self._sessions[session] = (key, now)
            self._sessions.move_to_end(session)
            return key

    def set_session_target(self, session: str, key: str, now: float) -> None:
        """See `PoolState.set_session_target`; the least recently seen session goes when the map is full."""
        if self.max_sessions == 0:
            return
        with self._lock:
            self._sessions[session] = (key, now)
            self._sessions.move_to_end(session)
            while len(self._sessions) > self.max_sessions:
                self._sessions.popitem(last=False)
            # expired sessions at the old end go too, so an idle map does not keep them until it fills
            while self._sessions:
                oldest = next(iter(self._sessions.values()))
                if now - oldest[1] < self.ttl:
                    break
                self._sessions.popitem(last=False)

    def __len__(self) -> int:
        """Sessions remembered now."""
        return len(self._sessions)
