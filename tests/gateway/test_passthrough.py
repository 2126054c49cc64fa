"""Faithful pass-through: the official Python SDK gets the same answers through the gateway as from the simulator."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator

import anthropic
import httpx2
from aiohttp import web

from claudewire.sim import Pacing
from claudewire.testing import run_sim
from tests.conftest import SIM_KEY, SIM_MODEL
from tests.gateway.conftest import Upstream, run_gateway

MESSAGES = [{"role": "user", "content": "hello"}]


def _shape(message: anthropic.types.Message) -> dict[str, object]:
    """A message without its per-request id."""
    data = message.model_dump()
    data.pop("id")
    return data


def test_sync_sdk_create_count_and_models_match_direct() -> None:
    """messages.create, count_tokens and models.list through the gateway equal the simulator's own answers."""
    with run_sim(seed=0) as sim, run_gateway(sim.base_url) as gw:
        direct = anthropic.Anthropic(base_url=sim.base_url, api_key=SIM_KEY, max_retries=0)
        via = anthropic.Anthropic(base_url=gw.base_url, api_key=SIM_KEY, max_retries=0)
        a = direct.messages.create(model=SIM_MODEL, max_tokens=64, messages=MESSAGES)
        b = via.messages.create(model=SIM_MODEL, max_tokens=64, messages=MESSAGES)
        assert _shape(a) == _shape(b)
        assert b.id.startswith("msg_")
        count = via.messages.count_tokens(model=SIM_MODEL, messages=MESSAGES)
        assert count.input_tokens == direct.messages.count_tokens(model=SIM_MODEL, messages=MESSAGES).input_tokens
        assert [m.id for m in via.models.list()] == [m.id for m in direct.models.list()]


def test_async_sdk_streaming_helpers_match_direct() -> None:
    """The async SDK's stream helper yields the same events, text and final usage through the gateway."""

    async def run(base_url: str) -> tuple[list[str], str, dict[str, object]]:
        client = anthropic.AsyncAnthropic(base_url=base_url, api_key=SIM_KEY, max_retries=0)
        async with client.messages.stream(model=SIM_MODEL, max_tokens=64, messages=MESSAGES) as stream:
            kinds = [event.type async for event in stream]
            final = await stream.get_final_message()
        await client.close()
        return kinds, "".join(b.text for b in final.content if b.type == "text"), final.usage.model_dump()

    with run_sim(seed=0) as sim, run_gateway(sim.base_url) as gw:
        direct = asyncio.run(run(sim.base_url))
        via = asyncio.run(run(gw.base_url))
    assert via == direct
    assert "content_block_delta" in via[0] or "text" in via[0]
    assert via[1] and via[2]["output_tokens"] > 0


def test_sync_stream_text_and_raw_events_arrive_in_order() -> None:
    """A sync raw stream (stream=True) through the gateway yields message_start first and message_stop last."""
    with run_sim(seed=0) as sim, run_gateway(sim.base_url) as gw:
        client = anthropic.Anthropic(base_url=gw.base_url, api_key=SIM_KEY, max_retries=0)
        events = list(client.messages.create(model=SIM_MODEL, max_tokens=64, messages=MESSAGES, stream=True))
    assert events[0].type == "message_start" and events[-1].type == "message_stop"
    assert sum(e.type == "content_block_delta" for e in events) > 1


def test_version_beta_key_and_custom_headers_reach_upstream_untouched() -> None:
    """anthropic-version, anthropic-beta, the key and custom headers arrive as sent; hop-by-hop headers do not."""
    with run_sim(seed=0) as sim, run_gateway(sim.base_url) as gw:
        client = anthropic.Anthropic(
            base_url=gw.base_url,
            api_key=SIM_KEY,
            max_retries=0,
            default_headers={
                "anthropic-version": "2023-06-01",
                "anthropic-beta": "prompt-caching-2024-07-31,files-api-2025-04-14",
                "x-custom-trace": "abc 123",
                "connection": "keep-alive, x-hop-only",
                "x-hop-only": "must not pass",
            },
        )
        client.messages.create(model=SIM_MODEL, max_tokens=16, messages=MESSAGES)
        seen = sim.requests[-1].headers
    assert seen["anthropic-beta"] == "prompt-caching-2024-07-31,files-api-2025-04-14"
    assert seen["anthropic-version"] == "2023-06-01"
    assert seen["authorization"] == f"Bearer {SIM_KEY}"  # SDK 2.x sends the key as a bearer token
    assert seen["x-custom-trace"] == "abc 123"
    assert "x-hop-only" not in seen
    assert seen.get("connection", "keep-alive").lower() == "keep-alive"
    assert seen["host"] == sim.base_url.split("//")[1]


def test_x_api_key_passes_through_in_open_mode() -> None:
    """Without gateway tokens, an x-api-key header reaches the upstream unchanged (and no other credential)."""
    with run_sim(seed=0) as sim, run_gateway(sim.base_url) as gw:
        body = {"model": SIM_MODEL, "max_tokens": 16, "messages": MESSAGES}
        headers = {"x-api-key": SIM_KEY, "anthropic-version": "2023-06-01"}
        response = httpx2.post(gw.base_url + "/v1/messages", json=body, headers=headers)
        seen = sim.requests[-1].headers
    assert response.status_code == 200
    assert seen["x-api-key"] == SIM_KEY
    assert "authorization" not in seen


def test_status_headers_and_body_bytes_are_unchanged() -> None:
    """An upstream answer's status, request-id, rate-limit and retry-after headers and exact body bytes pass on."""
    body = b'{"type":"error","error":{"type":"rate_limit_error","message":"slow down \\u00e9"}}  \n'

    async def handler(request: web.Request) -> web.StreamResponse:
        await request.read()
        return web.Response(
            status=429,
            body=body,
            headers={
                "request-id": "req_exact_1",
                "retry-after": "3600",
                "anthropic-ratelimit-requests-remaining": "0",
                "anthropic-ratelimit-requests-reset": "2099-01-01T00:00:00Z",
                "x-custom": "kept",
                "content-type": "application/json",
            },
        )

    with Upstream(handler) as up, run_gateway(up.base_url) as gw:
        response = httpx2.post(gw.base_url + "/v1/messages", content=b"{}", headers={"x-api-key": SIM_KEY})
    assert response.status_code == 429
    assert response.content == body
    for name, value in [("request-id", "req_exact_1"), ("retry-after", "3600"), ("x-custom", "kept")]:
        assert response.headers[name] == value
    assert response.headers["anthropic-ratelimit-requests-remaining"] == "0"
    assert up.hits == 1  # a retry-after over the policy's cap is passed on at once, not waited for


def test_body_over_limit_is_413_request_too_large_and_never_sent() -> None:
    """A request body over body_limit gets 413 request_too_large in the Anthropic shape; the upstream sees nothing."""
    with run_sim(seed=0) as sim, run_gateway(sim.base_url, body_limit=2000) as gw:
        client = anthropic.Anthropic(base_url=gw.base_url, api_key=SIM_KEY, max_retries=0)
        try:
            client.messages.create(model=SIM_MODEL, max_tokens=16, messages=[{"role": "user", "content": "x" * 5000}])
        except anthropic.APIStatusError as exc:
            error = exc
        else:
            raise AssertionError("expected 413")
        assert error.status_code == 413
        assert isinstance(error.body, dict) and error.body["error"]["type"] == "request_too_large"
        assert "2000 bytes" in error.body["error"]["message"]
        client.messages.create(model=SIM_MODEL, max_tokens=16, messages=MESSAGES)  # the connection still works
        assert sim.stats.total == 1


def test_unknown_path_is_anthropic_shaped_404() -> None:
    """A path outside /v1 gets a not_found_error in the Anthropic error shape."""
    with run_sim(seed=0) as sim, run_gateway(sim.base_url) as gw:
        response = httpx2.get(gw.base_url + "/nope")
        health = httpx2.get(gw.base_url + "/healthz")
        ready = httpx2.get(gw.base_url + "/readyz")
    assert response.status_code == 404
    assert response.json()["type"] == "error" and response.json()["error"]["type"] == "not_found_error"
    assert health.status_code == 200 and ready.status_code == 200


def test_sse_events_are_forwarded_as_they_arrive() -> None:
    """Each SSE event reaches the client while the upstream is still streaming (no buffering in the gateway)."""
    with run_sim(seed=0, pacing=Pacing(ttft=0.0, per_token=0.15)) as sim, run_gateway(sim.base_url) as gw:
        host, port = gw.base_url.split("//")[1].split(":")
        payload = json.dumps({"model": SIM_MODEL, "max_tokens": 8, "stream": True, "messages": MESSAGES}).encode()
        request = (
            f"POST /v1/messages HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n"
            f"x-api-key: {SIM_KEY}\r\nanthropic-version: 2023-06-01\r\ncontent-length: {len(payload)}\r\n"
            "connection: close\r\n\r\n"
        ).encode() + payload
        arrivals: list[tuple[float, bytes]] = []
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(request)
            start = time.monotonic()
            while chunk := sock.recv(65536):
                arrivals.append((time.monotonic() - start, chunk))
    deltas = [at for at, data in arrivals if b"content_block_delta" in data]
    # deltas are 150 ms apart upstream: they must arrive spread out, not in one burst at the end
    assert len(deltas) >= 3
    assert deltas[-1] - deltas[0] > 0.2


def test_expect_100_continue_gets_its_interim_answer() -> None:
    """A client sending Expect: 100-continue (curl does for big bodies) gets 100 Continue, then the real answer."""
    with run_sim(seed=0) as sim, run_gateway(sim.base_url) as gw:
        host, port = gw.base_url.split("//")[1].split(":")
        payload = json.dumps({"model": SIM_MODEL, "max_tokens": 8, "messages": MESSAGES}).encode()
        head = (
            f"POST /v1/messages HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\nx-api-key: {SIM_KEY}\r\n"
            f"anthropic-version: 2023-06-01\r\ncontent-length: {len(payload)}\r\nexpect: 100-continue\r\n"
            "connection: close\r\n\r\n"
        ).encode()
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(head)
            interim = sock.recv(100)
            sock.sendall(payload)
            rest = b""
            while chunk := sock.recv(65536):
                rest += chunk
        seen = sim.requests[-1].headers
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert rest.startswith(b"HTTP/1.1 200 OK\r\n")
    assert "expect" not in seen


def test_compressed_sse_passes_through_at_once_and_byte_exact() -> None:
    """A gzip-encoded stream (which the gateway cannot watch) is forwarded as it arrives, bytes unchanged."""
    import asyncio
    import zlib

    packer = zlib.compressobj(wbits=31)
    first = packer.compress(b"event: message_start\ndata: {}\n\n") + packer.flush(zlib.Z_SYNC_FLUSH)

    async def handler(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"content-type": "text/event-stream", "content-encoding": "gzip"})
        await response.prepare(request)
        await response.write(first)
        await asyncio.sleep(30)  # nothing more: the first bytes must not wait for the end
        return response

    with Upstream(handler) as up, run_gateway(up.base_url) as gw:
        body = {"model": SIM_MODEL, "max_tokens": 8, "stream": True, "messages": MESSAGES}
        with httpx2.stream("POST", gw.base_url + "/v1/messages", json=body, timeout=10) as response:
            received = b""
            for chunk in response.iter_raw():
                received += chunk
                if len(received) >= len(first):
                    break
    assert response.headers["content-encoding"] == "gzip"
    assert received == first


def test_pipelined_requests_are_answered_in_order() -> None:
    """Two requests written back to back on one connection get their two answers, in order."""
    with run_sim(seed=0) as sim, run_gateway(sim.base_url) as gw:
        host, port = gw.base_url.split("//")[1].split(":")
        one = f"GET /healthz HTTP/1.1\r\nhost: {host}\r\n\r\n".encode()
        two = (
            f"GET /v1/models HTTP/1.1\r\nhost: {host}\r\nx-api-key: {SIM_KEY}\r\nanthropic-version: 2023-06-01\r\n"
            "connection: close\r\n\r\n"
        ).encode()
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(one + two)
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
    first, _, rest = data.partition(b'{"status":"ok"}')
    assert first.startswith(b"HTTP/1.1 200 OK\r\n")
    assert rest.startswith(b"HTTP/1.1 200 OK\r\n") and b"claude-" in rest


def test_chunked_request_body_is_forwarded_with_its_length() -> None:
    """A client body sent with Transfer-Encoding: chunked reaches the upstream whole, as a sized body."""

    def body() -> Iterator[bytes]:
        payload = json.dumps({"model": SIM_MODEL, "max_tokens": 8, "messages": MESSAGES}).encode()
        yield payload[:10]
        yield payload[10:]

    with run_sim(seed=0) as sim, run_gateway(sim.base_url) as gw:
        headers = {"x-api-key": SIM_KEY, "anthropic-version": "2023-06-01", "content-type": "application/json"}
        response = httpx2.post(gw.base_url + "/v1/messages", content=body(), headers=headers)
        seen = sim.requests[-1].headers
    assert response.status_code == 200 and response.json()["type"] == "message"
    assert "transfer-encoding" not in seen and int(seen["content-length"]) > 10


def test_idle_client_connections_are_closed_but_busy_ones_are_not() -> None:
    """keepalive_timeout closes a connection left idle, never one whose stream is still flowing."""
    with (
        run_sim(seed=0, pacing=Pacing(ttft=0.0, per_token=0.1)) as sim,
        run_gateway(sim.base_url, keepalive_timeout=0.3) as gw,
    ):
        host, port = gw.base_url.split("//")[1].split(":")
        with socket.create_connection((host, int(port)), timeout=10) as idle:
            idle.sendall(f"GET /healthz HTTP/1.1\r\nhost: {host}\r\n\r\n".encode())
            answer = idle.recv(65536)
            closed = idle.recv(65536)  # blocks until the gateway closes the idle connection
        client = anthropic.Anthropic(base_url=gw.base_url, api_key=SIM_KEY, max_retries=0)
        with client.messages.stream(model=SIM_MODEL, max_tokens=8, messages=MESSAGES) as stream:
            kinds = [event.type for event in stream]  # ~1.2 s of streaming, four times the keep-alive timeout
    assert answer.startswith(b"HTTP/1.1 200 OK") and closed == b""
    assert kinds[-1] == "message_stop"
