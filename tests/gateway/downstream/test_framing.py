"""Message framing on a client connection: a refused body is never parsed as a request, a HEAD answer has no body,
a 100 Continue is written only when its request is the current one, and an HTTP/1.1 request names its Host."""

from __future__ import annotations

import json
import socket

import pytest

from claudewire.sim import Pacing
from claudewire.testing import run_sim
from tests.conftest import SIM_KEY, SIM_MODEL
from tests.gateway.conftest import Answer, RawUpstream, address, ask, read_all, read_request, run_gateway, send_all

SMUGGLED = b"GET /v1/SMUGGLED HTTP/1.1\r\nhost: gw\r\n\r\n"
MESSAGES = [{"role": "user", "content": "hi"}]


def _chunked(data: bytes) -> bytes:
    return b"%x\r\n%b\r\n0\r\n\r\n" % (len(data), data)


def _recording_upstream(lines: list[bytes]) -> RawUpstream:
    """An upstream that records each request line it gets and answers 200 with an empty JSON list."""

    def serve(sock: socket.socket) -> None:
        while (request := read_request(sock)) is not None:
            lines.append(request.split(b"\r\n", 1)[0])
            sock.sendall(b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{"data":[]}')

    return RawUpstream(serve)


def _split_answers(raw: bytes) -> list[Answer]:
    """Answers with a Content-Length one after the other (what a pipelining client reads)."""
    out = []
    while raw:
        head_end = raw.index(b"\r\n\r\n") + 4
        first = Answer(raw[:head_end])
        length = 0 if first.status in (100, 204, 304) else int(first.headers.get("content-length", "0"))
        out.append(Answer(raw[: head_end + length]))
        raw = raw[head_end + length :]
    return out


@pytest.mark.parametrize(
    "head",
    [
        b"PROPFIND /v1/models HTTP/1.1\r\nhost: gw\r\ntransfer-encoding: chunked\r\n\r\n",
        b"SOURCE /v1/models HTTP/1.1\r\nhost: gw\r\ntransfer-encoding: chunked\r\n\r\n",
        b"PROPFIND /v1/models HTTP/1.0\r\nhost: gw\r\nconnection: keep-alive\r\ntransfer-encoding: chunked\r\n\r\n",
        b"POST /v1/../models HTTP/1.1\r\nhost: gw\r\ntransfer-encoding: chunked\r\n\r\n",
        b"PROPFIND /v1/models HTTP/1.1\r\nhost: gw\r\ncontent-length: %d\r\n\r\n" % len(_chunked(SMUGGLED)),
    ],
)
@pytest.mark.parametrize("split", [False, True])
def test_a_refused_requests_body_is_never_parsed_as_a_request(head: bytes, split: bool) -> None:
    """A 405 or 400 whose body carries `GET /v1/SMUGGLED`: answered, the connection closed, nothing reaches upstream."""
    lines: list[bytes] = []
    with _recording_upstream(lines) as up, run_gateway(up.base_url) as gw:
        with socket.create_connection(address(gw), timeout=5) as sock:
            if split:  # the head alone first: its answer may already be decided when the body comes
                send_all(sock, head)
                send_all(sock, _chunked(SMUGGLED) + b"GET /v1/models HTTP/1.1\r\nhost: gw\r\n\r\n")
            else:
                send_all(sock, head + _chunked(SMUGGLED) + b"GET /v1/models HTTP/1.1\r\nhost: gw\r\n\r\n")
            raw = read_all(sock, within=10)
        # what an honest request on a fresh connection gets: the upstream is reachable
        assert ask(gw, b"GET /v1/models HTTP/1.1\r\nhost: gw\r\nconnection: close\r\n\r\n").status == 200
    answers = _split_answers(raw)
    assert [a.status for a in answers] in ([405], [400]), raw[:400]
    assert answers[0].headers["connection"] == "close"
    # the honest one only (the gateway asks for the whole list: ?limit=1000); never SMUGGLED nor the one behind it
    assert [line.split(b"?")[0].replace(b" HTTP/1.1", b"") for line in lines] == [b"GET /v1/models"]


def test_a_body_over_the_limit_is_answered_413_and_never_parsed_after() -> None:
    """A chunked body that grows past body_limit: 413 at once, the connection closed, nothing after it is read."""
    lines: list[bytes] = []
    with (
        _recording_upstream(lines) as up,
        run_gateway(up.base_url, body_limit=64) as gw,
        socket.create_connection(address(gw), timeout=5) as sock,
    ):
        head = b"POST /v1/messages HTTP/1.1\r\nhost: gw\r\ntransfer-encoding: chunked\r\n\r\n"
        send_all(sock, head + b"80\r\n" + b"x" * 128 + b"\r\n")  # over the limit: the rest is never parsed
        send_all(sock, _chunked(SMUGGLED))
        answer = Answer(read_all(sock, within=10))
    assert answer.status == 413 and answer.error_type() == "request_too_large"
    assert answer.headers["connection"] == "close"
    assert lines == []


@pytest.mark.parametrize("first", [b"/healthz", b"/nope", b"/v1/%2e%2e/x"])
def test_a_head_answer_has_no_body(first: bytes) -> None:
    """HEAD then GET on one connection: the HEAD answer is a head alone, so the GET's answer is read whole after it."""
    with (
        run_sim(seed=0) as sim,
        run_gateway(sim.base_url) as gw,
        socket.create_connection(address(gw), timeout=5) as sock,
    ):
        send_all(sock, b"HEAD " + first + b" HTTP/1.1\r\nhost: gw\r\n\r\n")
        send_all(sock, b"GET /healthz HTTP/1.1\r\nhost: gw\r\nconnection: close\r\n\r\n")
        raw = read_all(sock)
    head_end = raw.index(b"\r\n\r\n") + 4
    head, rest = Answer(raw[:head_end]), raw[head_end:]
    assert head.status in (200, 404, 400) and int(head.headers["content-length"]) > 0  # the length a GET would get
    assert rest.startswith(b"HTTP/1.1 200 OK\r\n"), raw
    assert Answer(rest).json() == {"status": "ok"}


def _stream_post(extra: bytes = b"") -> bytes:
    body = json.dumps({"model": SIM_MODEL, "max_tokens": 8, "stream": True, "messages": MESSAGES}).encode()
    return (
        b"POST /v1/messages HTTP/1.1\r\nhost: gw\r\nx-api-key: " + SIM_KEY.encode() + b"\r\n"
        b"anthropic-version: 2023-06-01\r\ncontent-type: application/json\r\n" + extra + b"content-length: %d\r\n\r\n"
    ) % len(body) + body


def _second_head(body: bytes) -> bytes:
    return (
        b"POST /v1/messages HTTP/1.1\r\nhost: gw\r\nx-api-key: " + SIM_KEY.encode() + b"\r\n"
        b"anthropic-version: 2023-06-01\r\ncontent-type: application/json\r\nexpect: 100-continue\r\n"
        b"connection: close\r\ncontent-length: %d\r\n\r\n" % len(body)
    )


def _read_until(sock: socket.socket, marker: bytes, seen: bytes = b"") -> bytes:
    sock.settimeout(10)
    while marker not in seen:
        chunk = sock.recv(65536)
        assert chunk, f"closed before {marker!r}: {seen[-300:]!r}"
        seen += chunk
    return seen


def _check_continue_follows_the_stream(raw: bytes) -> None:
    """The first answer is the stream, whole and well framed; the 100 Continue comes after its last chunk."""
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n"), raw[:200]
    stream_end = raw.index(b"\r\n0\r\n\r\n") + 7
    assert raw[stream_end:].startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), raw[stream_end - 50 : stream_end + 60]
    events = Answer(raw[:stream_end]).body
    assert b"100 Continue" not in events and events.rstrip().endswith(b'{"type":"message_stop"}')


def test_expect_continue_pipelined_behind_a_stream_waits_for_its_turn() -> None:
    """A pipelined head with Expect: 100-continue gets its 100 after the stream before it ends, never inside it."""
    second = json.dumps({"model": SIM_MODEL, "max_tokens": 8, "messages": MESSAGES}).encode()
    with (
        run_sim(seed=0, pacing=Pacing(ttft=0.0, per_token=0.02)) as sim,
        run_gateway(sim.base_url) as gw,
        socket.create_connection(address(gw), timeout=10) as sock,
    ):
        send_all(sock, _stream_post() + _second_head(second))
        raw = _read_until(sock, b"HTTP/1.1 100 Continue\r\n\r\n")
        send_all(sock, second)
        raw += read_all(sock)
    _check_continue_follows_the_stream(raw)
    assert raw.count(b"HTTP/1.1 200 OK\r\n") == 2


def test_expect_continue_arriving_mid_stream_is_not_written_into_it() -> None:
    """Expect: 100-continue sent while a stream flows: the 100 is not written between the stream's chunks."""
    second = json.dumps({"model": SIM_MODEL, "max_tokens": 8, "messages": MESSAGES}).encode()
    with (
        run_sim(seed=0, pacing=Pacing(ttft=0.0, per_token=0.05)) as sim,
        run_gateway(sim.base_url) as gw,
        socket.create_connection(address(gw), timeout=10) as sock,
    ):
        send_all(sock, _stream_post())
        raw = _read_until(sock, b"content_block_delta")
        send_all(sock, _second_head(second))
        raw = _read_until(sock, b"HTTP/1.1 100 Continue\r\n\r\n", raw)
        send_all(sock, second)
        raw += read_all(sock)
    _check_continue_follows_the_stream(raw)


@pytest.mark.parametrize(
    "head",
    [
        b"GET /healthz HTTP/1.1\r\n\r\n",
        b"GET /v1/models HTTP/1.1\r\nx-api-key: k\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nhost: a\r\nhost: b\r\n\r\n",
    ],
)
def test_an_http_1_1_request_without_one_host_is_400(head: bytes) -> None:
    """HTTP/1.1 with no Host header, or with two, is 400 invalid_request_error (RFC 9112 3.2), nothing forwarded."""
    with run_sim(seed=0) as sim, run_gateway(sim.base_url) as gw:
        answer = ask(gw, head, shut=True)
        assert sim.stats.total == 0
    assert answer.status == 400 and answer.error_type() == "invalid_request_error"
    assert "Host" in answer.json()["error"]["message"]


def test_an_http_1_0_request_needs_no_host() -> None:
    """HTTP/1.0 predates Host: a request without one is answered."""
    with run_sim(seed=0) as sim, run_gateway(sim.base_url) as gw:
        answer = ask(gw, b"GET /healthz HTTP/1.0\r\n\r\n")
    assert answer.status == 200 and answer.json() == {"status": "ok"}
