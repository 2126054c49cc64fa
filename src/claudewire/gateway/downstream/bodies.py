"""The request-body part of a client connection: a body's pieces, and the share of the body budget they hold.

A body reserves twice its size while it arrives (its pieces, and the one `bytes` they are joined into at the end)
and keeps its size once it is whole, so what the budget admits is what the process holds. A body that finds the
budget taken waits in its line (`reserve` says so: the connection pauses reading) until its bytes are granted, or
`budget_wait` runs out (then 529); a chunked body reserves as it grows and gets 529 at once when there is no room.
A `BodyReader` is owned by its `downstream.http.Connection` and tells it what happened through the two callbacks it
was given; it never reaches back into the connection.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable

from claudewire.gateway.downstream.limits import ServerState, refusal
from claudewire.gateway.downstream.request import Request, body_length

__all__ = ["BodyReader", "Grant", "Piece", "StopParsing", "budget_refusal"]


class StopParsing(Exception):
    """Raised from a parser callback to stop parsing; the connection already knows what to answer."""


class Grant(enum.Enum):
    """What the budget said to a body's head."""

    NOW = "now"  # reserved
    LATER = "later"  # waiting in line: pause reading until `granted`
    NO_ROOM = "no_room"  # a body behind one already waiting, and no room now: 529


class Piece(enum.Enum):
    """What became of a piece of a body."""

    KEPT = "kept"
    TOO_LARGE = "too_large"  # past body_limit: nothing of the body is kept (the request is `too_large`)
    NO_ROOM = "no_room"  # a chunked body grew and the budget has no room for it: nothing kept, 529


def budget_refusal() -> bytes:
    """The 529 a body gets when the budget has no room for it (in time)."""
    msg = "the gateway holds as many request bodies as its body_budget allows; retry shortly"
    return refusal(529, "overloaded_error", msg, close=True, retry_after=1)


class BodyReader:
    """The body of the request a connection is reading, within the server's body budget.

    `granted(req, expect)` is called when the bytes of the request waiting in line are reserved; `timed_out()` when
    it waited `budget_wait` in vain (it has left the line).
    """

    __slots__ = (
        "_budget",
        "_granted",
        "_handle",
        "_limits",
        "_loop",
        "_timed_out",
        "expect",
        "pieces",
        "size",
        "waiting",
    )

    def __init__(
        self, state: ServerState, granted: Callable[[Request, bool], None], timed_out: Callable[[], None]
    ) -> None:
        self._budget = state.budget
        self._limits = state.limits
        self._loop = asyncio.get_running_loop()
        self._granted = granted
        self._timed_out = timed_out
        self._handle: asyncio.TimerHandle | None = None
        self.pieces: list[bytes] = []
        self.size = 0  # bytes of the current body so far
        self.waiting: Request | None = None  # the request whose body waits in the budget's line
        self.expect = False  # ... and whether it asked for a 100 Continue

    def begin(self) -> None:
        """A new message: no body yet."""
        self.pieces = []
        self.size = 0

    def reserve(self, req: Request, size: int, expect: bool) -> Grant:
        """Reserve the budget a body of `size` needs, or wait in line for it with `req` (one place per connection)."""
        need = self._need(size)
        queued = self.waiting is None
        if not size or self._budget.take(need, self._on_granted if queued else None):
            req.reserved = need
            return Grant.NOW
        if not queued:  # a pipelined body behind one already waiting: no second place in line
            return Grant.NO_ROOM
        self.waiting, self.expect = req, expect
        self._handle = self._loop.call_later(self._limits.budget_wait, self._on_timeout)
        return Grant.LATER

    def add(self, req: Request, piece: bytes) -> Piece:
        """Keep a piece of `req`'s body, reserving as a chunked body grows."""
        self.size += len(piece)
        if self.size > self._limits.body_limit:
            req.too_large = True
            self.release(req)
            self.pieces = []
            return Piece.TOO_LARGE
        need = self._need(self.size)
        if need > req.reserved and self.waiting is None:
            # a chunked body reserves as it grows; no room left: 529 rather than an unbounded wait mid-body
            if not self._budget.take(need - req.reserved):
                self.release(req)
                self.pieces = []
                return Piece.NO_ROOM
            req.reserved = need
        self.pieces.append(piece)
        return Piece.KEPT

    def whole(self, req: Request) -> None:
        """The body has arrived: join its pieces into `req.body` and keep only the budget that holds."""
        pieces, self.pieces = self.pieces, []
        if not req.too_large:
            req.body = pieces[0] if len(pieces) == 1 else b"".join(pieces)
            del pieces  # freed now: from here the joined body is all that is held
            if req is not self.waiting:
                self.settle(req)

    def release(self, req: Request) -> None:
        """Give back all `req` holds of the budget."""
        if req.reserved:
            n, req.reserved = req.reserved, 0
            self._budget.give(n)

    def settle(self, req: Request) -> None:
        """The body is whole and joined: keep only what it holds now."""
        held = len(req.body)
        if req.reserved > held:
            n, req.reserved = req.reserved - held, held
            self._budget.give(n)

    def leave_line(self) -> Request | None:
        """Stop waiting for the budget (the connection stops reading, or went away); the request that waited."""
        req, self.waiting = self.waiting, None
        if req is not None:
            self._budget.forget(self._on_granted)
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        return req

    def lost(self) -> None:
        """The connection is gone: leave the line, and call back nothing more (no reference cycle is left)."""
        self.leave_line()
        self.pieces = []
        self._granted, self._timed_out = _ignore, _nothing

    def _need(self, size: int) -> int:
        # A body is held twice for a moment: its pieces and the bytes they are joined into. The budget counts that
        # moment, so what it admits is what is really held (capped: a body the limit allows must still fit).
        return min(2 * size, self._budget.capacity)

    def _on_granted(self) -> None:
        # only called while this connection waits in line (leaving the line always goes through forget())
        req, self.waiting = self.waiting, None
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if req is None:  # cannot happen while waiting; never keep bytes nobody holds
            return
        req.reserved = self._need(body_length(req))
        self._granted(req, self.expect)

    def _on_timeout(self) -> None:
        self._handle = None
        if self.leave_line() is not None:
            self._timed_out()


def _nothing() -> None:
    pass


def _ignore(_: Request, __: bool) -> None:
    pass
