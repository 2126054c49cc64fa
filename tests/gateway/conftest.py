"""Fixtures for the gateway tests: a gateway in a thread in front of the simulator or a scripted upstream."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from claudewire.gateway import GatewayConfig, GatewayThread
from claudewire.gateway.upstreams import name_for_url
from claudewire.policy import Policy, RetryBudget
from claudewire.testing import FastClock

ROOMY = Policy(retry_budget=RetryBudget(min_retries=1000))
"""The default policy with a roomy retry budget (a test's many calls share one gateway's budget)."""


def target_key(url: str) -> str:
    """The metric label of the one key of an upstream given by URL: its name (from the host) and ``#0``."""
    return name_for_url(url) + "#0"


@contextlib.contextmanager
def run_gateway(upstream: str, clock: FastClock | None = None, **overrides: Any) -> Iterator[GatewayThread]:
    """A gateway on 127.0.0.1:0 in front of `upstream` on the fast policy's clock (`clock`, or a new FastClock:
    the policy's decisions, no real sleeps); `overrides` are `GatewayConfig` fields."""
    overrides.setdefault("policy", ROOMY)
    overrides.setdefault("access_log", None)
    config = GatewayConfig(upstream=upstream, port=0, **overrides)
    with GatewayThread(config, clock=clock or FastClock()) as gw:
        yield gw


@pytest.fixture
def access_log(tmp_path: Path) -> Path:
    """A file the gateway under test appends its access log to."""
    return tmp_path / "access.log"


Route = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Upstream:
    """An aiohttp server on 127.0.0.1:0 in a background thread, answering with the test's own handler.

    For what the simulator has no fault for: exact bytes, a stream that goes silent after a delta, an endless stream.
    `events` records what happened on the server side ("disconnected" when a write failed because the gateway
    closed the connection).
    """

    def __init__(self, handler: Route) -> None:
        self.handler = handler
        self.events: list[str] = []
        self.hits = 0
        self.base_url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, daemon=True)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.hits += 1
        return await self.handler(request)

    def _main(self) -> None:
        loop = self._loop = asyncio.new_event_loop()

        async def start() -> None:
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", self._handle)
            self._runner = web.AppRunner(app, shutdown_timeout=0.2)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            port = self._runner.addresses[0][1]
            self.base_url = f"http://127.0.0.1:{port}"
            self._ready.set()

        loop.run_until_complete(start())
        loop.run_forever()
        assert self._runner is not None
        loop.run_until_complete(self._runner.cleanup())
        loop.close()

    def __enter__(self) -> Upstream:
        self._thread.start()
        assert self._ready.wait(10), "scripted upstream did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
