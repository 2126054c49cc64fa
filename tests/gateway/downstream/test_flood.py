"""Floods that must not take the gateway from everyone else: unauthenticated bodies reserve nothing, and health and
readiness probes are answered while every client connection is taken."""

from __future__ import annotations

import asyncio
import json
import select
import socket
import time
from collections.abc import Callable

import httpx2

from claudewire.gateway.downstream.http import Connection, Request
from claudewire.gateway.downstream.limits import HEALTH_RESERVE, UNAUTHENTICATED_BODY, HttpLimits, ServerState
from claudewire.testing import run_sim
from tests.conftest import SIM_KEY, SIM_MODEL
from tests.gateway.conftest import Answer, address, ask, read_all, run_gateway, send_all

TOKEN = "cw-flood-good-token-00000000"
UPSTREAM_KEY = "sk-ant-api03-flood-held-key-0000000"
BODY = json.dumps({"model": SIM_MODEL, "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}).encode()


def _until(check: Callable[[], bool], within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _head(length: int, token: str = "cw-wrong-token") -> bytes:
    return (
        b"POST /v1/messages HTTP/1.1\r\nhost: gw\r\nx-api-key: " + token.encode() + b"\r\n"
        b"content-type: application/json\r\ncontent-length: %d\r\n\r\n" % length
    )


def test_unauthenticated_uploads_announcing_big_bodies_reserve_nothing() -> None:
    """Five callers without a valid token announce bodies the size of the budget and trickle: 401 at once, and a
    caller with a token is still served (it got 529 while they held the budget)."""
    limit = 256 * 1024
    with (
        run_sim(seed=0) as sim,
        run_gateway(
            sim.base_url,
            tokens=(TOKEN,),
            upstream_key=UPSTREAM_KEY,
            body_limit=limit,
            body_budget=2 * limit,
            budget_wait=0.5,
        ) as gw,
    ):
        assert gw.gateway is not None
        budget = gw.gateway.http.budget
        attackers = [socket.create_connection(address(gw), timeout=5) for _ in range(5)]
        for sock in attackers:
            send_all(sock, _head(limit) + b"{")
            # the gateway has judged this head: it answered, or (as before) it reserved or queued for the budget
            assert _until(lambda s=sock: bool(select.select([s], [], [], 0)[0] or budget.used or budget.waiting))
        good = httpx2.post(
            gw.base_url + "/v1/messages",
            content=BODY,
            headers={"x-api-key": TOKEN, "content-type": "application/json", "anthropic-version": "2023-06-01"},
            timeout=10,
        )
        answers = [Answer(read_all(sock, within=5)) for sock in attackers]
        for sock in attackers:
            sock.close()
    assert good.status_code == 200, good.text
    assert [a.status for a in answers] == [401] * 5
    assert all(a.error_type() == "authentication_error" and a.headers["connection"] == "close" for a in answers)


class _Transport:
    """Just enough of an asyncio transport to drive a `Connection` by hand, byte for byte."""

    def __init__(self) -> None:
        self.written = b""
        self.closing = False

    def get_extra_info(self, name: str, default: object = None) -> object:
        return default

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def write(self, data: bytes) -> None:
        self.written += data

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = True

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.closing = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def test_unauthenticated_small_bodies_are_dropped_not_held() -> None:
    """Bodies of callers without a token (within the allowance) are read and dropped: no byte of the budget is taken,
    and a caller with a token then reserves as usual."""
    seen: list[Request] = []

    async def handler(req: Request, conn: Connection) -> None:
        seen.append(req)
        conn.respond(401 if req.discard else 200, b"", b"{}")

    async def main() -> tuple[int, int, list[bytes]]:
        state = ServerState(HttpLimits(body_limit=1 << 20, body_budget=1 << 20))

        def authorize(req: Request) -> bool:
            return req.header(b"x-api-key") == TOKEN.encode()

        transports = []
        for _ in range(5):
            conn, transport = Connection(handler, state, authorize), _Transport()
            conn.connection_made(transport)  # type: ignore[arg-type]
            conn.data_received(_head(UNAUTHENTICATED_BODY) + b"x" * 1000)
            transports.append(transport)
        held_by_attackers = state.budget.used
        good, transport = Connection(handler, state, authorize), _Transport()
        good.connection_made(transport)  # type: ignore[arg-type]
        good.data_received(_head(len(BODY) + 10, TOKEN) + BODY)  # ten bytes still to come
        held_by_good = state.budget.used
        good.data_received(b" " * 10)
        for _ in range(3):
            await asyncio.sleep(0)
        return held_by_attackers, held_by_good, [transport.written.split(b"\r\n", 1)[0]]

    held_by_attackers, held_by_good, lines = asyncio.run(main())
    assert held_by_attackers == 0
    assert held_by_good == 2 * (len(BODY) + 10)  # the caller with a token reserves as it always did
    assert lines == [b"HTTP/1.1 200 OK"]
    assert [len(r.body) for r in seen] == [len(BODY) + 10]


def test_health_and_readiness_are_answered_with_every_connection_taken() -> None:
    """At max_connections, /healthz and /readyz (GET or HEAD) are still answered; any other request gets 529."""
    with run_sim(seed=0) as sim, run_gateway(sim.base_url, max_connections=20) as gw:
        assert gw.gateway is not None
        idle = [socket.create_connection(address(gw)) for _ in range(20)]
        assert _until(lambda: gw.gateway is not None and gw.gateway.http.open == 20)
        health = ask(gw, b"GET /healthz HTTP/1.1\r\nhost: gw\r\n\r\n")
        ready = ask(gw, b"GET /readyz HTTP/1.1\r\nhost: gw\r\n\r\n")
        head = ask(gw, b"HEAD /healthz HTTP/1.1\r\nhost: gw\r\n\r\n")
        call = ask(gw, b"GET /v1/models HTTP/1.1\r\nhost: gw\r\nx-api-key: " + SIM_KEY.encode() + b"\r\n\r\n")
        for sock in idle:
            sock.close()
    assert health.status == 200 and health.json() == {"status": "ok"}
    assert health.headers["connection"] == "close"  # a probe's connection is not kept past the cap
    assert ready.status == 200 and ready.json()["status"] == "ready"
    assert head.status == 200 and head.body == b""
    assert call.status == 529 and call.error_type() == "overloaded_error"


def test_past_the_health_reserve_every_connection_is_refused_at_once() -> None:
    """With the cap and the health reserve both taken by idle connections, a probe too gets 529 at once."""
    with run_sim(seed=0) as sim, run_gateway(sim.base_url, max_connections=4) as gw:
        idle = [socket.create_connection(address(gw)) for _ in range(4 + HEALTH_RESERVE)]
        assert _until(lambda: gw.gateway is not None and gw.gateway.http.open == 4 + HEALTH_RESERVE)
        with socket.create_connection(address(gw), timeout=5) as sock:
            answer = Answer(read_all(sock, within=5))  # answered before it sends anything
        for sock in idle:
            sock.close()
    assert answer.status == 529 and answer.error_type() == "overloaded_error"


def test_the_metrics_listener_answers_probes_whatever_the_main_port_holds() -> None:
    """With the main port and its health reserve full, /healthz and /readyz on metrics_port (what the Kubernetes
    manifests probe) are answered."""
    with run_sim(seed=0) as sim, run_gateway(sim.base_url, max_connections=4, metrics_port=0) as gw:
        assert gw.gateway is not None and gw.gateway.metrics_address is not None
        idle = [socket.create_connection(address(gw)) for _ in range(4 + HEALTH_RESERVE)]
        assert _until(lambda: gw.gateway is not None and gw.gateway.http.open == 4 + HEALTH_RESERVE)
        host, port = gw.gateway.metrics_address
        health = httpx2.get(f"http://{host}:{port}/healthz", timeout=5)
        ready = httpx2.get(f"http://{host}:{port}/readyz", timeout=5)
        for sock in idle:
            sock.close()
    assert health.status_code == 200 and ready.status_code == 200
