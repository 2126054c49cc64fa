"""What a client connection owes its client: the requests it has read, answered one at a time, in order.

Each request is answered by its handler (one task, created when its turn comes) or by the refusal the HTTP layer
already wrote for it; the connection's `ResponseWriter` writes the current answer. Pipelined requests wait their
turn (`_MAX_PIPELINE` at most before the connection stops reading); a request whose body still waits for the body
budget is `blocked` until its bytes are granted. `Answers` is owned by its `downstream.http.Connection` and tells it
what it needs through the callbacks it was given: the connection must end, nothing is due any more, reading must
pause or may resume.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable, Coroutine
from typing import Any

from claudewire.gateway.downstream.bodies import BodyReader
from claudewire.gateway.downstream.request import Request
from claudewire.gateway.downstream.respond import ResponseWriter

__all__ = ["MAX_PIPELINE", "Answers"]

MAX_PIPELINE = 16  # requests due on one connection before it stops reading (it reads again at half)


class Answers:
    """The requests a connection has read and not yet answered: the running one, the `blocked` one, those `pending`.

    `run(req)` makes the handler's coroutine for `req`; `ended(refused)` is called when the connection must end after
    what was written (`refused`: it ends on a refusal); `quiet()` when nothing is due any more; `pause()` and `resume()`
    when too many requests are due, and no longer.
    """

    __slots__ = (
        "_ended",
        "_loop",
        "_pause",
        "_quiet",
        "_reader",
        "_resume",
        "_run_handler",
        "_writer",
        "blocked",
        "eof",
        "paused",
        "pending",
        "running",
        "task",
    )

    def __init__(
        self,
        reader: BodyReader,
        writer: ResponseWriter,
        run: Callable[[Request], Coroutine[Any, Any, None]],
        ended: Callable[[bool], None],
        quiet: Callable[[], None],
        pause: Callable[[], None],
        resume: Callable[[], None],
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._reader = reader
        self._writer = writer
        self._run_handler = run
        self._ended = ended
        self._quiet = quiet
        self._pause = pause
        self._resume = resume
        self.pending: collections.deque[Request] = collections.deque()
        self.task: asyncio.Task[None] | None = None
        self.running: Request | None = None
        self.blocked: Request | None = None  # whole, its body still waiting for the budget: it runs once granted
        self.paused = False  # reading paused: too many requests are due
        self.eof = False  # the client half-closed: end once nothing is due

    @property
    def due(self) -> bool:
        """Whether an answer is being written or waits its turn."""
        return self.task is not None or self.blocked is not None or bool(self.pending)

    def add(self, req: Request) -> None:
        """`req` was read (or refused): answer it now, or once the answers before it are out."""
        if self.task is None and self.blocked is None:
            if self.pending:  # what is due goes first
                self.pending.append(req)
                req = self.pending.popleft()
            self._answer(req)
            return
        self.pending.append(req)
        if len(self.pending) >= MAX_PIPELINE and not self.paused:
            self.paused = True
            self._pause()

    def granted(self, req: Request) -> bool:
        """The budget granted `req`'s bytes: True when it was blocked, whole, and now runs."""
        if req is not self.blocked:
            return False
        self.blocked = None
        self._reader.settle(req)
        self._resume()
        self._answer(req)
        return True

    def unblock(self) -> Request | None:
        """The connection stops reading: the request blocked on the budget, if any (it is no longer blocked)."""
        blocked, self.blocked = self.blocked, None
        return blocked

    def lost(self) -> None:
        """The connection is gone: stop the handler (and so its upstream call), give back what is held, and call
        back nothing more (which also frees the connection at once: no reference cycle is left for the GC)."""
        if self.task is not None and not self.task.done():
            self.task.cancel()
        for req in self.pending:
            self._reader.release(req)
        self.pending.clear()
        self._ended, self._quiet, self._pause, self._resume = _ignore, _nothing, _nothing, _nothing
        self._run_handler = _no_answer

    def _answer(self, req: Request) -> None:
        writer = self._writer
        while True:
            writer.begin(req)
            if req is self._reader.waiting:  # whole, but its bytes are not granted yet: it runs from `granted`
                self.blocked = req
                return
            if req.refusal is None:
                self.running = req
                self.task = task = self._loop.create_task(self._run_handler(req))
                task.add_done_callback(self._done)
                return
            self._reader.release(req)
            writer.send(req.refusal)
            if writer.close_after or (self.eof and not self.pending):
                self._ended(True)
                return
            if not self.pending:
                self._next()
                return
            req = self.pending.popleft()

    def _done(self, task: asyncio.Task[None]) -> None:
        self.task = None
        if self.running is not None:
            self._reader.release(self.running)
            self.running = None
        writer = self._writer
        if writer.closed:
            return
        if not task.cancelled() and task.exception() is not None:
            # the handler failed after committing (or could not answer): the stream is unusable
            writer.abort()
            return
        if writer.close_after or (self.eof and not self.pending):
            self._ended(False)
            return
        self._next()

    def _next(self) -> None:
        if self.pending:
            if self.paused and len(self.pending) <= MAX_PIPELINE // 2:
                self.paused = False
                self._resume()
            self._answer(self.pending.popleft())
            return
        self._quiet()


def _nothing() -> None:
    pass


def _ignore(_: bool) -> None:
    pass


async def _no_answer(_: Request) -> None:
    pass
