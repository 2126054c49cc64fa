"""The opt-in ``cache`` check: passes straight to the simulator, warns behind a proxy that changes one byte."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from aiohttp import web

from claudewire._errors import Failure, FailureKind
from claudewire.doctor import Status, run
from claudewire.doctor.api import Answer
from claudewire.doctor.cache import CacheProbe, check_cache
from claudewire.sim import SimServer
from tests.doctor.conftest import settings_for


class RewritingProxy:
    """A reverse proxy on 127.0.0.1 that changes one byte of every request body's system prompt, a different one
    each time (as a proxy stamping a counter or timestamp into the prompt would), and forwards the rest as is."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.count = itertools.count()
        self.port = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._main, daemon=True)

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        at = body.find(b"This paragraph")
        if at >= 0:  # "This" becomes "Ahis", "Bhis" ...: one byte, changed per request
            body = body[:at] + bytes([ord("A") + next(self.count) % 26]) + body[at + 1 :]
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        async with httpx2.AsyncClient(timeout=10) as client:
            answer = await client.request(
                request.method, self.upstream + request.path_qs, headers=headers, content=body
            )
        keep = {
            k: v for k, v in answer.headers.items() if k.lower() in ("content-type", "request-id") or "ratelimit" in k
        }
        return web.Response(status=answer.status_code, body=answer.content, headers=keep)

    def _main(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    def __enter__(self) -> RewritingProxy:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@pytest.fixture
def rewriting_proxy(sim: SimServer) -> Iterator[str]:
    """The base URL of a body-rewriting proxy in front of the simulator."""
    with RewritingProxy(sim.base_url) as proxy:
        yield f"http://127.0.0.1:{proxy.port}"


def test_cache_check_passes_straight_to_the_api(sim: SimServer) -> None:
    """Direct: the first request writes the cache, the repeat reads all of it; the check passes."""
    report = run(settings_for(sim.base_url, cache=True, timeout=5.0))
    result = report.get("cache")
    assert result.status is Status.PASS, result
    first, second = result.evidence["first"], result.evidence["second"]
    assert isinstance(first, dict) and isinstance(second, dict)
    assert first["cache_creation"] > 4096 and second["cache_read"] == first["cache_creation"]


def test_cache_check_warns_behind_a_proxy_that_changes_one_byte(rewriting_proxy: str) -> None:
    """Behind the rewriting proxy every request writes the cache and none reads it: a warning naming the proxy."""
    report = run(settings_for(rewriting_proxy, cache=True, timeout=5.0))
    result = report.get("cache")
    assert result.status is Status.WARN, result
    assert "written to the cache twice" in result.detail and "never read" in result.detail
    assert result.fix is not None and "proxy rewriting request bodies" in result.fix
    assert report.get("messages").status is Status.PASS  # everything else looks healthy: only the cache says it


def test_the_check_is_opt_in_and_no_spend_skips_it(sim: SimServer) -> None:
    """Without --cache the report has no cache row; with --no-spend it is skipped, spending nothing."""
    plain = run(settings_for(sim.base_url, spend=False))
    assert "cache" not in [c.id for c in plain.checks]
    skipped = run(settings_for(sim.base_url, spend=False, cache=True)).get("cache")
    assert skipped.status is Status.SKIP and "--no-spend" in skipped.detail


def _answer(**usage: int) -> Answer:
    class Usage:
        input_tokens = usage.get("input", 10)
        cache_creation_input_tokens = usage.get("creation", 0)
        cache_read_input_tokens = usage.get("read", 0)

    class Body:
        pass

    body: Any = Body()
    body.usage = Usage()
    return Answer(body, {"request-id": "req_1"})


def test_no_cache_tokens_at_all_warns_that_cache_control_had_no_effect() -> None:
    """Neither request reports cache tokens: the breakpoint was dropped on the way (or caching is unsupported)."""
    result = check_cache(CacheProbe(_answer(), _answer()))
    assert result.status is Status.WARN and "no cache tokens" in result.detail
    assert result.fix is not None and "drops cache_control" in result.fix


def test_a_partial_read_warns_and_a_failed_request_fails() -> None:
    """A repeat reading less than was written warns; a failed request fails with its own fix."""
    partial = check_cache(CacheProbe(_answer(creation=5000), _answer(read=1200, creation=3800)))
    assert partial.status is Status.WARN and "only 1,200 of the 5,000" in partial.detail
    failed = check_cache(CacheProbe(Answer(failure=Failure.of(FailureKind.OVERLOADED, status=529)), Answer()))
    assert failed.status is Status.FAIL and failed.fix
