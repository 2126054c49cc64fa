"""Resilience: the simulator's faults, handled by the gateway with the shared policy core, seen by the official SDK."""

from __future__ import annotations

import asyncio
import datetime
import json
import math
import socket
import threading
import time

import anthropic
import httpx2
import pytest
from aiohttp import web

from claudewire.policy import Policy
from claudewire.testing import FastClock, run_sim
from tests.conftest import SIM_KEY, SIM_MODEL
from tests.gateway.conftest import Upstream, run_gateway, target_key

MESSAGES = [{"role": "user", "content": "hello"}]


def _client(base_url: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=base_url, api_key=SIM_KEY, max_retries=0)


def _sample(gw: object, name: str, **labels: str) -> float:
    from claudewire.gateway import GatewayThread

    assert isinstance(gw, GatewayThread) and gw.gateway is not None
    value = gw.gateway.metrics.registry.get_sample_value(name, labels)
    return value or 0.0


def test_529_storm_is_retried_invisibly() -> None:
    """Two 529s then success: the client gets the message, the upstream saw 3 attempts, metrics count 2 retries."""
    with run_sim(seed=0, faults=["529:1.0,count=2"]) as sim, run_gateway(sim.base_url) as gw:
        message = _client(gw.base_url).messages.create(model=SIM_MODEL, max_tokens=16, messages=MESSAGES)
        assert message.stop_reason == "end_turn"
        assert sim.stats.total == 3
        key = target_key(sim.base_url)
        assert _sample(gw, "claudewire_upstream_retries_total", upstream=key, reason="overloaded") == 2
        assert _sample(gw, "claudewire_upstream_attempts_total", upstream=key, outcome="overloaded") == 2
        assert _sample(gw, "claudewire_upstream_attempts_total", upstream=key, outcome="ok") == 1


def test_529_past_max_retries_passes_the_upstream_answer_on() -> None:
    """When retries run out the client gets the upstream's own 529 overloaded_error, after max_retries + 1 tries."""
    policy = Policy(max_retries=2, breaker_failures=100)
    with run_sim(seed=0, faults=["529:1.0"]) as sim, run_gateway(sim.base_url, policy=policy) as gw:
        with pytest.raises(anthropic.APIStatusError) as info:
            _client(gw.base_url).messages.create(model=SIM_MODEL, max_tokens=16, messages=MESSAGES)
        assert sim.stats.total == 3
    assert info.value.status_code == 529
    assert info.value.response.headers["request-id"].startswith("req_")  # the upstream's, not ours
    assert not info.value.message.startswith("claudewire gateway")


def test_connection_resets_are_retried() -> None:
    """Two TCP resets before any answer are retried; the client sees one clean success."""
    with run_sim(seed=0, faults=["reset:1.0,count=2"]) as sim, run_gateway(sim.base_url) as gw:
        message = _client(gw.base_url).messages.create(model=SIM_MODEL, max_tokens=16, messages=MESSAGES)
        assert message.content and sim.stats.total == 3


def test_overloaded_error_event_before_first_delta_is_retried_transparently() -> None:
    """An overloaded_error event before the first delta is retried; the client's stream shows no trace of it."""
    with (
        run_sim(seed=0) as healthy,
        _client(healthy.base_url).messages.stream(model=SIM_MODEL, max_tokens=16, messages=MESSAGES) as s,
    ):
        expected = s.get_final_text()
    with (
        run_sim(seed=0, faults=["midstream_error:1.0,after=0,count=1"]) as sim,
        run_gateway(sim.base_url) as gw,
    ):
        with _client(gw.base_url).messages.stream(model=SIM_MODEL, max_tokens=16, messages=MESSAGES) as stream:
            kinds = [event.type for event in stream]
            text = stream.get_final_text()
        assert sim.stats.total == 2
    assert text == expected
    assert kinds.count("message_start") == 1 and "error" not in kinds


def test_error_event_after_first_delta_passes_through() -> None:
    """An error event after content was streamed reaches the client as is (no retry: the stream is committed)."""
    with (
        run_sim(seed=0, faults=["midstream_error:1.0,after=2"]) as sim,
        run_gateway(sim.base_url) as gw,
    ):
        client = _client(gw.base_url)
        with (
            pytest.raises(anthropic.APIStatusError) as info,
            client.messages.stream(model=SIM_MODEL, max_tokens=16, messages=MESSAGES) as stream,
        ):
            for _ in stream:
                pass
        assert sim.stats.total == 1
    assert "overloaded" in str(info.value).lower()


def test_breaker_opens_and_answers_529_with_retry_after_without_calling_upstream() -> None:
    """After breaker_failures failures the gateway answers 529 overloaded_error + retry-after; no upstream call."""
    policy = Policy(max_retries=0, breaker_failures=2, breaker_cooldown=30.0)
    with run_sim(seed=0, faults=["503:1.0"]) as sim, run_gateway(sim.base_url, policy=policy) as gw:
        client = _client(gw.base_url)
        for _ in range(2):
            with pytest.raises(anthropic.APIStatusError) as first:
                client.messages.create(model=SIM_MODEL, max_tokens=16, messages=MESSAGES)
            assert first.value.status_code == 503
        with pytest.raises(anthropic.APIStatusError) as info:
            client.messages.create(model=SIM_MODEL, max_tokens=16, messages=MESSAGES)
        assert sim.stats.total == 2
        ready = httpx2.get(gw.base_url + "/readyz")
        assert _sample(gw, "claudewire_breaker_state", upstream=target_key(sim.base_url)) == 2
    assert info.value.status_code == 529
    assert isinstance(info.value.body, dict) and info.value.body["error"]["type"] == "overloaded_error"
    assert "circuit breaker is open" in info.value.body["error"]["message"]
    assert 1 <= int(info.value.response.headers["retry-after"]) <= 30
    assert ready.status_code == 503 and "retry-after" in ready.headers


def test_unreachable_upstream_is_a_502_api_error_naming_the_cause() -> None:
    """A refused connection becomes an Anthropic-shaped 502 api_error whose message gives the taxonomy's cause."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again below: nothing listens there
    policy = Policy(max_retries=1)
    with run_gateway(f"http://127.0.0.1:{port}", policy=policy) as gw, pytest.raises(anthropic.APIStatusError) as info:
        _client(gw.base_url).messages.create(model=SIM_MODEL, max_tokens=16, messages=MESSAGES)
    assert info.value.status_code == 502
    assert isinstance(info.value.body, dict) and info.value.body["error"]["type"] == "api_error"
    assert "connection was refused" in info.value.body["error"]["message"]
    assert info.value.response.headers["request-id"].startswith("gw_")


def test_stalled_upstream_times_out_as_504_timeout_error() -> None:
    """An upstream that never answers gives a 504 timeout_error after read_timeout, not a hang."""
    policy = Policy(max_retries=0)
    with (
        run_sim(seed=0, faults=["stall:1.0,seconds=20"]) as sim,
        run_gateway(sim.base_url, policy=policy, read_timeout=0.3) as gw,
        pytest.raises(anthropic.APIStatusError) as info,
    ):
        _client(gw.base_url).messages.create(model=SIM_MODEL, max_tokens=16, messages=MESSAGES)
    assert info.value.status_code == 504
    assert isinstance(info.value.body, dict) and info.value.body["error"]["type"] == "timeout_error"


def test_silent_stream_before_first_delta_is_retried_then_reported() -> None:
    """A stream silent past idle_timeout before its first delta counts as a failed attempt (retried, then 504)."""
    policy = Policy(max_retries=1)
    with (
        run_sim(seed=0, faults=["slow:1.0,ms=2000"]) as sim,
        run_gateway(sim.base_url, policy=policy, idle_timeout=0.3) as gw,
    ):
        client = _client(gw.base_url)
        with (
            pytest.raises(anthropic.APIStatusError) as info,
            client.messages.stream(model=SIM_MODEL, max_tokens=16, messages=MESSAGES) as s,
        ):
            s.until_done()
        assert sim.stats.total == 2
    assert info.value.status_code == 504


def _sse(name: str, data: dict[str, object]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


START = _sse(
    "message_start",
    {
        "type": "message_start",
        "message": {"id": "msg_1", "type": "message", "role": "assistant", "model": SIM_MODEL, "content": [],
                    "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 5, "output_tokens": 1}},
    },
)  # fmt: skip
BLOCK = _sse("content_block_start", {"type": "content_block_start", "index": 0,
                                     "content_block": {"type": "text", "text": ""}})  # fmt: skip
DELTA = _sse("content_block_delta", {"type": "content_block_delta", "index": 0,
                                     "delta": {"type": "text_delta", "text": "hi "}})  # fmt: skip


def _stream_then(tail: str, events: list[str]) -> Upstream:
    """An upstream streaming start + one delta, then: 'silence' (sleep 30 s) or 'forever' (a delta every 20 ms)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        await response.write(START + BLOCK + DELTA)
        try:
            if tail == "silence":
                await asyncio.sleep(30)
            else:
                for _ in range(500):
                    await asyncio.sleep(0.02)
                    await response.write(DELTA)
        except (ConnectionError, asyncio.CancelledError):
            events.append("disconnected")
            raise
        return response

    return Upstream(handler)


def test_idle_stream_after_first_delta_ends_with_an_sse_error_event() -> None:
    """No bytes for idle_timeout after the first delta: the client gets an SSE error event and the stream ends."""
    events: list[str] = []
    with _stream_then("silence", events) as up, run_gateway(up.base_url, idle_timeout=0.3) as gw:
        body = {"model": SIM_MODEL, "max_tokens": 16, "stream": True, "messages": MESSAGES}
        with httpx2.stream("POST", gw.base_url + "/v1/messages", json=body, timeout=20) as response:
            text = b"".join(response.iter_bytes()).decode()
    assert response.status_code == 200
    assert text.startswith("event: message_start")
    assert "content_block_delta" in text
    last = text.strip().split("\n\n")[-1]
    assert last.startswith("event: error")
    error = json.loads(last.split("data: ", 1)[1])
    assert error["error"]["type"] == "timeout_error" and "stream idle timeout" in error["error"]["message"]


def test_client_disconnect_cancels_the_upstream_request() -> None:
    """A client that goes away mid-stream makes the gateway drop its upstream connection at once."""
    events: list[str] = []
    with _stream_then("forever", events) as up, run_gateway(up.base_url) as gw:
        body = {"model": SIM_MODEL, "max_tokens": 16, "stream": True, "messages": MESSAGES}
        with httpx2.stream("POST", gw.base_url + "/v1/messages", json=body, timeout=20) as response:
            next(response.iter_bytes())  # the stream is flowing; now hang up
        deadline = time.monotonic() + 10
        while "disconnected" not in events and time.monotonic() < deadline:
            time.sleep(0.02)
        while _sample(gw, "claudewire_in_flight_requests") and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _sample(gw, "claudewire_in_flight_requests") == 0
    assert events == ["disconnected"]


def test_a_slow_client_does_not_stall_others() -> None:
    """A client that stops reading a big stream holds only its own request; others are answered meanwhile."""
    chunk = b'event: ping\ndata: {"type": "ping"}\n\n' * 2000

    async def handler(request: web.Request) -> web.StreamResponse:
        await request.read()
        if request.path == "/v1/models":
            return web.json_response({"data": [], "has_more": False, "first_id": None, "last_id": None})
        response = web.StreamResponse(headers={"content-type": "application/octet-stream"})
        await response.prepare(request)
        try:
            for _ in range(2000):  # ~140 MB offered; a stalled reader must not make the gateway buffer it
                await response.write(chunk)
        except ConnectionError:
            pass
        return response

    with Upstream(handler) as up, run_gateway(up.base_url, read_timeout=30) as gw:
        host, port = gw.base_url.split("//")[1].split(":")
        stalled = socket.create_connection((host, int(port)))
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.sendall(f"GET /v1/files/big HTTP/1.1\r\nhost: {host}\r\n\r\n".encode())
        time.sleep(0.3)
        answers = [httpx2.get(gw.base_url + "/v1/models", timeout=5).status_code for _ in range(20)]
        stalled.close()
    assert answers == [200] * 20


def test_concurrency_cap_with_full_queue_answers_529() -> None:
    """Over max_concurrency with the queue full, a request gets 529 overloaded_error instead of piling up."""
    with (
        run_sim(seed=0, faults=["latency:1.0,ms=600"]) as sim,
        run_gateway(sim.base_url, max_concurrency=1, max_queue=0) as gw,
    ):
        results: list[object] = []

        def call() -> None:
            try:
                results.append(_client(gw.base_url).messages.create(model=SIM_MODEL, max_tokens=8, messages=MESSAGES))
            except anthropic.APIStatusError as exc:
                results.append(exc)

        threads = [threading.Thread(target=call) for _ in range(2)]
        for t in threads:
            t.start()
            time.sleep(0.15)
        for t in threads:
            t.join(20)
        assert sim.stats.total == 1
    errors = [r for r in results if isinstance(r, anthropic.APIStatusError)]
    assert len(results) == 2 and len(errors) == 1
    assert errors[0].status_code == 529 and "queue full" in str(errors[0].body)


def test_untrusted_upstream_certificate_is_a_502_naming_the_certificate() -> None:
    """An https upstream whose CA is not trusted: 502 api_error citing the certificate, never a silent bypass."""
    with run_sim(seed=0, tls=True) as sim, run_gateway(sim.base_url) as gw:
        with pytest.raises(anthropic.APIStatusError) as info:
            _client(gw.base_url).messages.create(model=SIM_MODEL, max_tokens=8, messages=MESSAGES)
        assert sim.stats.total == 0
    assert info.value.status_code == 502
    assert "certificate is not trusted" in str(info.value.body)


def test_https_upstream_works_with_its_ca_file() -> None:
    """With ca_file naming the upstream's CA, the gateway speaks TLS to it and the call succeeds."""
    with run_sim(seed=0, tls=True) as sim:
        assert sim.ca_path is not None
        with run_gateway(sim.base_url, ca_file=sim.ca_path) as gw:
            message = _client(gw.base_url).messages.create(model=SIM_MODEL, max_tokens=8, messages=MESSAGES)
            assert sim.stats.total == 1
    assert message.content and message.content[0].type == "text"


def test_empty_rate_limit_bucket_holds_the_next_request_until_its_reset() -> None:
    """After an answer saying requests-remaining 0 with a reset, the next request waits for the reset upstream-side."""
    arrivals: list[float] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        await request.read()
        arrivals.append(time.time())
        reset = datetime.datetime.fromtimestamp(math.ceil(time.time()) + 1, datetime.UTC)
        return web.json_response(
            {"type": "message", "content": [], "usage": {"input_tokens": 1, "output_tokens": 1}},
            headers={
                "anthropic-ratelimit-requests-remaining": "0" if len(arrivals) == 1 else "10",
                "anthropic-ratelimit-requests-reset": reset.isoformat().replace("+00:00", "Z"),
            },
        )

    clock = FastClock()
    with Upstream(handler) as up, run_gateway(up.base_url, clock=clock) as gw:
        for _ in range(2):
            assert httpx2.post(gw.base_url + "/v1/messages", json={}, timeout=10).status_code == 200
        waited = _sample(gw, "claudewire_ratelimit_wait_seconds_total", upstream=target_key(up.base_url))
    first_reset = math.ceil(arrivals[0]) + 1
    # held until the bucket refilled (on the fast clock: one wait of the time left to the reset), not sent into a 429
    assert len(clock.waits) == 1
    assert first_reset - arrivals[0] - 0.5 <= clock.waits[0] <= first_reset - arrivals[0]
    assert waited == clock.waits[0]


def test_readyz_turns_ready_when_the_cooldown_is_over() -> None:
    """/readyz is 503 while the breaker cools down and 200 once a probe may go, so a balancer sends that probe."""
    policy = Policy(max_retries=0, breaker_failures=1, breaker_cooldown=30.0)
    clock = FastClock()
    with (
        run_sim(seed=0, faults=["503:1.0,count=1"]) as sim,
        run_gateway(sim.base_url, policy=policy, clock=clock) as gw,
    ):
        with pytest.raises(anthropic.APIStatusError):
            _client(gw.base_url).messages.create(model=SIM_MODEL, max_tokens=16, messages=MESSAGES)
        assert httpx2.get(gw.base_url + "/readyz").status_code == 503
        clock.sleep(30.0)  # the injected clock moves past the cooldown: no real wait, no race with a loaded machine
        assert httpx2.get(gw.base_url + "/readyz").status_code == 200
        _client(gw.base_url).messages.create(model=SIM_MODEL, max_tokens=16, messages=MESSAGES)
        assert _sample(gw, "claudewire_breaker_state", upstream=target_key(sim.base_url)) == 0
