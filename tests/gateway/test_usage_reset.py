"""A named client's tokens are settled from what the upstream produced, whatever the client did to its connection."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import struct
import time

import httpx2
from aiohttp import web

from claudewire.gateway.downstream.clients import ClientSpec
from tests.conftest import SIM_MODEL
from tests.gateway.conftest import Upstream, address, run_gateway

UPSTREAM_KEY = "sk-ant-api03-upstream-secret-0000000000"
CI_TOKEN = "cw-ci-bot-token-0123456789"
INPUT, OUTPUT = 10, 300  # what the scripted upstream says it read and produced
BODY = json.dumps(
    {"model": SIM_MODEL, "max_tokens": 400, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
).encode()


def _sse(name: str, data: dict[str, object]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


async def _slow_end(request: web.Request) -> web.StreamResponse:
    """A stream whose final usage (message_delta) comes 0.5 s after its content_block_stop."""
    await request.read()
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await response.prepare(request)
    message = {"id": "msg_1", "type": "message", "role": "assistant", "model": SIM_MODEL, "content": []}
    start = {"type": "message_start", "message": message | {"usage": {"input_tokens": INPUT, "output_tokens": 1}}}
    await response.write(_sse("message_start", start))
    block = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    await response.write(_sse("content_block_start", block))
    delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "hello"}}
    await response.write(_sse("content_block_delta", delta))
    await response.write(_sse("content_block_stop", {"type": "content_block_stop", "index": 0}))
    await asyncio.sleep(0.5)
    end = {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": OUTPUT}}
    await response.write(_sse("message_delta", end))
    await response.write(_sse("message_stop", {"type": "message_stop"}))
    return response


def _read_then_reset(host: str, port: int) -> int:
    """Send a streaming request, read until content_block_stop, then close with SO_LINGER 0 (a TCP RST).
    The status of the answer."""
    head = (
        f"POST /v1/messages HTTP/1.1\r\nhost: {host}\r\nx-api-key: {CI_TOKEN}\r\n"
        f"anthropic-version: 2023-06-01\r\ncontent-type: application/json\r\ncontent-length: {len(BODY)}\r\n\r\n"
    ).encode()
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(head + BODY)
        seen = b""
        while b"content_block_stop" not in seen and b"\r\n\r\n0\r\n" not in seen:
            chunk = sock.recv(65536)
            if not chunk:
                break
            seen += chunk
            if seen.startswith(b"HTTP/1.1 4"):
                break
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    return int(seen.split(b" ", 2)[1])


def _counted(base_url: str) -> float:
    text = httpx2.get(base_url + "/metrics", headers={"x-api-key": CI_TOKEN}).text
    m = re.search(r'^claudewire_client_tokens_total\{client="ci-bot"\} (\S+)$', text, re.M)
    return float(m.group(1)) if m else 0.0


def _settled(base_url: str, before: float, within: float = 10.0) -> float:
    """The client's counted tokens once they moved past `before` (bounded wait: settling follows the reset)."""
    end = time.monotonic() + within
    while (now := _counted(base_url)) == before and time.monotonic() < end:
        time.sleep(0.05)
    return now


def _spec(limit: int) -> ClientSpec:
    return ClientSpec.from_mapping({"name": "ci-bot", "token": CI_TOKEN, "tokens_per_minute": limit}, {})


def test_a_reset_after_content_block_stop_is_counted_for_what_the_upstream_produced() -> None:
    """Three streams each reset after content_block_stop: each counts the upstream's input + output tokens (read on
    after the reset), and the fourth request is refused once the minute's 1,100 tokens are spent."""
    with (
        Upstream(_slow_end) as upstream,
        run_gateway(upstream.base_url, clients=(_spec(1100),), upstream_key=UPSTREAM_KEY) as gw,
    ):
        host, port = address(gw)
        counted = 0.0
        for n in range(1, 4):
            assert _read_then_reset(host, port) == 200, (n, counted)
            counted = _settled(gw.base_url, counted)
            assert counted == n * (INPUT + OUTPUT)
        assert _read_then_reset(host, port) == 429  # 930 counted + a ~430-token reservation is over 1,100


def test_a_reset_stream_not_read_to_its_end_counts_its_worst_case() -> None:
    """drain_timeout shorter than the upstream's last wait: the stream's usage is not final, so the reservation
    (max_tokens and the input estimate) is counted, never less than the upstream's partial count."""
    with (
        Upstream(_slow_end) as upstream,
        run_gateway(upstream.base_url, clients=(_spec(100_000),), upstream_key=UPSTREAM_KEY, drain_timeout=0.05) as gw,
    ):
        host, port = address(gw)
        assert _read_then_reset(host, port) == 200
        counted = _settled(gw.base_url, 0.0)
    assert counted >= 400  # the whole max_tokens, not the INPUT + 1 seen before the reset
