"""Test helpers for suites that talk to Claude: run the claudewire simulator on 127.0.0.1:0 for a block of code.

    from claudewire.testing import run_sim

    with run_sim(faults=["529:1.0,count=2"], seed=1) as sim:
        client = anthropic.Anthropic(base_url=sim.base_url, api_key="test")
        ...                                   # sim.stats.total, sim.requests, sim.set_faults([...])

`run_sim` serves from a background thread (for sync and async clients alike); `run_sim_async` serves from the
running event loop (async clients only: a sync call from that loop would block the server).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Iterator
from typing import Any

from claudewire.sim import SimConfig, SimServer, SimThread

__all__ = ["run_sim", "run_sim_async"]


def _config(config: SimConfig | None, overrides: dict[str, Any]) -> SimConfig:
    base = config or SimConfig(port=0)
    if config is None and "port" not in overrides:
        overrides = {**overrides, "port": 0}
    if "faults" in overrides:
        overrides["faults"] = tuple(overrides["faults"])
    return dataclasses.replace(base, **overrides) if overrides else base


@contextlib.contextmanager
def run_sim(config: SimConfig | None = None, **overrides: Any) -> Iterator[SimServer]:
    """Run the simulator in a background thread (127.0.0.1, a free port unless `config` says otherwise).

    Yields the `SimServer`: `.base_url`, `.ca_path` (with ``tls=True``), `.set_faults([...])`,
    `.set_profile(name)`, `.stats` (with `.reset()`) and `.requests`. `overrides` are `SimConfig` fields.
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
