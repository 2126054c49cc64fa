"""Fixtures for the gateway tests: a gateway in a thread in front of the simulator or a scripted upstream."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from claudewire.gateway import GatewayConfig, GatewayThread
from claudewire.gateway.upstream.specs import name_for_url
from claudewire.policy import Policy, RetryBudget
from claudewire.testing import FastClock

ROOMY = Policy(retry_budget=RetryBudget(min_retries=1000))
"""The default policy with a roomy retry budget (a test's many calls share one gateway's budget)."""


def target_key(url: str) -> str:
    """The metric label of the one key of an upstream given by URL: its name (from the host) and ``#0``."""
    return name_for_url(url) + "#0"


@contextlib.contextmanager
def run_gateway(upstream: str, clock: FastClock | None = None, **overrides: Any) -> Iterator[GatewayThread]:
    """A gateway on 127.0.0.1:0 in front of `upstream` on the fast policy's clock (`clock`, or a new FastClock:
    the policy's decisions, no real sleeps); `overrides` are `GatewayConfig` fields."""
    overrides.setdefault("policy", ROOMY)
    overrides.setdefault("access_log", None)
    config = GatewayConfig(upstream=upstream, port=0, **overrides)
    with GatewayThread(config, clock=clock or FastClock()) as gw:
        yield gw


@pytest.fixture
def access_log(tmp_path: Path) -> Path:
    """A file the gateway under test appends its access log to."""
    return tmp_path / "access.log"


Route = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Upstream:
    """An aiohttp server on 127.0.0.1:0 in a background thread, answering with the test's own handler.

    For what the simulator has no fault for: exact bytes, a stream that goes silent after a delta, an endless stream.
    `events` records what happened on the server side ("disconnected" when a write failed because the gateway
    closed the connection).
    """

    def __init__(self, handler: Route) -> None:
        self.handler = handler
        self.events: list[str] = []
        self.hits = 0
        self.base_url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, daemon=True)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.hits += 1
        return await self.handler(request)

    def _main(self) -> None:
        loop = self._loop = asyncio.new_event_loop()

        async def start() -> None:
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", self._handle)
            self._runner = web.AppRunner(app, shutdown_timeout=0.2)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            port = self._runner.addresses[0][1]
            self.base_url = f"http://127.0.0.1:{port}"
            self._ready.set()

        loop.run_until_complete(start())
        loop.run_forever()
        assert self._runner is not None
        loop.run_until_complete(self._runner.cleanup())
        loop.close()

    def __enter__(self) -> Upstream:
        self._thread.start()
        assert self._ready.wait(10), "scripted upstream did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def address(gw: GatewayThread) -> tuple[str, int]:
    """The gateway's (host, port) for raw sockets."""
    return "127.0.0.1", gw.port


def read_all(sock: socket.socket, *, within: float = 10.0, limit: int = 1 << 20) -> bytes:
    """What `sock` receives until the peer closes (or `within` seconds pass, or `limit` bytes came)."""
    sock.settimeout(within)
    parts: list[bytes] = []
    size = 0
    with contextlib.suppress(TimeoutError, ConnectionError):
        while size < limit:
            data = sock.recv(65536)
            if not data:
                break
            parts.append(data)
            size += len(data)
    return b"".join(parts)


def send_all(sock: socket.socket, data: bytes, *, chunk: int = 65536) -> bool:
    """Send `data` in chunks; False once the gateway has stopped taking it (it closed or reset the connection)."""
    sock.settimeout(5.0)
    try:
        for at in range(0, len(data), chunk):
            sock.sendall(data[at : at + chunk])
    except (ConnectionError, TimeoutError):
        return False
    return True


class Answer:
    """A raw HTTP answer: status, lower-cased headers and the body (de-chunked when needed)."""

    def __init__(self, raw: bytes) -> None:
        head, _, body = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.raw = raw
        self.status = int(lines[0].split(" ")[1]) if lines[0].startswith("HTTP/1.") else 0
        self.headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        if self.headers.get("transfer-encoding") == "chunked":
            out, rest = b"", body
            while rest:
                size, _, rest = rest.partition(b"\r\n")
                n = int(size or b"0", 16)
                if n == 0:
                    break
                out, rest = out + rest[:n], rest[n + 2 :]
            body = out
        self.body = body

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)

    def error_type(self) -> str:
        """The Anthropic error type of an error answer (asserting its shape)."""
        data = self.json()
        assert data["type"] == "error" and isinstance(data["error"]["message"], str), data
        return str(data["error"]["type"])


def ask(gw: GatewayThread, data: bytes, *, shut: bool = False, within: float = 10.0) -> Answer:
    """Send raw `data` to the gateway on a new connection and read its answer until it closes."""
    with socket.create_connection(address(gw), timeout=5) as sock:
        send_all(sock, data)
        if shut:
            sock.shutdown(socket.SHUT_WR)
        return Answer(read_all(sock, within=within))


class RawUpstream:
    """A TCP server on 127.0.0.1:0 whose connections are served by `serve(sock)` in threads (hostile upstreams)."""

    def __init__(self, serve: Callable[[socket.socket], None]) -> None:
        self.serve = serve
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.base_url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, daemon=True)

    def _main(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._one, args=(sock,), daemon=True).start()

    def _one(self, sock: socket.socket) -> None:
        sock.settimeout(10)
        with sock, contextlib.suppress(OSError):
            self.serve(sock)

    def __enter__(self) -> RawUpstream:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self.listener.close()


def read_request(sock: socket.socket) -> bytes | None:
    """One request head and Content-Length body from `sock` (None when the peer closed first)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        body += chunk
    return head + b"\r\n\r\n" + body
