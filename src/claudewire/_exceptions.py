"""The exceptions claudewire raises itself. They subclass the SDK's own classes, so existing
``except anthropic.APIConnectionError`` clauses keep working::

    anthropic.APIConnectionError
     └── ClaudewireError            raised by claudewire, never by the SDK
          └── CircuitOpenError       the breaker of this upstream is open; no request was sent

Everything that goes wrong at the SDK's level escapes as the SDK's own exception (`anthropic.RateLimitError` ...),
never wrapped. `claudewire.classify` maps both to a `Failure` (`FailureKind.CIRCUIT_OPEN` for the breaker).
"""

from __future__ import annotations

import anthropic
import httpx2

__all__ = ["CircuitOpenError", "ClaudewireError"]


class ClaudewireError(anthropic.APIConnectionError):
    """Base of the exceptions claudewire raises itself (never a wrapper around the SDK's errors)."""


class CircuitOpenError(ClaudewireError):
    """The circuit breaker for this upstream is open: the call failed without a request being sent.

    `retry_after` is the rest of the breaker's cooldown, in seconds.
    """

    def __init__(self, *, upstream: str, retry_after: float, request: httpx2.Request) -> None:
        super().__init__(
            message=f"circuit open for {upstream}: recent calls all failed; next probe in {retry_after:.1f}s",
            request=request,
        )
        self.upstream = upstream
        self.retry_after = retry_after
