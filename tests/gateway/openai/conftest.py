"""Fixtures for the OpenAI-compatible ingress: the simulator behind a gateway with advertised model names."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import aiohttp
import openai
from aiohttp import web

from claudewire.gateway import GatewayThread
from claudewire.gateway.openai.settings import OpenAISettings
from claudewire.sim import SimServer
from claudewire.testing import run_sim
from tests.conftest import SIM_KEY
from tests.gateway.conftest import Upstream, run_gateway

ALIASES = {"cw-haiku": "claude-haiku-4-5", "cw-sonnet": "claude-sonnet-5-5", "cw-opus": "claude-opus-5-5"}
"""The advertised names every gateway of these tests has."""

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
"""One Chat Completions function tool."""


@contextlib.contextmanager
def ingress(**sim: Any) -> Iterator[tuple[SimServer, GatewayThread]]:
    """The simulator (`sim` are its options) behind a gateway on 127.0.0.1 with the `ALIASES`."""
    overrides = sim.pop("gateway", {})
    overrides.setdefault("openai", OpenAISettings(models=ALIASES))
    with run_sim(seed=0, **sim) as server, run_gateway(server.base_url, **overrides) as gw:
        yield server, gw


def client(gw: GatewayThread, **kw: Any) -> openai.OpenAI:
    """The official OpenAI client at ``<gateway>/v1`` with the caller's Anthropic key."""
    kw.setdefault("api_key", SIM_KEY)
    kw.setdefault("max_retries", 0)
    return openai.OpenAI(base_url=gw.base_url + "/v1", **kw)


class Tap:
    """An HTTP hop between the gateway and the simulator that keeps every request body it passes (JSON-decoded).

    The simulator records heads only; this shows what the translated request really was.
    """

    def __init__(self, sim: SimServer) -> None:
        self.sim = sim
        self.target = sim.base_url
        self.bodies: list[Any] = []
        self.server = Upstream(self._handle)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.bodies.append(json.loads(body) if body else None)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        async with (
            aiohttp.ClientSession() as session,
            session.request(request.method, self.target + request.path_qs, headers=headers, data=body) as upstream,
        ):
            answer = web.StreamResponse(
                status=upstream.status,
                headers={k: v for k, v in upstream.headers.items() if k.lower() not in _HOP},
            )
            await answer.prepare(request)
            async for chunk in upstream.content.iter_any():
                await answer.write(chunk)
            await answer.write_eof()
            return answer

    def __enter__(self) -> Tap:
        self.server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.__exit__(*exc)

    @property
    def base_url(self) -> str:
        """Where the gateway sends."""
        return self.server.base_url


_HOP = frozenset({"host", "content-length", "transfer-encoding", "connection", "content-encoding"})


@contextlib.contextmanager
def tapped(**sim: Any) -> Iterator[tuple[Tap, GatewayThread]]:
    """`ingress`, with a `Tap` between the gateway and the simulator."""
    overrides = sim.pop("gateway", {})
    overrides.setdefault("openai", OpenAISettings(models=ALIASES))
    with run_sim(seed=0, **sim) as server, Tap(server) as tap, run_gateway(tap.base_url, **overrides) as gw:
        yield tap, gw
