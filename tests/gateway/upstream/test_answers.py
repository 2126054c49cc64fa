"""Upstream answers the gateway must not pass on as they are: error bodies past the bound, pages that are not the
API's, Bedrock frames that are corrupt or too large, streams that end without message_stop."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

from claudewire.gateway import GatewayConfig, GatewayThread
from claudewire.gateway.upstream.specs import upstreams_from_list
from claudewire.sim.eventstream import chunk_frame
from claudewire.testing import FastClock
from tests.gateway.conftest import ROOMY, Answer, ask
from tests.gateway.upstream.raw import AsyncUpstream, read_request, response

MiB = 1 << 20
START = {"type": "message_start", "message": {"id": "msg_1", "model": "claude-haiku-4-5", "usage": {"input_tokens": 3}}}
BLOCK = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
DELTA = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}}
BLOCK_STOP = {"type": "content_block_stop", "index": 0}
HTML = b"<!DOCTYPE html><html><head><title>Error 404 (Not Found)!!1</title></head><body>That's an error.</body></html>"


@contextlib.contextmanager
def gateway(kind: str, url: str, **overrides: Any) -> Iterator[GatewayThread]:
    """A gateway in front of one upstream named `up` of `kind` (cloud kinds with a static key: no credential chain)."""
    table: dict[str, Any] = {"name": "up", "kind": kind, "url": url}
    if kind == "bedrock":
        table.update(region="us-east-1", keys=["bedrock-api-key-test"])
    elif kind == "vertex":
        table.update(url=url + "/v1", project="p", region="us-east5", keys=["ya29.static"])
    config = GatewayConfig(upstreams=upstreams_from_list([table]), port=0, policy=ROOMY, access_log=None, **overrides)
    with GatewayThread(config, clock=FastClock()) as gw:
        yield gw


def call(*, stream: bool = False) -> bytes:
    """A raw Messages call that closes its connection after the answer."""
    body = json.dumps(
        {
            "model": "claude-haiku-4-5",
            "max_tokens": 8,
            "messages": [{"role": "user", "content": "hi"}],
            "stream": stream,
        }
    ).encode()
    return (
        b"POST /v1/messages HTTP/1.1\r\nhost: gw\r\nconnection: close\r\ncontent-type: application/json\r\n"
        b"x-api-key: sk-ant-client\r\nanthropic-version: 2023-06-01\r\ncontent-length: %d\r\n\r\n%b" % (len(body), body)
    )


def gateway_error(answer: Answer) -> str:
    """The message of the gateway's own 502, asserting its shape."""
    assert answer.status == 502, answer.raw[:600]
    assert answer.error_type() == "api_error"
    message = str(answer.json()["error"]["message"])
    assert message.startswith("claudewire gateway:") and "'up'" in message, message
    return message


# --- error bodies past the bound ---------------------------------------------------------------------------------


def _huge_error(sent: list[int], *, chunked: bool, headers: bytes) -> Any:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if await read_request(reader) is None:
            return
        total = 256 * MiB
        framing = b"transfer-encoding: chunked" if chunked else b"content-length: %d" % total
        writer.write(b"HTTP/1.1 500 Internal Server Error\r\n%b\r\n%b\r\n" % (framing, headers))
        piece = b"x" * (64 * 1024)
        written = 0
        try:
            while written < total:  # generated as it goes: the upstream holds 64 KiB at a time
                writer.write(b"10000\r\n" + piece + b"\r\n" if chunked else piece)
                await writer.drain()
                written += len(piece)
            if chunked:
                writer.write(b"0\r\n\r\n")
                await writer.drain()
        finally:
            sent.append(written)

    return serve


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
@pytest.mark.parametrize(
    ("kind", "headers"),
    [
        ("anthropic", b"content-type: application/json\r\nx-should-retry: false\r\n"),
        ("bedrock", b"content-type: application/json\r\nx-amzn-errortype: InternalServerException\r\n"),
        ("vertex", b"content-type: application/json\r\n"),
    ],
    ids=["anthropic", "bedrock", "vertex"],
)
def test_an_error_body_past_the_bound_is_a_502_and_the_connection_is_dropped(
    kind: str, headers: bytes, chunked: bool
) -> None:
    """A 256 MiB error body: the gateway reads at most its bound (plus what the sockets buffer), drops the upstream
    connection and answers a 502 naming the upstream; retried attempts are bounded the same way."""
    sent: list[int] = []
    limit = GatewayConfig().upstream_error_body_limit
    with (
        AsyncUpstream(_huge_error(sent, chunked=chunked, headers=headers)) as upstream,
        gateway(kind, upstream.base_url) as gw,
    ):
        answer = ask(gw, call(), within=60)
        for _ in range(upstream.connections):  # every attempt's connection has ended on the upstream's side
            assert upstream.finished.acquire(timeout=30)
    message = gateway_error(answer)
    assert str(limit) in message
    assert sent and all(n < limit + 48 * MiB for n in sent), sent  # never the 256 MiB
    assert 4 * MiB <= limit <= 64 * MiB  # the default: a few MiB, far above any real error body


def test_the_bound_is_a_setting() -> None:
    """upstream_error_body_limit lowers the bound: a 64 KiB error body over a 16 KiB bound is a 502."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await read_request(reader) is not None:
            error = {"type": "error", "error": {"type": "invalid_request_error", "message": "x" * 65536}}
            writer.write(response(400, json.dumps(error).encode()))
            await writer.drain()

    with (
        AsyncUpstream(serve) as upstream,
        gateway("anthropic", upstream.base_url, upstream_error_body_limit=16384) as gw,
    ):
        message = gateway_error(ask(gw, call()))
    assert "16384" in message


# --- answers that are not what they claim ------------------------------------------------------------------------


def _answer_with(status: int, body: bytes, ctype: bytes) -> Any:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await read_request(reader) is not None:
            writer.write(response(status, body, ctype=ctype))
            await writer.drain()

    return serve


@pytest.mark.parametrize(
    ("kind", "status", "ctype"),
    [
        ("anthropic", 200, b"text/html; charset=utf-8"),
        ("anthropic", 404, b"text/html"),
        ("anthropic", 503, b"text/html"),
        ("anthropic", 200, b"text/plain"),
        ("vertex", 404, b"text/html; charset=UTF-8"),
        ("vertex", 200, b"text/html"),
        ("bedrock", 200, b"text/html"),
        ("foundry", 502, b"text/html"),
    ],
)
def test_a_page_that_is_not_the_apis_answer_is_a_502_naming_the_upstream(kind: str, status: int, ctype: bytes) -> None:
    """An HTML error page (Vertex's 404 from Google's front end) or a 200 text/html where JSON is expected never
    reaches the client as it is: a 502 in the API's error shape names the upstream and what it sent."""
    with AsyncUpstream(_answer_with(status, HTML, ctype)) as upstream, gateway(kind, upstream.base_url) as gw:
        answer = ask(gw, call())
    message = gateway_error(answer)
    assert ctype.split(b";")[0].decode() in message and str(status) in message
    assert b"<html" not in answer.body


def test_a_json_answer_with_its_own_content_type_still_passes() -> None:
    """JSON and Anthropic error bodies pass unchanged (a charset parameter, or a 4xx JSON error, are fine)."""
    error = json.dumps({"type": "error", "error": {"type": "not_found_error", "message": "model: nope"}}).encode()
    with (
        AsyncUpstream(_answer_with(404, error, b"application/json; charset=utf-8")) as upstream,
        gateway("anthropic", upstream.base_url) as gw,
    ):
        answer = ask(gw, call())
    assert answer.status == 404 and answer.json()["error"]["message"] == "model: nope"


# --- streams -------------------------------------------------------------------------------------------------------


def _sse(event: dict[str, Any]) -> bytes:
    return b"event: %b\ndata: %b\n\n" % (event["type"].encode(), json.dumps(event).encode())


def _stream(head: bytes, body: bytes, *, hold: bool) -> Any:
    """An upstream answering every call with `head`, then `body` as one chunk; then it ends the chunked body, or
    (`hold`) keeps the connection open and silent until the gateway goes away."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await read_request(reader) is not None:
            writer.write(head + b"transfer-encoding: chunked\r\n\r\n%x\r\n%b\r\n" % (len(body), body))
            await writer.drain()
            if hold:
                await reader.read()  # until the gateway closes the connection
                return
            writer.write(b"0\r\n\r\n")
            await writer.drain()

    return serve


SSE_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
BEDROCK_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: application/vnd.amazon.eventstream\r\n"
FRAMES = b"".join(chunk_frame(e) for e in (START, BLOCK, DELTA))


def _last_event(answer: Answer) -> dict[str, Any]:
    assert answer.status == 200, answer.raw[:400]
    events = [e for e in answer.body.split(b"\n\n") if e.strip()]
    assert b"content_block_delta" in answer.body  # the content before the error reached the client
    name, _, data = events[-1].partition(b"\ndata: ")
    assert name == b"event: error", events[-1]
    return dict(json.loads(data))


def _corrupt(frame: bytes) -> bytes:
    broken = bytearray(frame)
    broken[-5] ^= 0xFF
    return bytes(broken)


def _prelude(total: int) -> bytes:
    import struct
    import zlib

    prelude = struct.pack(">II", total, 0)
    return prelude + struct.pack(">I", zlib.crc32(prelude))


@pytest.mark.parametrize(
    ("what", "tail"),
    [
        ("corrupt frame", _corrupt(chunk_frame(DELTA))),
        ("100 MB prelude", _prelude(100_000_000)),
        ("16 MiB prelude", _prelude(16 * MiB)),
    ],
    ids=["corrupt", "100MB", "16MiB"],
)
def test_a_bad_bedrock_frame_mid_stream_ends_the_stream_with_an_error_event_at_once(what: str, tail: bytes) -> None:
    """After a delta, a corrupt frame or a frame announcing megabytes ends the client's stream with an SSE error
    event at once, while the upstream keeps the connection open (not after the 60 s idle timeout)."""
    with (
        AsyncUpstream(_stream(BEDROCK_HEAD, FRAMES + tail, hold=True)) as upstream,
        gateway("bedrock", upstream.base_url, idle_timeout=120.0) as gw,
    ):
        answer = ask(gw, call(stream=True), within=30)
    event = _last_event(answer)
    assert event["error"]["type"] == "api_error" and "Bedrock" in event["error"]["message"]


@pytest.mark.parametrize(
    ("kind", "head", "body"),
    [
        ("anthropic", SSE_HEAD, b"".join(_sse(e) for e in (START, BLOCK, DELTA, BLOCK_STOP))),
        ("foundry", SSE_HEAD, b"".join(_sse(e) for e in (START, BLOCK, DELTA))),
        ("vertex", SSE_HEAD, b"".join(_sse(e) for e in (START, BLOCK, DELTA, BLOCK_STOP))),
        ("bedrock", BEDROCK_HEAD, FRAMES),
        ("bedrock", BEDROCK_HEAD, FRAMES + chunk_frame(BLOCK_STOP)[:20]),
    ],
    ids=["anthropic", "foundry", "vertex", "bedrock", "bedrock-inside-a-frame"],
)
def test_a_stream_that_ends_without_message_stop_ends_with_an_error_event(kind: str, head: bytes, body: bytes) -> None:
    """An upstream that ends its body cleanly before message_stop (or inside a frame) has cut the answer short:
    the client's stream ends with an error event, not as a complete message."""
    with AsyncUpstream(_stream(head, body, hold=False)) as upstream, gateway(kind, upstream.base_url) as gw:
        answer = ask(gw, call(stream=True), within=30)
    event = _last_event(answer)
    assert "message_stop" in event["error"]["message"] or "frame" in event["error"]["message"]


def test_a_complete_stream_gets_no_error_event() -> None:
    """A stream that ends with message_stop passes as it came, with no event added."""
    stop = [{"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 1}}]
    events = (START, BLOCK, DELTA, BLOCK_STOP, *stop, {"type": "message_stop"})
    body = b"".join(_sse(e) for e in events)
    with AsyncUpstream(_stream(SSE_HEAD, body, hold=False)) as upstream, gateway("anthropic", upstream.base_url) as gw:
        answer = ask(gw, call(stream=True), within=30)
    assert answer.status == 200 and answer.body == body


def test_a_frame_with_an_unknown_header_type_ends_the_stream_with_an_error_event() -> None:
    """A frame whose checksums hold but whose header cannot be read ends the stream with an error event at once."""
    import struct
    import zlib

    head = b"\x0b:event-type\x63\x00\x05chunk"  # header value type 99: no such type
    prelude = struct.pack(">II", 12 + len(head) + 2 + 4, len(head))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    message = prelude + head + b"{}"
    bad = message + struct.pack(">I", zlib.crc32(message))
    with (
        AsyncUpstream(_stream(BEDROCK_HEAD, FRAMES + bad, hold=True)) as upstream,
        gateway("bedrock", upstream.base_url, idle_timeout=120.0) as gw,
    ):
        answer = ask(gw, call(stream=True), within=30)
    assert _last_event(answer)["error"]["type"] == "api_error"
