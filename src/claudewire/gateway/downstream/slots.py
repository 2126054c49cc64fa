"""A cap on concurrent upstream requests with a bounded FIFO queue behind it."""

from __future__ import annotations

import asyncio

__all__ = ["Slots"]


class Slots:
    """At most `limit` upstream attempts at once, at most `queue` more waiting (FIFO); beyond that: refuse."""

    __slots__ = ("active", "limit", "queue", "waiters")

    def __init__(self, limit: int, queue: int) -> None:
        self.limit = limit
        self.queue = queue
        self.active = 0
        self.waiters: list[asyncio.Future[None]] = []

    async def acquire(self) -> bool:
        """Take a slot, waiting in line if needed; False at once when the line is full."""
        if self.active < self.limit and not self.waiters:
            self.active += 1
            return True
        if len(self.waiters) >= self.queue:
            return False
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiters.append(fut)
        try:
            await fut  # release() hands its slot over: `active` is unchanged
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.release()
            elif fut in self.waiters:
                self.waiters.remove(fut)
            raise
        return True

    def release(self) -> None:
        """Give the slot back (to the first in line, if any)."""
        while self.waiters:
            fut = self.waiters.pop(0)
            if not fut.done():
                fut.set_result(None)
                return
        self.active -= 1
