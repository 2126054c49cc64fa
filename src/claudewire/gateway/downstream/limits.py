"""What bounds the gateway's client side whatever a peer does: head and body sizes, read and write timeouts, open
connections, and one budget for the request bodies buffered across all connections.

`HttpLimits` is the frozen set of numbers; `ServerState` is what the connections of one server share (the open
connection count, the `BodyBudget`, the `Reaper` that runs timeouts a batch per loop iteration, a hook told about
each refusal). `refusal()` renders the Anthropic-shaped error
answer the HTTP layer writes itself (431, 408, 405, 400, 529 ...), before any handler runs.
"""

from __future__ import annotations

import asyncio
import collections
import ctypes
import ctypes.util
import json
from collections.abc import Callable
from dataclasses import dataclass

from claudewire._messages import GATEWAY_MARKER, WHO_ACTS, Party
from claudewire.gateway.wire import status_line

__all__ = [
    "ALLOWED_METHODS",
    "HEALTH_RESERVE",
    "HEALTH_WAIT",
    "UNAUTHENTICATED_BODY",
    "BodyBudget",
    "HttpLimits",
    "Reaper",
    "ServerState",
    "head_too_large",
    "malformed",
    "over_capacity",
    "refusal",
]

# The Messages API and its siblings (models, files, batches, skills) use these; TRACE, CONNECT and the rest are
# never forwarded (a TRACE would reflect the held key).
ALLOWED_METHODS = frozenset({b"GET", b"HEAD", b"POST", b"PUT", b"PATCH", b"DELETE", b"OPTIONS"})
_TRIM_AFTER = 16 * 1024 * 1024  # give freed body memory back to the OS after a burst that buffered this much
# Past max_connections this many more are read, for /healthz and /readyz alone (a probe must not see a busy gateway
# as a dead one), each for at most HEALTH_WAIT seconds before its request; beyond them, 529 at once.
HEALTH_RESERVE = 16
HEALTH_WAIT = 2.0
# What a caller that is not authenticated may send as a body: read and dropped, never held or reserved; past it the
# request is answered (401) without its body and the connection closed.
UNAUTHENTICATED_BODY = 64 * 1024


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """The client-side limits of one server (see `GatewayConfig` for what each means)."""

    body_limit: int = 32 * 1024 * 1024
    head_limit: int = 64 * 1024
    max_headers: int = 200
    body_budget: int = 256 * 1024 * 1024
    budget_wait: float = 10.0
    keepalive_timeout: float = 75.0
    read_timeout: float = 30.0
    head_timeout: float = 30.0
    body_timeout: float = 300.0
    write_timeout: float = 60.0
    max_connections: int = 10000


class BodyBudget:
    """Bytes of request bodies held in memory across all connections, at most `capacity`; later ones wait in line.

    `take(n, granted)` reserves at once (True) or queues `granted` to be called once `n` bytes are free (False);
    `forget(granted)` leaves the line; `give(n)` returns bytes and serves the line in order.
    """

    __slots__ = ("_peak", "_trim", "capacity", "used", "waiting")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.used = 0
        # in line order, `granted` → bytes: leaving the line is O(1) however many wait
        self.waiting: collections.OrderedDict[Callable[[], None], int] = collections.OrderedDict()
        self._peak = 0
        self._trim = _malloc_trim()

    def take(self, n: int, granted: Callable[[], None] | None = None) -> bool:
        """Reserve `n` bytes now, or (with `granted`) queue for them; False when they are not free now."""
        if not self.waiting and self.used + n <= self.capacity:
            self.used += n
            self._peak = max(self._peak, self.used)
            return True
        if granted is not None:
            self.waiting[granted] = n  # bound methods are equal (and hash alike) from one access to the next
        return False

    def forget(self, granted: Callable[[], None]) -> None:
        """Leave the line (the connection went away or gave up waiting)."""
        self.waiting.pop(granted, None)
        self._serve()

    def give(self, n: int) -> None:
        """Return `n` reserved bytes."""
        self.used -= n
        self._serve()
        if self.used == 0 and self._peak >= _TRIM_AFTER:
            # large bodies leave freed heap pages behind (glibc raises its mmap threshold as they come and go):
            # once the burst is over, hand them back
            self._peak = 0
            if self._trim is not None:
                self._trim(0)

    def _serve(self) -> None:
        waiting = self.waiting
        while waiting and self.used + (n := next(iter(waiting.values()))) <= self.capacity:
            granted, _ = waiting.popitem(last=False)
            self.used += n
            self._peak = max(self._peak, self.used)
            granted()


def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


class Reaper:
    """Timeouts of connections (cuts, closes, re-checks), run at most `per_tick` per event-loop iteration.

    Thousands of silent connections opened together time out together; cutting them all in one iteration would hold
    every other client up for as long (a well-behaved call waited 100+ ms behind 2,000 of them). A timer that fires
    only queues its work here (O(1)); the queue drains one batch per iteration, between the loop's reads.
    """

    __slots__ = ("_queue", "_scheduled", "per_tick")

    def __init__(self, per_tick: int = 32) -> None:
        self._queue: collections.deque[Callable[[], None]] = collections.deque()
        self._scheduled = False
        self.per_tick = per_tick

    def push(self, work: Callable[[], None]) -> None:
        """Run `work` soon: in this loop iteration's batch, or a later one's."""
        self._queue.append(work)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._drain)

    def __len__(self) -> int:
        return len(self._queue)

    def _drain(self) -> None:
        queue = self._queue
        try:
            for _ in range(min(self.per_tick, len(queue))):
                queue.popleft()()
        finally:  # even if one failed: the rest still run
            if queue:
                asyncio.get_running_loop().call_soon(self._drain)
            else:
                self._scheduled = False


class ServerState:
    """What the connections of one server share: limits, the open connection count, the body budget."""

    __slots__ = ("budget", "limits", "on_refused", "open", "reaper")

    def __init__(self, limits: HttpLimits, on_refused: Callable[[str], None] | None = None) -> None:
        self.limits = limits
        self.open = 0
        self.budget = BodyBudget(limits.body_budget)
        self.reaper = Reaper()
        self.on_refused = on_refused

    def refused(self, reason: str) -> None:
        """Count one refusal by its (bounded) reason."""
        if self.on_refused is not None:
            self.on_refused(reason)


def refusal(
    status: int, error_type: str, message: str, *, close: bool, retry_after: int | None = None, allow: bool = False
) -> bytes:
    """A whole HTTP response in the API's error shape, written by the HTTP layer itself.

    Its message names who acts: the gateway's operator for a limit of the gateway (a 5xx: connections, body
    budget), the caller for the rest (a malformed head, a method or path not forwarded, a request sent too slowly).
    """
    who = WHO_ACTS[Party.OPERATOR if status >= 500 else Party.CALLER]
    text = f"{GATEWAY_MARKER} {message} {who}"
    body = json.dumps({"type": "error", "error": {"type": error_type, "message": text}})
    head = [status_line(status), b"content-type: application/json\r\n"]
    if retry_after is not None:
        head.append(b"retry-after: %d\r\nx-should-retry: true\r\n" % retry_after)
    if allow:
        head.append(b"allow: " + b", ".join(sorted(ALLOWED_METHODS)) + b"\r\n")
    if close:
        head.append(b"connection: close\r\n")
    head.append(b"content-length: %d\r\n\r\n" % len(body))
    return b"".join(head) + body.encode()


def malformed(message: str) -> bytes:
    """The 400 for bytes that are not a request the gateway can read; the connection closes."""
    return refusal(400, "invalid_request_error", message, close=True)


def head_too_large(limits: HttpLimits) -> bytes:
    """The 431 for a head over `head_limit` bytes or `max_headers` fields; the connection closes."""
    msg = f"the request head is over {limits.head_limit} bytes or {limits.max_headers} header fields"
    return refusal(431, "invalid_request_error", msg, close=True)


def over_capacity(limits: HttpLimits) -> bytes:
    """The 529 for a connection past `max_connections`; it closes."""
    msg = f"{limits.max_connections} client connections are open (max_connections); retry shortly"
    return refusal(529, "overloaded_error", msg, close=True, retry_after=1)
