"""Hostile peers on loopback: heads, bodies and slow clients are bounded, and answered in the API's error shape."""

from __future__ import annotations

import asyncio
import errno
import gc
import json
import os
import socket
import subprocess
import sys
import time
import tracemalloc
import weakref

import httpx2
from aiohttp import web

from claudewire import FailureKind, classify
from claudewire.gateway.downstream.errors import error_answer
from claudewire.gateway.downstream.http import Connection, Request
from claudewire.gateway.downstream.limits import HttpLimits, Reaper, ServerState
from claudewire.policy import Policy
from claudewire.testing import run_sim
from tests.conftest import SIM_KEY, SIM_MODEL
from tests.gateway.conftest import (
    Answer,
    RawUpstream,
    Upstream,
    address,
    ask,
    read_all,
    read_request,
    run_gateway,
    send_all,
)

BODY = json.dumps({"model": SIM_MODEL, "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}).encode()


def _post(body: bytes = BODY, extra: bytes = b"") -> bytes:
    head = (
        b"POST /v1/messages HTTP/1.1\r\nhost: gw\r\nx-api-key: " + SIM_KEY.encode() + b"\r\n"
        b"anthropic-version: 2023-06-01\r\ncontent-type: application/json\r\n"
    )
    return head + extra + b"content-length: %d\r\n\r\n" % len(body) + body


def _until(check: object, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not check() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.02)


def test_endless_header_value_is_cut_with_431() -> None:
    """One endless header value: 431 in the API's shape and the connection closed, long before it ends."""
    with run_sim(seed=0) as sim, run_gateway(sim.base_url, head_limit=16 * 1024) as gw:
        with socket.create_connection(address(gw)) as sock:
            send_all(sock, b"GET /v1/models HTTP/1.1\r\nhost: gw\r\nx-long: " + b"a" * (8 << 20))
            answer = Answer(read_all(sock))
        assert sim.stats.total == 0
    assert answer.status == 431 and answer.error_type() == "invalid_request_error"
    assert answer.headers["connection"] == "close"


def test_endless_run_of_small_headers_is_cut_with_431() -> None:
    """Thousands of small header lines: 431 at max_headers, nothing forwarded."""
    with run_sim(seed=0) as sim, run_gateway(sim.base_url) as gw:
        lines = b"".join(b"x-h%d: v\r\n" % i for i in range(20000))
        with socket.create_connection(address(gw)) as sock:
            send_all(sock, b"GET /v1/models HTTP/1.1\r\nhost: gw\r\n" + lines)
            answer = Answer(read_all(sock))
        assert sim.stats.total == 0
    assert answer.status == 431 and "200 header fields" in answer.json()["error"]["message"]


def test_endless_url_is_414() -> None:
    """A request target longer than the head limit: 414 in the API's shape."""
    with (
        run_sim(seed=0) as sim,
        run_gateway(sim.base_url, head_limit=4096) as gw,
        socket.create_connection(address(gw)) as sock,
    ):
        send_all(sock, b"GET /v1/models?" + b"q" * (1 << 20))
        answer = Answer(read_all(sock))
    assert answer.status == 414 and answer.error_type() == "invalid_request_error"


def test_upstream_endless_response_head_is_a_502() -> None:
    """An upstream that sends an endless response head: the gateway stops reading it and answers 502 api_error."""
    sent: list[int] = []

    def serve(sock: socket.socket) -> None:
        read_request(sock)
        sock.sendall(b"HTTP/1.1 200 OK\r\n")
        total = 0
        while total < 64 << 20:
            sock.sendall(b"x-endless: " + b"y" * 4096 + b"\r\n")
            total += 4110
            sent.append(total)

    with RawUpstream(serve) as up, run_gateway(up.base_url, policy=Policy(max_retries=0)) as gw:
        response = httpx2.get(gw.base_url + "/v1/models", timeout=20)
    assert response.status_code == 502 and response.json()["error"]["type"] == "api_error"
    assert "response head is over" in response.json()["error"]["message"]
    assert sent and sent[-1] < 16 << 20  # the upstream was cut off, not read to the end


def test_body_budget_makes_a_request_wait_then_529() -> None:
    """With the body budget taken by a slow upload, the next body waits budget_wait, then gets 529 overloaded."""
    limit = 64 * 1024
    with (
        run_sim(seed=0) as sim,
        run_gateway(sim.base_url, body_limit=limit, body_budget=limit, budget_wait=0.3) as gw,
    ):
        big = b'{"model": "%b", "max_tokens": 8, "messages": [{"role": "user", "content": "%b"}]}' % (
            SIM_MODEL.encode(),
            b"x" * 60000,
        )
        slow = socket.create_connection(address(gw))
        full = _post(big)
        send_all(slow, full[:-5000])  # holds ~60 KB of the budget, body unfinished
        _until(lambda: gw.gateway is not None and gw.gateway.http.budget.used > 0)
        refused = ask(gw, _post(big))
        send_all(slow, full[-5000:])
        first = Answer(read_all(slow, within=1.0))
        slow.close()
        _until(lambda: gw.gateway is not None and gw.gateway.http.budget.used == 0)
        assert gw.gateway is not None and gw.gateway.http.budget.used == 0
    assert refused.status == 529 and refused.error_type() == "overloaded_error"
    assert refused.headers["retry-after"] == "1"
    assert first.status == 200


def test_body_budget_queue_serves_the_waiting_request_once_bytes_are_free() -> None:
    """A body that finds the budget taken waits in line and is answered once the first request is done."""
    limit = 64 * 1024
    with (
        run_sim(seed=0) as sim,
        run_gateway(sim.base_url, body_limit=limit, body_budget=limit, budget_wait=20) as gw,
    ):
        padded = _post(BODY + b" " * 50000)
        slow = socket.create_connection(address(gw))
        send_all(slow, padded[:-100])
        _until(lambda: gw.gateway is not None and gw.gateway.http.budget.used > 0)
        waiting = socket.create_connection(address(gw))
        send_all(waiting, padded)
        _until(lambda: gw.gateway is not None and len(gw.gateway.http.budget.waiting) == 1)
        queued = gw.gateway is not None and len(gw.gateway.http.budget.waiting) == 1
        send_all(slow, padded[-100:])
        first = Answer(read_all(slow, within=1.5))
        second = Answer(read_all(waiting, within=1.5))
        slow.close()
        waiting.close()
    assert queued
    assert (first.status, second.status) == (200, 200)


def _upload(port: int, body: bytes) -> Answer:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(
            b"POST /v1/messages HTTP/1.1\r\nhost: gw\r\nconnection: close\r\ncontent-length: %d\r\n\r\n" % len(body)
        )
        sock.sendall(memoryview(body))  # no copy: what the test measures is the server's memory
        return Answer(read_all(sock, within=30))


def test_bodies_arriving_together_hold_no_more_than_the_body_budget() -> None:
    """Four 8 MiB bodies at once under a 32 MiB budget: traced memory never exceeds the budget, joins included."""
    size, n = 8 << 20, 4
    budget = n * size  # all four fit if a body is counted once; the first to be joined then held one body more
    body = b"x" * size

    async def handler(req: Request, conn: Connection) -> None:
        conn.respond(200, b"", b"%d" % len(req.body))

    async def main() -> tuple[int, list[Answer]]:
        state = ServerState(HttpLimits(body_limit=size, body_budget=budget))
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: Connection(handler, state), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            answers = await asyncio.gather(*(asyncio.to_thread(_upload, port, body) for _ in range(n)))
            peak = tracemalloc.get_traced_memory()[1] - base
        finally:
            tracemalloc.stop()
            server.close()
        return peak, answers

    peak, answers = asyncio.run(main())
    assert [a.status for a in answers] == [200] * n and {a.body for a in answers} == {b"%d" % size}
    assert peak <= budget + (2 << 20), f"peak {peak / 2**20:.1f} MiB over a {budget / 2**20:.0f} MiB budget"


def test_expect_100_continue_over_the_limit_is_413_at_once() -> None:
    """Expect: 100-continue with a Content-Length over body_limit is answered 413 without waiting for the body."""
    with run_sim(seed=0) as sim, run_gateway(sim.base_url, body_limit=1000) as gw:
        head = (
            b"POST /v1/messages HTTP/1.1\r\nhost: gw\r\nexpect: 100-continue\r\ncontent-length: 5000\r\n"
            b"content-type: application/json\r\n\r\n"
        )
        answer = ask(gw, head, within=5)
    assert answer.status == 413 and answer.error_type() == "request_too_large"


def test_half_closed_request_is_answered() -> None:
    """A client that sends its request and then shuts its side (SHUT_WR) still gets the whole answer."""
    with run_sim(seed=0) as sim, run_gateway(sim.base_url) as gw:
        answer = ask(gw, _post(), shut=True)
    assert answer.status == 200 and answer.json()["type"] == "message"


def test_client_silent_in_the_middle_of_a_head_gets_408() -> None:
    """One byte of a head and then silence: 408 timeout_error after client_read_timeout, then closed."""
    with run_sim(seed=0) as sim, run_gateway(sim.base_url, client_read_timeout=0.3) as gw:
        answer = ask(gw, b"G")
        body_stall = ask(gw, _post()[:-10])  # the head, most of the body, then nothing
    for a in (answer, body_stall):
        assert a.status == 408 and a.error_type() == "timeout_error"
    assert "request head" in answer.json()["error"]["message"]
    assert "request body" in body_stall.json()["error"]["message"]


def test_trickled_head_is_cut_at_the_head_timeout() -> None:
    """A head trickled one byte at a time (each within the read timeout) is refused once head_timeout is over."""
    with (
        run_sim(seed=0) as sim,
        run_gateway(sim.base_url, client_read_timeout=5, head_timeout=0.5) as gw,
        socket.create_connection(address(gw)) as sock,
    ):
        deadline = time.monotonic() + 10
        data = b"GET /v1/models HTTP/1.1\r\nx-slow: " + b"z" * 1000
        at = 0
        while time.monotonic() < deadline and send_all(sock, data[at : at + 1]):
            at += 1
            time.sleep(0.05)
            sock.setblocking(False)
            try:
                if sock.recv(1, socket.MSG_PEEK):
                    break
            except BlockingIOError:
                pass
        answer = Answer(read_all(sock))
    assert answer.status == 408 and "did not arrive whole within 0.5s" in answer.json()["error"]["message"]


def test_connections_over_the_cap_get_529_and_a_freed_slot_serves_again() -> None:
    """Past max_connections a new client's call gets 529 overloaded_error; once one closes, new clients are served."""
    with run_sim(seed=0) as sim, run_gateway(sim.base_url, max_connections=3) as gw:
        held = [socket.create_connection(address(gw)) for _ in range(3)]
        _until(lambda: gw.gateway is not None and gw.gateway.http.open == 3)
        over = ask(gw, b"GET /v1/models HTTP/1.1\r\nhost: gw\r\nx-api-key: " + SIM_KEY.encode() + b"\r\n\r\n")
        held.pop().close()
        _until(lambda: gw.gateway is not None and gw.gateway.http.open == 2)
        again = httpx2.get(gw.base_url + "/healthz", timeout=5)
        metrics = httpx2.get(gw.base_url + "/metrics", timeout=5).text
        for sock in held:
            sock.close()
    assert over.status == 529 and over.error_type() == "overloaded_error"
    assert "max_connections" in over.json()["error"]["message"]
    assert again.status_code == 200
    assert 'claudewire_gateway_refused_total{reason="connections"} 1.0' in metrics


def test_many_slow_connections_leave_room_for_a_good_client() -> None:
    """Hundreds of connections that sent one byte and went silent do not stop a normal request being answered."""
    with run_sim(seed=0) as sim, run_gateway(sim.base_url) as gw:
        slow = []
        for _ in range(300):
            sock = socket.create_connection(address(gw))
            sock.sendall(b"P")
            slow.append(sock)
        response = httpx2.post(
            gw.base_url + "/v1/messages",
            content=BODY,
            headers={"x-api-key": SIM_KEY, "anthropic-version": "2023-06-01"},
            timeout=10,
        )
        for sock in slow:
            sock.close()
    assert response.status_code == 200


def test_a_closed_connection_is_freed_at_once_not_left_to_the_cyclic_gc() -> None:
    """A connection that served a request and closed is freed by reference counting: nothing for a full GC pass.

    Thousands of closed connections left in reference cycles made one gen-2 collection stall the loop ~300 ms.
    """

    async def handler(req: Request, conn: Connection) -> None:
        conn.respond(200, b"", b"ok")

    async def main() -> tuple[list[Answer], list[weakref.ref[Connection]]]:
        state = ServerState(HttpLimits())
        made: list[weakref.ref[Connection]] = []

        def factory() -> Connection:
            conn = Connection(handler, state)
            made.append(weakref.ref(conn))
            return conn

        server = await asyncio.get_running_loop().create_server(factory, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        answers = [await asyncio.to_thread(_upload, port, b"{}") for _ in range(3)]
        for _ in range(50):  # the connections' loss callbacks run
            if state.open == 0:
                break
            await asyncio.sleep(0.02)
        for _ in range(5):
            await asyncio.sleep(0)
        server.close()
        return answers, made

    gc.disable()
    try:
        answers, made = asyncio.run(main())
        alive = [ref() is not None for ref in made]
    finally:
        gc.enable()
    assert [a.status for a in answers] == [200] * 3
    assert len(made) == 3 and not any(alive)


def test_reaper_runs_queued_timeouts_a_batch_per_loop_iteration() -> None:
    """Timeouts firing together run per_tick per loop iteration, other work between batches; a failure stops none."""
    errors: list[object] = []

    async def main() -> tuple[list[int], list[int]]:
        asyncio.get_running_loop().set_exception_handler(lambda _loop, ctx: errors.append(ctx.get("exception")))
        reaper = Reaper(per_tick=4)
        ran: list[int] = []
        after_each_iteration: list[int] = []

        def fail() -> None:
            raise RuntimeError("one timeout's work failed")

        for i in range(10):
            reaper.push(fail if i == 5 else lambda i=i: ran.append(i))
        for _ in range(6):
            await asyncio.sleep(0)  # one loop iteration: the test runs between the reaper's batches
            after_each_iteration.append(len(ran))
        return ran, after_each_iteration

    ran, seen = asyncio.run(main())
    assert ran == [0, 1, 2, 3, 4, 6, 7, 8, 9]
    assert seen[0] == 4 and seen[-1] == 9 and seen == sorted(seen)
    assert len(errors) == 1 and isinstance(errors[0], RuntimeError)


def test_open_file_limit_is_raised_to_the_hard_limit() -> None:
    """raise_open_files lifts a low soft RLIMIT_NOFILE to the hard limit and reports the new figure."""
    code = (
        "import resource\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))\n"
        "from claudewire.gateway.server import raise_open_files, open_files_limit\n"
        "got = raise_open_files()\n"
        "print(got, open_files_limit(), hard)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=os.environ)
    got, now, hard = out.stdout.split()
    assert got == now and (int(got) == int(hard) or int(got) == 1 << 20)


def test_emfile_is_an_overload_answered_529_not_an_unknown_failure() -> None:
    """EMFILE/ENFILE classify as local_resources (retryable) and the gateway answers 529 overloaded_error."""
    for code in (errno.EMFILE, errno.ENFILE):
        failure = classify(OSError(code, os.strerror(code)))
        assert failure is not None and failure.kind is FailureKind.LOCAL_RESOURCES and failure.retryable
        answer = error_answer(failure)
        assert answer.status == 529 and answer.error_type == "overloaded_error"
        assert "open files" in json.loads(answer.body)["error"]["message"]


def test_a_client_that_stops_reading_is_cut_and_its_upstream_released() -> None:
    """A streaming client that reads nothing is cut after write_timeout; the upstream call and its slot are freed."""
    events: list[str] = []
    chunk = b"event: content_block_delta\ndata: " + b'{"type":"content_block_delta"}' + b" " * 8000 + b"\n\n"

    async def handler(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        try:
            for _ in range(20000):  # ~160 MB offered to a client that reads none of it
                await response.write(chunk)
        except (ConnectionError, asyncio.CancelledError):
            events.append("disconnected")
            raise
        return response

    with Upstream(handler) as up, run_gateway(up.base_url, write_timeout=0.5, max_concurrency=1) as gw:
        stalled = socket.create_connection(address(gw))
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        body = b'{"model": "m", "stream": true}'
        stalled.sendall(b"POST /v1/messages HTTP/1.1\r\nhost: gw\r\ncontent-length: %d\r\n\r\n%b" % (len(body), body))
        _until(lambda: "disconnected" in events, within=20)
        assert gw.gateway is not None
        _until(lambda: gw.gateway is not None and gw.gateway.slots.active == 0)
        active = gw.gateway.slots.active
        stalled.close()
        metrics = gw.gateway.metrics.render().decode()
    assert events == ["disconnected"] and active == 0
    assert 'claudewire_gateway_refused_total{reason="write_timeout"} 1.0' in metrics
