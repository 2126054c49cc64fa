"""Fuzzing the gateway's request parser and header rules: any bytes get an answer in the API's shape or a clean close.

Random heads (methods, targets, header names and values with CR, LF, NUL and obs-fold thrown in, duplicate and
conflicting framing), bodies and chunkings go to a gateway in front of a trivial upstream. Each example must end
in bounded time with an HTTP/1.1 answer or a close, never a hang, and the gateway must log no internal error.
The budget is bounded (`max_examples`) so CI stays fast.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Iterator

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claudewire.gateway import GatewayThread
from tests.gateway.conftest import Upstream, address, run_gateway

TOKENS = ("cw-fuzz-token-0000000001",)

_METHODS = st.sampled_from([b"GET", b"POST", b"DELETE", b"HEAD", b"OPTIONS", b"TRACE", b"CONNECT", b"PUT", b"G\x00T"])
_PATHS = st.sampled_from(
    [b"/v1/messages", b"/v1/models", b"/healthz", b"/metrics", b"/v1/../metrics", b"//v1/x", b"*", b"/v1/%2e%2e/"]
)
_KNOWN_NAMES = st.sampled_from(
    [
        b"content-length",
        b"transfer-encoding",
        b"x-api-key",
        b"authorization",
        b"connection",
        b"expect",
        b"host",
        b"x-custom",
        b"te",
        b"upgrade",
        b"anthropic-version",
    ]
)
_KNOWN_VALUES = st.sampled_from(
    [b"0", b"5", b"-1", b"99999999999999999999", b"chunked", b"close", b"100-continue", b"Bearer " + TOKENS[0].encode()]
)
# mostly well-formed pieces (so requests get past the parser and reach the header rules), some raw bytes
_NAMES = st.one_of(*[_KNOWN_NAMES] * 7, st.binary(min_size=0, max_size=12))
_PRINTABLE = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=16).map(str.encode)
_VALUES = st.one_of(_KNOWN_VALUES, _KNOWN_VALUES, _PRINTABLE, _PRINTABLE, st.binary(max_size=24))
_HEADERS = st.lists(st.tuples(_NAMES, _VALUES), max_size=5)
_SEPARATORS = st.sampled_from([b"\r\n", b"\r\n", b"\r\n", b"\r\n", b"\n", b"\r", b"\r\n "])
_SUFFIXES = st.one_of(*[st.sampled_from([b"", b"", b"?beta=true", b"/x"])] * 5, st.binary(max_size=6))


@st.composite
def requests(draw: st.DrawFn) -> tuple[bytes, list[int]]:
    """A raw request (maybe malformed) and where to cut it into chunks."""
    hostile = draw(st.booleans())  # half the cases are well-formed HTTP that exercises the header rules
    sep = draw(_SEPARATORS) if hostile else b"\r\n"
    method = draw(_METHODS) if hostile else draw(st.sampled_from([b"GET", b"POST", b"DELETE", b"TRACE"]))
    suffix = draw(_SUFFIXES) if hostile else b""
    head = method + b" " + draw(_PATHS) + suffix + b" HTTP/1.1\r\nhost: gw\r\n"
    if draw(st.booleans()):
        head += b"x-api-key: " + TOKENS[0].encode() + b"\r\n"
    fields = _HEADERS if hostile else st.lists(st.tuples(_KNOWN_NAMES, _KNOWN_VALUES | _PRINTABLE), max_size=5)
    for name, value in draw(fields):
        head += name + b": " + value + sep
    body = draw(st.binary(max_size=200))
    if draw(st.booleans()):
        body = b"%x\r\n%b\r\n0\r\n\r\n" % (len(body), body)  # a chunked framing, whatever the headers say
    raw = head + b"\r\n" + body
    cuts = sorted(draw(st.lists(st.integers(min_value=1, max_value=max(1, len(raw) - 1)), max_size=4)))
    return raw, cuts


def _exchange(gw: GatewayThread, raw: bytes, cuts: list[int]) -> tuple[bytes, bool]:
    """Send `raw` in pieces, half-close, and read until the gateway closes; (answer, closed in time)."""
    with socket.create_connection(address(gw), timeout=5) as sock:
        at = 0
        try:
            for cut in [*cuts, len(raw)]:
                sock.sendall(raw[at:cut])
                at = cut
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the gateway already refused and closed: what it answered is read below
        parts: list[bytes] = []
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                data = sock.recv(65536)
            except TimeoutError:
                return b"".join(parts), False
            except OSError:
                return b"".join(parts), True  # reset: a clean close of a refused connection
            if not data:
                return b"".join(parts), True
            parts.append(data)
        return b"".join(parts), False


def _check_answer(answer: bytes) -> None:
    """The first response is HTTP/1.1, and an error the gateway wrote is in the API's error shape."""
    if not answer:
        return
    assert answer.startswith(b"HTTP/1.1 "), answer[:80]
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if status >= 400 and b"content-type: application/json" in head.lower():
        length = next(
            (
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ),
            len(body),
        )
        data = json.loads(body[:length])
        assert data["type"] == "error" and isinstance(data["error"]["type"], str), data
        assert isinstance(data["error"]["message"], str)


@pytest.fixture(scope="module")
def fuzz_gateway() -> Iterator[GatewayThread]:
    """A gateway in tokens mode with short client timeouts, in front of an upstream that answers 200 to anything."""

    async def handler(request: web.Request) -> web.StreamResponse:
        await request.read()
        return web.json_response({"data": [], "has_more": False})

    with (
        Upstream(handler) as up,
        run_gateway(
            up.base_url,
            tokens=TOKENS,
            upstream_key="sk-ant-api03-fuzz-held-key-000000",
            client_read_timeout=0.5,
            head_timeout=1.0,
            body_timeout=1.0,
            head_limit=4096,
            max_headers=16,
            body_limit=1024,
            body_budget=4096,
            budget_wait=0.2,
        ) as gw,
    ):
        yield gw


@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=requests())
def test_any_request_bytes_get_an_api_shaped_answer_or_a_clean_close(
    fuzz_gateway: GatewayThread, case: tuple[bytes, list[int]], caplog: pytest.LogCaptureFixture
) -> None:
    """Random heads, bodies and chunkings: an answer in the API's shape or a close, in bounded time, no traceback."""
    raw, cuts = case
    with caplog.at_level(logging.ERROR, logger="claudewire"):
        answer, closed = _exchange(fuzz_gateway, raw, cuts)
    assert closed, f"no close within 8 s for {raw[:200]!r}; got {answer[:200]!r}"
    _check_answer(answer)
    # the gateway's own records only: an earlier test's aiohttp upstream may be garbage-collected (and log) meanwhile
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("claudewire")]
    assert not errors, [r.getMessage() for r in errors]
    assert b"fuzz-held-key" not in answer


def test_the_gateway_still_answers_after_the_fuzzing(fuzz_gateway: GatewayThread) -> None:
    """After all of that, a well-formed request is answered normally and no body budget is left taken."""
    raw = b"GET /v1/models HTTP/1.1\r\nhost: gw\r\nx-api-key: " + TOKENS[0].encode() + b"\r\nconnection: close\r\n\r\n"
    answer, closed = _exchange(fuzz_gateway, raw, [])
    assert closed and answer.startswith(b"HTTP/1.1 200 ")
    assert fuzz_gateway.gateway is not None
    deadline = time.monotonic() + 5
    while fuzz_gateway.gateway.http.budget.used and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fuzz_gateway.gateway.http.budget.used == 0
