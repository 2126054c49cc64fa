"""Bounded waits in the gateway: the call's deadline, the caller's own timeout, first_byte_timeout for streams."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import anthropic
import httpx2
import pytest
from aiohttp import web

from claudewire.gateway import GatewayConfig, GatewayThread
from claudewire.policy import Policy
from claudewire.testing import run_sim
from tests.conftest import SIM_KEY, SIM_MODEL
from tests.gateway.conftest import ROOMY, Upstream, run_gateway

MESSAGES = [{"role": "user", "content": "hello"}]
BODY = {"model": SIM_MODEL, "max_tokens": 16, "messages": MESSAGES}


def _client(base_url: str) -> anthropic.Anthropic:
    # the SDK would give up at 10 s: a gateway that waits longer shows up as APITimeoutError, not as its answer
    return anthropic.Anthropic(base_url=base_url, api_key=SIM_KEY, max_retries=0, timeout=10.0)


def _error(info: pytest.ExceptionInfo[anthropic.APIStatusError]) -> str:
    body = info.value.body
    assert isinstance(body, dict)
    message: str = body["error"]["message"]
    return message


def _sse(name: str, data: dict[str, object]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


START = _sse(
    "message_start",
    {
        "type": "message_start",
        "message": {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": SIM_MODEL,
            "content": [],
            "stop_reason": None,
            "usage": {"input_tokens": 5, "output_tokens": 1},
        },
    },
)
PING = _sse("ping", {"type": "ping"})
REST = b"".join(
    (
        _sse("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text"}}),
        _sse(
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "hi"}},
        ),
        _sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
        _sse(
            "message_delta",
            {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}},
        ),
        _sse("message_stop", {"type": "message_stop"}),
    )
)


def test_deadline_bounds_a_stalled_upstream_as_in_the_client() -> None:
    """Policy(deadline=1.0) on a stalled upstream: a 504 naming the deadline, one attempt, no wait for read_timeout."""
    policy = Policy(deadline=1.0)
    with (
        run_sim(seed=0, faults=["stall:1.0,seconds=20"]) as sim,
        run_gateway(sim.base_url, policy=policy) as gw,
        pytest.raises(anthropic.APIStatusError) as info,
    ):
        try:
            _client(gw.base_url).messages.create(model=SIM_MODEL, max_tokens=16, messages=MESSAGES)
        finally:
            assert sim.stats.total == 1
    assert info.value.status_code == 504
    assert "deadline ran out" in _error(info)


def _post(base_url: str, caller_timeout: str | None) -> int:
    """POST /v1/messages as an SDK would (with its x-stainless-timeout when given); the status."""
    headers = {"x-api-key": SIM_KEY, "anthropic-version": "2023-06-01"}
    if caller_timeout is not None:
        headers["x-stainless-timeout"] = caller_timeout
    return httpx2.post(f"{base_url}/v1/messages", json=BODY, headers=headers, timeout=10.0).status_code


@pytest.mark.parametrize(
    ("fault", "status"),
    [("429:1.0,retry_after=3", 429), ("stall:1.0,seconds=20", 504)],
    ids=["retry-after-past-the-caller", "stalled"],
)
def test_a_caller_timeout_ends_the_call_when_the_caller_gives_up(fault: str, status: int) -> None:
    """x-stainless-timeout: 1 (no policy deadline): a 429 asking for 3 s is the answer at once, a stall a 504; one
    attempt either way, no retries on behalf of a caller that has given up."""
    with run_sim(seed=0, faults=[fault]) as sim, run_gateway(sim.base_url, policy=ROOMY) as gw:
        assert _post(gw.base_url, "1") == status
        assert sim.stats.total == 1


def test_without_a_caller_timeout_the_retry_after_is_waited_for() -> None:
    """The same 429 asking for 3 s with no caller timeout is retried after the wait, and succeeds."""
    with run_sim(seed=0, faults=["429:1.0,retry_after=3,count=1"]) as sim, run_gateway(sim.base_url) as gw:
        assert _post(gw.base_url, None) == 200
        assert sim.stats.total == 2
        assert _post(gw.base_url, "junk") == 200  # an unreadable caller timeout is ignored, not an error


def test_a_stream_whose_head_never_comes_is_retried_after_first_byte_timeout() -> None:
    """stream: true on a stalled upstream: each attempt ends at first_byte_timeout, retried, then 504 no_response."""
    policy = Policy(max_retries=1)
    with (
        run_sim(seed=0, faults=["stall:1.0,seconds=20"]) as sim,
        run_gateway(sim.base_url, policy=policy, first_byte_timeout=0.3) as gw,
    ):
        client = _client(gw.base_url)
        with (
            pytest.raises(anthropic.APIStatusError) as info,
            client.messages.stream(model=SIM_MODEL, max_tokens=16, messages=MESSAGES) as s,
        ):
            s.until_done()
        assert sim.stats.total == 2
    assert info.value.status_code == 504
    message = _error(info)
    assert "no answer came back in time" in message
    assert "Connecting timed out" not in message and "HTTPS_PROXY" not in message


async def _silent(request: web.Request) -> web.StreamResponse:
    """Headers, then nothing."""
    await request.read()
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await response.prepare(request)
    await asyncio.sleep(30)
    return response


async def _pings(request: web.Request) -> web.StreamResponse:
    """message_start, then pings and never a delta (for up to 30 s: longer than any bound here)."""
    await request.read()
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await response.prepare(request)
    await response.write(START)
    with contextlib.suppress(ConnectionError):
        for _ in range(600):
            await asyncio.sleep(0.05)
            await response.write(PING)
    return response


@pytest.mark.parametrize(
    ("handler", "said"),
    [(_silent, "no stream event within first_byte_timeout"), (_pings, "no content within first_byte_timeout")],
    ids=["headers-then-silence", "message-start-then-pings"],
)
def test_a_stream_whose_first_content_never_comes_is_retried(handler: Any, said: str) -> None:
    """Headers but no SSE event, or message_start then only pings: within first_byte_timeout the attempt fails and
    is retried, nothing reaches the client, and the call ends in a 504 naming it (never a blind wait as long as
    the pings come)."""
    policy = Policy(max_retries=1)
    with (
        Upstream(handler) as upstream,
        run_gateway(upstream.base_url, policy=policy, first_byte_timeout=0.3) as gw,
    ):
        with (
            pytest.raises(anthropic.APIStatusError) as info,
            _client(gw.base_url).messages.stream(model=SIM_MODEL, max_tokens=16, messages=MESSAGES) as s,
        ):
            s.until_done()
        assert upstream.hits == 2
    assert info.value.status_code == 504
    assert said in _error(info)


def test_first_byte_timeout_leaves_non_streamed_calls_to_read_timeout() -> None:
    """A non-streamed answer slower than first_byte_timeout still arrives: read_timeout bounds it, not the other."""
    with (
        run_sim(seed=0, faults=["latency:1.0,ms=500"]) as sim,
        run_gateway(sim.base_url, first_byte_timeout=0.1, read_timeout=5.0) as gw,
    ):
        reply = _client(gw.base_url).messages.create(model=SIM_MODEL, max_tokens=16, messages=MESSAGES)
        assert reply.content
        assert sim.stats.total == 1


def test_a_connection_never_answered_is_named_as_such() -> None:
    """A stalled non-streamed call past read_timeout: 504 no_response's cause, not "Connecting timed out"."""
    with (
        run_sim(seed=0, faults=["stall:1.0,seconds=20"]) as sim,
        run_gateway(sim.base_url, policy=Policy(max_retries=0), read_timeout=0.3) as gw,
        pytest.raises(anthropic.APIStatusError) as info,
    ):
        _client(gw.base_url).messages.create(model=SIM_MODEL, max_tokens=16, messages=MESSAGES)
    assert info.value.status_code == 504
    assert "The connection was made and the request sent" in _error(info)
    assert "HTTPS_PROXY" not in _error(info)


class _Broken:
    """An upstream plug-in with a bug: every send raises a plain RuntimeError."""

    async def send(self, *args: object, **kwargs: object) -> None:
        raise RuntimeError("bug in a plug-in")


def test_an_unexpected_error_is_logged_with_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    """A bug under an attempt is answered in the API's shape and logged at ERROR with its traceback."""
    with run_sim(seed=0) as sim, run_gateway(sim.base_url, policy=Policy(max_retries=0)) as gw:
        assert gw.gateway is not None
        for target in gw.gateway.routing.targets.values():  # the one upstream's sends go to the broken plug-in
            target.upstream.send = _Broken().send  # type: ignore[method-assign,assignment]
        with caplog.at_level(logging.ERROR, logger="claudewire.gateway"), pytest.raises(anthropic.APIStatusError):
            _client(gw.base_url).messages.create(model=SIM_MODEL, max_tokens=16, messages=MESSAGES)
    errors = [r for r in caplog.records if r.name == "claudewire.gateway" and r.levelno == logging.ERROR]
    assert errors and errors[0].exc_info is not None
    assert "bug in a plug-in" in str(errors[0].exc_info[1])
    assert SIM_KEY not in caplog.text


def test_a_callers_timeout_gets_the_last_529_before_it_fires() -> None:
    """SDK timeout 2 s (x-stainless-timeout: 2) before an always-529 upstream: the caller gets the upstream's own
    529 overloaded_error, not its own timeout; the gateway retried while a wait plus a useful attempt still fit."""
    with (
        run_sim(seed=0, faults=["529:1.0"]) as sim,
        GatewayThread(GatewayConfig(upstream=sim.base_url, port=0, policy=ROOMY, access_log=None)) as gw,
        pytest.raises(anthropic.APIStatusError) as info,
    ):
        client = anthropic.Anthropic(base_url=gw.base_url, api_key=SIM_KEY, max_retries=0, timeout=2.0)
        client.messages.create(model=SIM_MODEL, max_tokens=16, messages=MESSAGES)
    assert info.value.status_code == 529
    body = info.value.body
    assert isinstance(body, dict) and body["error"]["type"] == "overloaded_error"
    assert "deadline" not in body["error"]["message"]  # the upstream's answer as it was, not ours
    assert sim.stats.total >= 1


def test_a_stream_whose_head_never_comes_ends_within_stream_deadline_whatever_the_callers_timeout() -> None:
    """A stalled upstream, a caller willing to wait 30 s: retried first-byte timeouts stop at stream_deadline with
    an Anthropic-shaped 504, well before the caller's timeout (the defaults, 30 s and 90 s, scale this down)."""
    defaults = GatewayConfig()
    assert defaults.first_byte_timeout < defaults.stream_deadline < 120  # the default bound: under 2 minutes
    policy = Policy(backoff_initial=0.01, backoff_max=0.05, retry_budget=None)
    with run_sim(seed=0, faults=["stall:1.0,seconds=60"]) as sim:
        config = GatewayConfig(
            upstream=sim.base_url, port=0, policy=policy, access_log=None, first_byte_timeout=0.2, stream_deadline=1.0
        )
        with GatewayThread(config) as gw:
            client = anthropic.Anthropic(base_url=gw.base_url, api_key=SIM_KEY, max_retries=0, timeout=30.0)
            with (
                pytest.raises(anthropic.APIStatusError) as info,
                client.messages.stream(model=SIM_MODEL, max_tokens=16, messages=MESSAGES) as s,
            ):
                s.until_done()
            attempts = sim.stats.total
    assert info.value.status_code == 504
    body = info.value.body
    assert isinstance(body, dict) and body["type"] == "error" and body["error"]["type"]
    assert 2 <= attempts <= 6  # retried, and bounded by stream_deadline / first_byte_timeout (+1 cut short)


def test_message_start_then_only_pings_is_a_failed_attempt_retried_invisibly() -> None:
    """message_start, then pings and never a delta: within first_byte_timeout the attempt counts as failed and is
    retried; the client sees only the second attempt's whole stream."""

    hits = {"n": 0}

    async def pings_then_good(request: web.Request) -> web.StreamResponse:
        await request.read()
        hits["n"] += 1
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        await response.write(START)
        if hits["n"] == 1:
            with contextlib.suppress(ConnectionError):
                for _ in range(600):  # pings for up to 30 s: longer than any bound here
                    await asyncio.sleep(0.05)
                    await response.write(PING)
            return response
        await response.write(REST)
        return response

    with (
        Upstream(pings_then_good) as upstream,
        run_gateway(upstream.base_url, policy=Policy(max_retries=1), first_byte_timeout=0.5) as gw,
    ):
        text = _client(gw.base_url).messages.create(model=SIM_MODEL, max_tokens=16, messages=MESSAGES, stream=True)
        events = [event.type for event in text]
        assert upstream.hits == 2
    assert events.count("message_start") == 1  # the first attempt's head never reached the client
    assert "content_block_delta" in events and events[-1] == "message_stop"
