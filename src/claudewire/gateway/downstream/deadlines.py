"""The clocks of a client connection's read side: an idle keep-alive connection, and a request that must keep arriving.

A request must keep arriving (at most `read_timeout` between reads) and arrive whole (its head within
`head_timeout`, its body within `body_timeout`); a connection with no request is closed after `keepalive_timeout`.
`ReadDeadlines` is owned by its `downstream.http.Connection`: one timer handle per kind at most, armed only when it
can expire; a timer that fires only queues the connection's check on the server's reaper, which runs a batch per
loop iteration (thousands of connections timing out together never stall the loop).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from claudewire.gateway.downstream.limits import ServerState

__all__ = ["ReadDeadlines"]


class ReadDeadlines:
    """The idle and the receive timers of one connection; `idle_check` and `recv_check` run (on the reaper) when due."""

    __slots__ = ("_idle", "_idle_check", "_limits", "_loop", "_reaper", "_recv", "_recv_check", "deadline", "last_read")

    def __init__(self, state: ServerState, idle_check: Callable[[], None], recv_check: Callable[[], None]) -> None:
        self._limits = state.limits
        self._reaper = state.reaper
        self._loop = asyncio.get_running_loop()
        self._idle_check = idle_check
        self._recv_check = recv_check
        self._idle: asyncio.TimerHandle | None = None
        self._recv: asyncio.TimerHandle | None = None
        self.deadline = 0.0  # when the request being read must be whole
        self.last_read = 0.0  # when bytes last arrived (the connection sets it on every read)

    @property
    def idle_armed(self) -> bool:
        """Whether the idle timer is set (an idle check that finds it set again has nothing to do)."""
        return self._idle is not None

    def idle(self, seconds: float | None = None) -> None:
        """Close the connection after `seconds` (default keepalive_timeout) unless a request begins."""
        seconds = self._limits.keepalive_timeout if seconds is None else seconds
        if seconds > 0:
            self._idle = self._loop.call_later(seconds, self._idle_due)

    def head_began(self) -> None:
        """A request began: no longer idle; its head must be whole within head_timeout of its first bytes."""
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        self.deadline = self.last_read + self._limits.head_timeout

    def body_began(self) -> None:
        """The head is whole: the body must be within body_timeout."""
        self.deadline = self._loop.time() + self._limits.body_timeout

    @property
    def watching(self) -> bool:
        """Whether the receive timer is set."""
        return self._recv is not None

    def watch(self, now: float) -> None:
        """(Re-)arm the receive timer for the earlier of the deadline and read_timeout after the last read."""
        if self._recv is not None:
            self._recv.cancel()
        at = min(self.deadline, self.last_read + self._limits.read_timeout)
        self._recv = self._loop.call_at(max(at, now + 0.001), self._recv_due)

    def unwatch(self) -> None:
        """The request is whole: no receive timer."""
        if self._recv is not None:
            self._recv.cancel()
            self._recv = None

    def stop(self) -> None:
        """Nothing more is read: no timer at all."""
        for handle in (self._idle, self._recv):
            if handle is not None:
                handle.cancel()
        self._idle = self._recv = None

    def lost(self) -> None:
        """The connection is gone: no timer, and nothing called back (no reference cycle is left for the GC)."""
        self.stop()
        self._idle_check = self._recv_check = _nothing

    def late(self, in_head: bool, paused: bool) -> str | None:
        """Why the request being read is late (the 408's message), or None, and then the timer is armed again.

        `paused`: the connection stopped reading (not the client), so the client's clock starts again now."""
        limits = self._limits
        now = self._loop.time()
        if paused:
            self.last_read = now
            self.deadline = max(self.deadline, now + limits.read_timeout)
        elif now >= self.deadline or now - self.last_read >= limits.read_timeout:
            what = "request head" if in_head else "request body"
            if now >= self.deadline:
                total = limits.head_timeout if in_head else limits.body_timeout
                return f"the {what} did not arrive whole within {total:g}s"
            return f"the client sent nothing for {limits.read_timeout:g}s in the middle of its {what}"
        self.watch(now)
        return None

    def _idle_due(self) -> None:
        self._idle = None
        self._reaper.push(self._idle_check)

    def _recv_due(self) -> None:
        self._recv = None
        self._reaper.push(self._recv_check)


def _nothing() -> None:
    pass
