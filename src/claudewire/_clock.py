"""Time for the drivers of the call flow: what "now" is and how to wait. The system's unless a test injects one.

The policy core only reads a clock (`PolicyEngine(clock=..., wall=...)`); the drivers (the client, the gateway)
also wait, through the same object, so `claudewire.testing.FastClock` can skip every wait while the policy sees
exactly the time it would have seen.
"""

from __future__ import annotations

import asyncio
import time

__all__ = ["Clock"]


class Clock:
    """The system clock: `time.monotonic`, `time.time`, `time.sleep` and `asyncio.sleep`."""

    # The clocks themselves, not methods calling them: the policy reads `now` several times per call, and a
    # Python-level wrapper is a frame each time. `now`: monotonic seconds; `wall`: seconds since the epoch (for
    # HTTP-date headers). Subclasses (`claudewire.testing.FastClock`) override them with methods.
    now = staticmethod(time.monotonic)
    wall = staticmethod(time.time)

    def sleep(self, delay: float) -> None:
        """Block the thread for `delay` seconds."""
        time.sleep(delay)

    async def asleep(self, delay: float) -> None:
        """Wait `delay` seconds in the running event loop."""
        await asyncio.sleep(delay)
