"""The request-body layer of a client connection: a body's pieces, and the share of the body budget they hold.

A body reserves twice its size while it arrives (its pieces, and the one `bytes` they are joined into at the end)
and keeps its size once it is whole, so what the budget admits is what the process holds. A body that finds the
budget taken waits in its line with the connection's reading paused (`budget_wait`, then 529); a chunked body
reserves as it grows and gets 529 at once when there is no room. `gateway.http.Connection` builds on this layer.
"""

from __future__ import annotations

import asyncio

from claudewire.gateway.downstream.limits import ServerState, refusal
from claudewire.gateway.downstream.request import Request, body_length
from claudewire.gateway.downstream.respond import ResponseWriter

__all__ = ["BodyReader", "StopParsing"]


class StopParsing(Exception):
    """Raised from a parser callback to stop parsing; the connection already knows what to answer."""


class BodyReader(ResponseWriter):
    """A connection's request bodies within the server's body budget (the reading side's lifecycle: a subclass)."""

    def __init__(self, state: ServerState) -> None:
        super().__init__(state)
        self._body: list[bytes] = []
        self._body_size = 0
        self._waiting: Request | None = None  # the request whose body waits in the budget's line
        self._blocked: Request | None = None  # ... once it has arrived whole: it runs when the bytes are granted
        self._expect = False
        self._paused_budget = False
        self._budget_handle: asyncio.TimerHandle | None = None

    # --- what the connection does for this layer ----------------------------------------------------------------
    def _pause(self) -> None:
        raise NotImplementedError

    def _resume(self) -> None:
        raise NotImplementedError

    def _run(self, req: Request) -> None:
        raise NotImplementedError

    def _refuse(self, reason: str, answer: bytes) -> None:
        raise NotImplementedError

    # --- bodies and the budget ------------------------------------------------------------------------------------
    def _reserve(self, req: Request, size: int, expect: bool) -> None:
        """Reserve the budget a body of `size` needs, or wait in line for it (reading paused) with `req`."""
        need = self._need(size)
        if size and not self._state.budget.take(need, None if self._paused_budget else self._budget_granted):
            if self._paused_budget:  # a pipelined body behind one already waiting: no second place in line
                self._refuse_budget()
                raise StopParsing
            self._paused_budget = True
            self._waiting, self._expect = req, expect
            self._pause()
            self._budget_handle = self._loop.call_later(self._limits.budget_wait, self._budget_timeout)
            return
        req.reserved = need
        if expect:
            self._continue()

    def _add_piece(self, req: Request, body: bytes) -> bool:
        """Keep a piece of `req`'s body, reserving as a chunked body grows; False when it is over the limit (then
        `too_large`, nothing kept)."""
        self._body_size += len(body)
        if self._body_size > self._limits.body_limit:
            req.too_large = True
            self._release(req)
            self._body = []
            return False
        need = self._need(self._body_size)
        if need > req.reserved and not self._paused_budget:
            # a chunked body reserves as it grows; no room left: 529 rather than an unbounded wait mid-body
            if not self._state.budget.take(need - req.reserved):
                self._release(req)
                self._body = []
                self._refuse_budget()
                raise StopParsing
            req.reserved = need
        self._body.append(body)
        return True

    def _whole(self, req: Request) -> None:
        """The body has arrived: join its pieces into `req.body` and keep only the budget that holds."""
        pieces, self._body = self._body, []
        if not req.too_large:
            req.body = pieces[0] if len(pieces) == 1 else b"".join(pieces)
            del pieces  # freed now: from here the joined body is all that is held
            if req is not self._waiting:
                self._settle(req)

    def _release(self, req: Request) -> None:
        if req.reserved:
            n, req.reserved = req.reserved, 0
            self._state.budget.give(n)

    def _need(self, size: int) -> int:
        # A body is held twice for a moment: its pieces and the bytes they are joined into. The budget counts that
        # moment, so what it admits is what is really held (capped: a body the limit allows must still fit).
        return min(2 * size, self._state.budget.capacity)

    def _settle(self, req: Request) -> None:
        # the body is whole and joined: keep only what it holds now
        held = len(req.body)
        if req.reserved > held:
            n, req.reserved = req.reserved - held, held
            self._state.budget.give(n)

    def _budget_granted(self) -> None:
        # only called while this connection waits in line (leaving the line always goes through forget())
        req, self._waiting = self._waiting, None
        self._paused_budget = False
        if self._budget_handle is not None:
            self._budget_handle.cancel()
            self._budget_handle = None
        if req is None:  # cannot happen while waiting; never keep bytes nobody holds
            return
        req.reserved = self._need(body_length(req))
        if req is self._blocked:
            self._blocked = None
            self._settle(req)
            self._resume()
            self._run(req)
            return
        if self._expect:
            self._continue()
        self._resume()

    def _continue(self) -> None:
        """Tell a client that sent `Expect: 100-continue` to send its body (curl waits a second otherwise)."""
        if self.transport is not None:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _leave_budget_line(self) -> None:
        if self._paused_budget:
            self._paused_budget = False
            self._state.budget.forget(self._budget_granted)
        if self._waiting is not None and self._waiting is self._blocked:
            self._blocked = None
        self._waiting = None
        if self._budget_handle is not None:
            self._budget_handle.cancel()
            self._budget_handle = None

    def _refuse_budget(self) -> None:
        self._refuse("body_budget", self._budget_refusal())

    @staticmethod
    def _budget_refusal() -> bytes:
        msg = "the gateway holds as many request bodies as its body_budget allows; retry shortly"
        return refusal(529, "overloaded_error", msg, close=True, retry_after=1)

    def _budget_timeout(self) -> None:
        self._budget_handle = None
        if self._paused_budget and not self.closed:
            self._leave_budget_line()
            self._refuse_budget()
