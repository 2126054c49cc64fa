"""A small key-value store with expiry, in this process: what sign-in keeps (device grants, refresh tokens,
revocations, signing keys) when the state is in memory. Keys expire on the wall clock; expired entries are swept
as writes come, and the store refuses new keys past `max_keys` (sign-in is rate-limited; this is the backstop)."""

from __future__ import annotations

import heapq
import time

from claudewire.state.base import Clock, StateUnavailableError

__all__ = ["MemoryKV"]


class MemoryKV:
    """Values with a time to live; `take` reads and deletes in one step (one event loop: nothing interleaves)."""

    def __init__(self, *, wall: Clock = time.time, max_keys: int = 100_000) -> None:
        self.wall = wall
        self.max_keys = max_keys
        self._values: dict[str, tuple[bytes, float]] = {}
        self._expiry: list[tuple[float, str]] = []  # (expires at, key): a heap, swept on writes

    def _sweep(self, now: float) -> None:
        heap = self._expiry
        while heap and heap[0][0] <= now:
            _, key = heapq.heappop(heap)
            held = self._values.get(key)
            if held is not None and held[1] <= now:
                del self._values[key]

    def _live(self, key: str) -> bytes | None:
        held = self._values.get(key)
        if held is None:
            return None
        if held[1] <= self.wall():
            del self._values[key]
            return None
        return held[0]

    def put(self, key: str, value: bytes, ttl: float, *, only_new: bool = False) -> bool:
        """Store `value` under `key` for `ttl` seconds; with `only_new`, only if `key` holds nothing (True: stored)."""
        now = self.wall()
        self._sweep(now)
        if only_new and self._live(key) is not None:
            return False
        if key not in self._values and len(self._values) >= self.max_keys:
            raise StateUnavailableError(f"the in-memory store holds {self.max_keys} keys already")
        at = now + max(ttl, 0.001)
        self._values[key] = (value, at)
        heapq.heappush(self._expiry, (at, key))
        return True

    def get(self, key: str) -> bytes | None:
        """The value under `key`, or None (none, or expired)."""
        return self._live(key)

    def take(self, key: str) -> bytes | None:
        """The value under `key`, removed: of two takers, one gets it and the other None."""
        value = self._live(key)
        if value is not None:
            del self._values[key]
        return value
