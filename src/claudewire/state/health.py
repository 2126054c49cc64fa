"""Whether the shared store is reachable, and what the log says about it: each state change once, with hysteresis.

A store that goes away and comes back is two lines: ``unreachable`` and ``back``. A store that flaps (it comes back
and drops again within `stable` seconds, e.g. a Redis across a lossy link) would be two lines every second; instead
the drop that follows a return by less than `stable` says it is flapping, and nothing more is logged until the
store has stayed up `stable` seconds (then one line with the count of interruptions), except one reminder a minute
while it keeps dropping. `up` itself (and ``claudewire_state_backend_up``) follows every change at once: only the
log is damped.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Callable

__all__ = ["Reachability", "describe"]

_log = logging.getLogger(__name__)
_REMINDER = 60.0  # seconds between two "still flapping" lines


class Reachability:
    """`up` and its log lines for the store at `url` (safe to print); `clock` is monotonic seconds."""

    def __init__(self, url: str, *, stable: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.url = url
        self.stable = stable
        self.clock = clock
        self.up = True
        self.drops = 0  # interruptions since the log last said "up"
        self._said_up = True
        self._flapping = False
        self._back_at = float("-inf")  # when the log last said "back"
        self._said_at = float("-inf")  # when the log last said anything
        self._generation = 0  # bumped at every drop: a pending "stable again" check for an older return is void

    def lost(self, reason: str) -> bool:
        """The store failed (`reason`, safe to print); False when it was already down (nothing to do)."""
        if not self.up:
            return False
        self.up = False
        self.drops += 1
        self._generation += 1
        now = self.clock()
        if self._said_up:
            self._said_up = False
            self._said_at = now
            if now - self._back_at < self.stable:
                self._flapping = True
                _log.warning(
                    "state backend %s unreachable again %.1f s after it came back (%s): it is flapping; serving from "
                    "this process's own state while it is away, next line when it has stayed up %g s",
                    self.url,
                    now - self._back_at,
                    reason,
                    self.stable,
                )
            else:
                _log.warning(
                    "state backend %s unreachable (%s): serving from this process's own state until it is back",
                    self.url,
                    reason,
                )
        elif now - self._said_at >= _REMINDER:
            self._said_at = now
            _log.warning(
                "state backend %s still flapping: %d interruption(s) since it was last stable (%s)",
                self.url,
                self.drops,
                reason,
            )
        return True

    def regained(self) -> None:
        """The store answers again."""
        self.up = True
        if self._said_up:
            return
        if not self._flapping:
            self._say_back()
            return
        generation = self._generation
        asyncio.get_running_loop().call_later(self.stable, self._confirm, generation)

    def _confirm(self, generation: int) -> None:
        if self.up and generation == self._generation and not self._said_up:
            self._say_back()

    def _say_back(self) -> None:
        flaps = f" after {self.drops} interruption(s), stable for {self.stable:g} s" if self._flapping else ""
        _log.warning("state backend %s is back%s: limits and state are shared again", self.url, flaps)
        self._said_up, self._flapping, self.drops = True, False, 0
        self._back_at = self._said_at = self.clock()


def describe(exc: BaseException, bound: float) -> str:
    """Why the store counts as down, for the log: the error, or the wait that ran out; how to trust its certificate."""
    reason = "no answer within %g ms" % (bound * 1000) if isinstance(exc, TimeoutError) else str(exc)
    if _untrusted(exc):
        reason += "; its TLS certificate is not trusted here: give its CA as [state] ca_file (or SSL_CERT_FILE)"
    return reason


def _untrusted(exc: BaseException) -> bool:
    """Whether `exc` (or what caused it) is a failed TLS certificate verification."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
