"""``/console``: the gateway's live page and its data, on the gateway's own listener.

- ``GET /console`` and its three static files (``console.css``, ``console.js``, ``icon.svg``): a page with no build
  step that fetches nothing from anywhere but this gateway, served under a strict Content-Security-Policy (no inline
  script or style, ``connect-src 'self'``, no frames, no forms posting anywhere). The page itself holds no data, so
  it is served to anyone.
- ``GET /console/api/snapshot[?since=N]``: everything the page shows, once, as JSON (calls numbered after N).
- ``GET /console/api/events[?since=N]``: the same as server-sent events, one every `interval` seconds while it
  changes. At most `max_streams` are open at once (more: 429 with ``retry-after``), so a forgotten tab or a loop of
  reconnects cannot make the gateway work for it beyond that; each ends when the gateway stops.

In tokens mode the two data paths need a gateway token, as ``/metrics`` does, sent as ``x-api-key`` or
``Authorization: Bearer``; the page asks for it in a form and keeps it in its own memory (never in a URL, a cookie
or storage), which is why the live stream is read with ``fetch`` rather than ``EventSource`` (that cannot send a
header).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import Callable, Sequence
from importlib import resources

from claudewire._errors import Failure, FailureKind
from claudewire.gateway.downstream.clients import ClientSpec
from claudewire.gateway.downstream.console.ring import CallRing, CallView
from claudewire.gateway.downstream.console.view import (
    JSON,
    UpstreamFacts,
    call_json,
    charts_json,
    clients_json,
    kinds_json,
    upstreams_json,
)
from claudewire.gateway.downstream.errors import error_answer
from claudewire.gateway.downstream.http import Connection, Request

__all__ = ["CSP", "Console"]

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "font-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""The Content-Security-Policy of every console answer: nothing inline, nothing from elsewhere."""

_SAFE = (
    b"content-security-policy: " + CSP.encode() + b"\r\n"
    b"x-content-type-options: nosniff\r\nreferrer-policy: no-referrer\r\nx-frame-options: DENY\r\n"
    b"cross-origin-resource-policy: same-origin\r\n"
)
_STATIC = {
    b"/console": ("console.html", b"text/html; charset=utf-8"),
    b"/console/": ("console.html", b"text/html; charset=utf-8"),
    b"/console/console.css": ("console.css", b"text/css; charset=utf-8"),
    b"/console/console.js": ("console.js", b"text/javascript; charset=utf-8"),
    b"/console/icon.svg": ("icon.svg", b"image/svg+xml"),
}
_SINCE = re.compile(rb"[?&]since=(\d{1,18})(?:&|$)")
_PING_EVERY = 15.0  # seconds: a comment line keeps an idle stream (and any proxy in between) from timing out


class Console:
    """The console of one gateway process: its ring of calls, the facts it is handed, and the page's handler.

    `facts` reads the gateway's upstream state (called only while a page asks); `clients` are the configured
    named clients; `admits` says whether a request carries a gateway token (None: no tokens, the data is open like
    ``/metrics`` is). `window` minutes of charts are sent.
    """

    def __init__(
        self,
        ring: CallRing,
        *,
        facts: Callable[[], UpstreamFacts],
        clients: Sequence[ClientSpec] = (),
        admits: Callable[[Request], bool] | None = None,
        interval: float = 1.0,
        max_streams: int = 8,
        window: int = 30,
    ) -> None:
        self.ring = ring
        self.facts = facts
        self.clients = tuple(clients)
        self.admits = admits
        self.interval = interval
        self.max_streams = max_streams
        self.window = window
        self.streams = 0  # event streams open now
        self._stop: asyncio.Event | None = None
        self._closing = False
        self._files: dict[str, bytes] = {}
        self._state: tuple[float, JSON] | None = None  # the last state sent, shared by streams within one tick

    def add(self, call: CallView) -> None:
        """Keep one finished call (the gateway's only cost per call while no page is open)."""
        self.ring.add(call)

    def close(self) -> None:
        """End every open event stream (the gateway is stopping)."""
        self._closing = True
        if self._stop is not None:
            self._stop.set()

    async def handle(self, req: Request, conn: Connection) -> None:
        """Answer one ``/console`` or ``/console/...`` request."""
        path = req.path
        if req.method != b"GET":
            self._error(conn, FailureKind.INVALID_REQUEST, "the console answers GET only")
            return
        static = _STATIC.get(path)
        if static is not None:
            name, ctype = static
            conn.respond(200, b"content-type: " + ctype + b"\r\ncache-control: no-cache\r\n" + _SAFE, self._file(name))
            return
        if path not in (b"/console/api/snapshot", b"/console/api/events"):
            paths = "/console, /console/api/snapshot, /console/api/events"
            self._error(conn, FailureKind.NOT_FOUND, f"the console serves {paths}")
            return
        if self.admits is not None and not self.admits(req):
            self._error(conn, FailureKind.AUTH, "the console's data needs a gateway token (x-api-key or Bearer)")
            return
        found = _SINCE.search(req.target)
        since = int(found.group(1)) if found else 0
        if path == b"/console/api/snapshot":
            body, _ = self.payload(since)
            conn.respond(200, b"content-type: application/json\r\ncache-control: no-store\r\n" + _SAFE, body)
            return
        await self._events(conn, since)

    def payload(self, since: int) -> tuple[bytes, int]:
        """The page's data: the calls numbered after `since` and the state now; and the newest call's number."""
        now = time.time()
        fresh = self.ring.since(since)
        calls = [call_json(seq, call) for seq, call in fresh]
        state = self._state_now(now)
        kinds = kinds_json({c["error"] for c in calls if c["error"]} | set(state["charts"]["errors"]))
        doc = {"seq": self.ring.seq, "size": self.ring.size, "calls": calls, "kinds": kinds}
        doc.update(state)
        return json.dumps(doc, separators=(",", ":")).encode(), self.ring.seq

    def _state_now(self, now: float) -> JSON:
        mono = time.monotonic()
        if self._state is not None and mono - self._state[0] < self.interval / 2:
            return self._state[1]
        state: JSON = {
            "gateway": upstreams_json(self.facts()),
            "clients": clients_json(self.clients, self.ring, now),
            "charts": charts_json(self.ring.window(now, self.window)),
            "tokens": self.admits is not None,
        }
        self._state = (mono, state)
        return state

    async def _events(self, conn: Connection, since: int) -> None:
        if self.streams >= self.max_streams or self._closing:
            msg = f"{self.max_streams} console streams are open already; close a console page or retry later"
            self._error(conn, FailureKind.RATE_LIMIT, msg, retry_after=10.0)
            return
        if self._stop is None:
            self._stop = asyncio.Event()
        stop = self._stop
        self.streams += 1
        try:
            head = b"content-type: text/event-stream\r\ncache-control: no-store\r\nx-accel-buffering: no\r\n"
            conn.start(200, head + _SAFE, b"")
            last = b""
            quiet = 0.0
            while not self._closing and not conn.closed:
                body, seq = self.payload(since)
                if body != last or quiet >= _PING_EVERY:
                    # identical state: nothing is written but a rare comment line
                    conn.write(b"data: " + body + b"\n\n" if body != last else b": ping\n\n")
                    last, since, quiet = body, seq, 0.0
                    await conn.drain()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.interval)
                quiet += self.interval
            conn.finish()
        except ConnectionError:
            return  # the page went away mid-write
        finally:
            self.streams -= 1

    def _file(self, name: str) -> bytes:
        body = self._files.get(name)
        if body is None:
            body = self._files[name] = resources.files(__package__).joinpath("static", name).read_bytes()
        return body

    def _error(self, conn: Connection, kind: FailureKind, message: str, retry_after: float | None = None) -> None:
        answer = error_answer(Failure.of(kind, message=message, retry_after=retry_after))
        conn.respond(answer.status, answer.headers + b"cache-control: no-store\r\n" + _SAFE, answer.body)
