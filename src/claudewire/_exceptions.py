"""The exceptions claudewire raises itself. They subclass the SDK's own classes, so existing
``except anthropic.APIConnectionError`` clauses keep working::

    anthropic.APIConnectionError
     └── ClaudewireError            raised by claudewire, never by the SDK
          └── CircuitOpenError       the breaker of this upstream is open; no request was sent
    anthropic.APIResponseValidationError
     └── NotAnthropicResponseError  a 2xx answer that is not the API's (a captive portal's page, a proxy's)

Everything that goes wrong at the SDK's level escapes as the SDK's own exception (`anthropic.RateLimitError` ...),
never wrapped. `claudewire.classify` maps both to a `Failure` (`FailureKind.CIRCUIT_OPEN` for the breaker).
"""

from __future__ import annotations

from typing import Any

import anthropic
import httpx2

from claudewire._errors import Failure, FailureKind

__all__ = ["CircuitOpenError", "ClaudewireError", "NotAnthropicResponseError"]


class ClaudewireError(anthropic.APIConnectionError):
    """Base of the exceptions claudewire raises itself (never a wrapper around the SDK's errors)."""


class CircuitOpenError(ClaudewireError):
    """The circuit breaker for this upstream is open: the call failed without a request being sent.

    `retry_after` is the rest of the breaker's cooldown, in seconds.
    """

    def __init__(
        self, *, upstream: str, retry_after: float, request: httpx2.Request, last_failure: Failure | None = None
    ) -> None:
        last = ""
        if last_failure is not None:
            status = f"{last_failure.status} " if last_failure.status else ""
            said = f": {last_failure.message}" if last_failure.message else ""
            last = f" (the last: {status}{last_failure.kind.value}{said})"
        super().__init__(
            message=f"circuit open for {upstream}: recent calls all failed{last}; no request was sent, so none was "
            f"retried; next probe in {retry_after:.1f}s",
            request=request,
        )
        self.upstream = upstream
        self.retry_after = retry_after
        self.last_failure = last_failure
        """The failure of the last attempt that reached the upstream before the breaker opened (None: unknown)."""


class NotAnthropicResponseError(anthropic.APIResponseValidationError):
    """A successful status whose body is not the API's: a captive portal, a proxy's block page, a wrong base URL.

    The plain SDK would hand the page back as if it were the reply; this says what answered, with the taxonomy's
    cause and fix (`failure`, kind ``not_anthropic``). Not retried: the same page answers again.
    """

    def __init__(self, response: httpx2.Response, body: Any) -> None:
        self.failure = Failure.of(FailureKind.NOT_ANTHROPIC, retryable=False, status=response.status_code)
        content_type = response.headers.get("content-type", "?")
        super().__init__(
            response,
            body,
            message=f"HTTP {response.status_code} with {content_type} from {response.url} is not the Anthropic API: "
            f"{self.failure.cause} Fix: {self.failure.fix}",
        )
