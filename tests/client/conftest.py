"""Fixtures for the client tests: a scripted upstream for answers the simulator has no fault for."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web


@dataclass
class Scripted:
    """An HTTP server on 127.0.0.1:0 answering from a list of (status, headers, body); the last one repeats."""

    answers: list[tuple[int, dict[str, str], dict[str, object]]]
    base_url: str = ""
    hits: int = 0
    seen_headers: list[dict[str, str]] = field(default_factory=list)


_OK = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-haiku-4-5",
    "content": [{"type": "text", "text": "hi"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 3, "output_tokens": 1},
}


def ok() -> tuple[int, dict[str, str], dict[str, object]]:
    """A successful messages answer."""
    return 200, {}, _OK


def error(status: int, kind: str, **headers: str) -> tuple[int, dict[str, str], dict[str, object]]:
    """An Anthropic-shaped error answer."""
    return status, headers, {"type": "error", "error": {"type": kind, "message": kind}}


@pytest.fixture
def scripted() -> Iterator[Scripted]:
    """A scripted upstream in a background thread; set `.answers` before calling it."""
    state = Scripted(answers=[ok()])
    loop = asyncio.new_event_loop()
    started = threading.Event()
    runner_box: list[web.AppRunner] = []

    async def handler(request: web.Request) -> web.Response:
        await request.read()
        state.seen_headers.append(dict(request.headers))
        index = min(state.hits, len(state.answers) - 1)
        state.hits += 1
        status, headers, body = state.answers[index]
        return web.Response(status=status, headers=headers, body=json.dumps(body), content_type="application/json")

    async def start() -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        state.base_url = f"http://127.0.0.1:{port}"
        runner_box.append(runner)
        started.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(start()), loop.run_forever()), daemon=True)
    thread.start()
    started.wait(5)
    try:
        yield state
    finally:
        asyncio.run_coroutine_threadsafe(runner_box[0].cleanup(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
