"""Interim (1xx) answers from an upstream are read and dropped: every client gets its own final answer."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.gateway.conftest import ask, run_gateway
from tests.gateway.upstream.raw import AsyncUpstream, read_request, response

INTERIM = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\n\r\n"


def _serve(apart: bool):  # type: ignore[no-untyped-def]
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (request := await read_request(reader)) is not None:
            _, headers, _ = request
            final = response(200, json.dumps({"id": headers[b"x-test-id"].decode()}).encode())
            if apart:  # the interim answers first, the final one after "processing", as a real server sends them
                writer.write(INTERIM)
                await writer.drain()
                await asyncio.sleep(0.005)
                writer.write(final)
            else:
                writer.write(INTERIM + final)
            await writer.drain()

    return serve


def _call(n: int) -> bytes:
    body = b'{"model":"claude-haiku-4-5","max_tokens":8,"messages":[]}'
    return (
        b"POST /v1/messages HTTP/1.1\r\nhost: gw\r\nconnection: close\r\ncontent-type: application/json\r\n"
        b"x-test-id: %d\r\ncontent-length: %d\r\n\r\n%b" % (n, len(body), body)
    )


@pytest.mark.parametrize("apart", [True, False], ids=["interim-then-final", "one-write"])
def test_interim_answers_are_dropped_and_answers_never_cross(apart: bool) -> None:
    """An upstream sending 100 and 103 before every answer: 20 clients in a row each get 200 and their own id."""
    with AsyncUpstream(_serve(apart)) as upstream, run_gateway(upstream.base_url) as gw:
        got = []
        for n in range(20):
            answer = ask(gw, _call(n))
            got.append((answer.status, answer.json().get("id") if answer.status == 200 else answer.body[:200]))
    assert got == [(200, str(n)) for n in range(20)]
    assert upstream.connections <= 2  # the keep-alive connection was reused: the interim answers cost none


def test_a_switching_protocols_answer_is_a_failed_attempt_not_an_answer() -> None:
    """A 101 to a request that asked no upgrade is not relayed: the client gets a 502 in the API's shape."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await read_request(reader) is not None:
            writer.write(b"HTTP/1.1 101 Switching Protocols\r\nupgrade: h2c\r\nconnection: upgrade\r\n\r\nxx")
            await writer.drain()

    with AsyncUpstream(serve) as upstream, run_gateway(upstream.base_url) as gw:
        answer = ask(gw, _call(1))
    assert answer.status == 502 and answer.error_type() == "api_error"


def test_an_answer_nobody_asked_for_is_never_handed_to_the_next_client() -> None:
    """An upstream that sends a second, unasked answer right behind each one: the connection is dropped, not
    pooled, so each of 10 clients in a row gets its own answer, whole and alone."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (request := await read_request(reader)) is not None:
            own = request[1][b"x-test-id"].decode()
            stale = response(200, json.dumps({"id": f"stale-{own}"}).encode())
            writer.write(response(200, json.dumps({"id": own}).encode()) + stale)
            await writer.drain()

    with AsyncUpstream(serve) as upstream, run_gateway(upstream.base_url) as gw:
        got = [ask(gw, _call(n)).json().get("id") for n in range(10)]
    assert got == [str(n) for n in range(10)]
