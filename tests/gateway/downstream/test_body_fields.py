"""The gateway reads a request's model and stream from the body's top level only: a tool input that says
``"stream": true`` or names a ``"model"`` changes neither the timeouts applied nor the upstream chosen."""

from __future__ import annotations

import asyncio
import json

import httpx2
from aiohttp import web

from claudewire.gateway.upstream.specs import UpstreamSpec
from claudewire.policy import Policy
from claudewire.testing import run_sim
from tests.conftest import SIM_KEY, SIM_MODEL
from tests.gateway.conftest import Upstream, run_gateway
from tests.gateway.test_failover import pool_gateway

OPUS = "claude-opus-4-5"
HEADERS = {"x-api-key": SIM_KEY, "anthropic-version": "2023-06-01", "content-type": "application/json"}


def _history(tool_input: dict[str, object]) -> list[dict[str, object]]:
    return [
        {"role": "user", "content": "pick one"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "pick", "input": tool_input}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "done"}]},
    ]


def test_a_tool_input_saying_stream_true_does_not_make_a_call_a_stream() -> None:
    """A JSON call whose history holds `"stream": true` gets the JSON timeouts: a slow answer is not a 504."""
    hits: list[bool] = []

    async def handler(request: web.Request) -> web.Response:
        body = await request.json()
        hits.append(bool(body.get("stream")))
        await asyncio.sleep(0.6)  # past first_byte_timeout, well within read_timeout
        message = {
            "type": "message",
            "model": SIM_MODEL,
            "content": [],
            "usage": {"input_tokens": 1, "output_tokens": 1},
        }
        return web.json_response(message)

    body = {"max_tokens": 8, "messages": _history({"stream": True, "query": "x"}), "model": SIM_MODEL}
    with (
        Upstream(handler) as up,
        run_gateway(up.base_url, first_byte_timeout=0.2, policy=Policy(max_retries=0)) as gw,
    ):
        response = httpx2.post(gw.base_url + "/v1/messages", content=json.dumps(body), headers=HEADERS, timeout=10)
    assert response.status_code == 200, response.text
    assert hits == [False]  # one generation, billed once


def test_a_model_key_in_a_tool_input_does_not_route_the_call() -> None:
    """Calls for opus whose history names haiku inside a tool input go to the opus upstream, all of them."""
    body = {"max_tokens": 8, "messages": _history({"model": SIM_MODEL}), "model": OPUS}
    with run_sim(seed=0) as opus, run_sim(seed=0) as haiku:
        specs = (
            UpstreamSpec("opus", opus.base_url, models=(OPUS,)),
            UpstreamSpec("haiku", haiku.base_url, models=(SIM_MODEL,)),
        )
        with pool_gateway(*specs) as gw:
            answers = [
                httpx2.post(gw.base_url + "/v1/messages", content=json.dumps(body), headers=HEADERS, timeout=10)
                for _ in range(5)
            ]
    assert [a.status_code for a in answers] == [200] * 5, answers[0].text
    assert (opus.stats.total, haiku.stats.total) == (5, 0)
