"""Test helpers for suites that talk to Claude: run the claudewire simulator on 127.0.0.1:0 for a block of code.

    from claudewire.testing import run_sim

    with run_sim(faults=["529:1.0,count=2"], seed=1) as sim:
        client = anthropic.Anthropic(base_url=sim.base_url, api_key="test")
        ...                                   # sim.stats.total, sim.requests, sim.set_faults([...])

`run_sim` serves from a background thread (for sync and async clients alike); `run_sim_async` serves from the
running event loop (async clients only: a sync call from that loop would block the server).

The fast policy: pass ``clock=FastClock()`` to `claudewire.Anthropic` / `AsyncAnthropic` (or to the gateway's
`Gateway` / `GatewayThread`) and every wait the policy asks for (backoff, retry-after, rate-limit holds) is skipped
while the policy sees the time it would have seen: the same decisions as in production, with no real sleeps, and
no hand-tuned millisecond backoffs that test something else than what ships::

    clock = FastClock()
    client = claudewire.Anthropic(base_url=sim.base_url, api_key="test", clock=clock)
    ...                                   # clock.waits == [0.61, 1.42]: the backoffs the policy chose
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from claudewire._clock import Clock
from claudewire.sim import SimConfig, SimServer, SimThread, ToolCall

__all__ = ["FastClock", "ToolCall", "run_sim", "run_sim_async"]


class FastClock(Clock):
    """The fast policy's clock: real monotonic time plus every wait skipped so far; waiting takes no time.

    `waits` lists each wait asked for, in order; `skipped` is their sum. Thread-safe (a client may be shared).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.skipped = 0.0
        self.waits: list[float] = []

    def now(self) -> float:
        """Monotonic seconds, including the waits skipped."""
        return time.monotonic() + self.skipped

    def wall(self) -> float:
        """Wall-clock seconds, including the waits skipped (an HTTP-date retry-after is read against it)."""
        return time.time() + self.skipped

    def sleep(self, delay: float) -> None:
        """Record the wait and move time on by `delay` without blocking."""
        with self._lock:
            self.waits.append(delay)
            self.skipped += max(0.0, delay)

    async def asleep(self, delay: float) -> None:
        """Record the wait, move time on, and yield to the event loop once."""
        self.sleep(delay)
        await asyncio.sleep(0)


def _config(config: SimConfig | None, overrides: dict[str, Any]) -> SimConfig:
    base = config or SimConfig(port=0)
    if config is None and "port" not in overrides:
        overrides = {**overrides, "port": 0}
    for name in ("faults", "replies"):
        if name in overrides and not isinstance(overrides[name], str | ToolCall):
            overrides[name] = tuple(overrides[name])
    return dataclasses.replace(base, **overrides) if overrides else base


@contextlib.contextmanager
def run_sim(config: SimConfig | None = None, **overrides: Any) -> Iterator[SimServer]:
    """Run the simulator in a background thread (127.0.0.1, a free port unless `config` says otherwise).

    Yields the `SimServer`: `.base_url`, `.ca_path` (with ``tls=True``), `.set_faults([...])`,
    `.set_profile(name)`, `.set_replies([...])`, `.stats` (with `.reset()`), `.requests` and `.files`.
    `overrides` are `SimConfig` fields, among them:

    replies: a sequence of scripted answers served in order, one per successful ``/v1/messages`` call (JSON and
        streamed alike, every dialect); each is a ``str`` (a text answer, ``end_turn``, one token per word, cut at
        the request's max_tokens) or ``ToolCall(name, input)`` (a ``tool_use`` block, ``stop_reason: "tool_use"``).
        A refused request (fault, 400, 429) consumes none; once they run out the simulator answers unscripted (a
        text reply, or a call of an offered tool on a fresh turn). ``run_sim(replies=[ToolCall("get_weather",
        {"city": "Paris"}), "Sunny."])`` scripts one agent round trip.
    batch_delay: seconds a Message Batch stays ``in_progress`` (default 0: it has ended once created).
    storage: a `StorageLimits` capping the in-memory batches and files.
    """
    thread = SimThread(_config(config, overrides))
    thread.start()
    try:
        yield thread.server
    finally:
        thread.stop()


@contextlib.asynccontextmanager
async def run_sim_async(config: SimConfig | None = None, **overrides: Any) -> AsyncIterator[SimServer]:
    """Run the simulator in the running event loop; same handle as `run_sim`."""
    server = SimServer(_config(config, overrides))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
