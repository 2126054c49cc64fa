"""Anthropic-shaped error answers the gateway writes itself, each naming its cause from the shared taxonomy.

Whatever goes wrong on the gateway's side of the wire (the upstream is unreachable, its certificate is untrusted,
the breaker is open, the queue is full, the body is too large) the client gets what the API itself would send:
``{"type": "error", "error": {"type": ..., "message": ...}}`` with a fitting status, so SDKs and Claude Code handle
it like any API error (and retry the retryable ones). The message starts with ``claudewire gateway:`` so nobody
mistakes it for the API's own words.
"""

from __future__ import annotations

import json
import math

from claudewire._errors import Failure, FailureKind
from claudewire._secrets import redact_text

__all__ = ["ErrorAnswer", "error_answer", "sse_error_event"]

# kind -> (HTTP status, Anthropic error type); anything not listed is a 502 api_error (the path to the API failed)
_ANSWER: dict[FailureKind, tuple[int, str]] = {
    FailureKind.CIRCUIT_OPEN: (529, "overloaded_error"),
    FailureKind.OVERLOADED: (529, "overloaded_error"),
    FailureKind.LOCAL_RESOURCES: (529, "overloaded_error"),  # the gateway's own limit: clients retry 529
    FailureKind.RATE_LIMIT: (429, "rate_limit_error"),
    FailureKind.REQUEST_TOO_LARGE: (413, "request_too_large"),
    FailureKind.AUTH: (401, "authentication_error"),
    FailureKind.PERMISSION: (403, "permission_error"),
    FailureKind.NOT_FOUND: (404, "not_found_error"),
    FailureKind.INVALID_REQUEST: (400, "invalid_request_error"),
    FailureKind.READ_TIMEOUT: (504, "timeout_error"),
    FailureKind.CONNECT_TIMEOUT: (504, "timeout_error"),
    FailureKind.TIMEOUT: (504, "timeout_error"),
    FailureKind.NO_RESPONSE: (504, "timeout_error"),
}


class ErrorAnswer:
    """A ready-to-send error: status, extra header lines (``retry-after``) and the JSON body."""

    __slots__ = ("body", "error_type", "headers", "kind", "status")

    def __init__(self, status: int, error_type: str, kind: FailureKind, headers: bytes, body: bytes) -> None:
        self.status = status
        self.error_type = error_type
        self.kind = kind
        self.headers = headers
        self.body = body


def _message(failure: Failure, detail: str | None) -> str:
    parts = ["claudewire gateway:", failure.cause]
    extra = detail or failure.message
    if extra:
        parts.append(f"({redact_text(extra)})")
    parts.append(f"Fix: {failure.fix}")
    return " ".join(parts)


def error_answer(failure: Failure, *, detail: str | None = None, request_id: str = "") -> ErrorAnswer:
    """The answer for `failure`: status and type from its kind, a message with the taxonomy's cause and fix."""
    status, error_type = _ANSWER.get(failure.kind, (502, "api_error"))
    body: dict[str, object] = {"type": "error", "error": {"type": error_type, "message": _message(failure, detail)}}
    if request_id:
        body["request_id"] = request_id
    headers = b"content-type: application/json\r\n"
    if request_id:
        headers += b"request-id: " + request_id.encode("ascii", "replace") + b"\r\n"
    if failure.retry_after is not None:
        headers += b"retry-after: %d\r\n" % max(1, math.ceil(failure.retry_after))
    if failure.retryable:
        headers += b"x-should-retry: true\r\n"
    return ErrorAnswer(status, error_type, failure.kind, headers, json.dumps(body).encode())


def sse_error_event(failure: Failure, *, detail: str | None = None) -> bytes:
    """An SSE ``error`` event for a stream that already began (the status line is long gone)."""
    _, error_type = _ANSWER.get(failure.kind, (502, "api_error"))
    data = {"type": "error", "error": {"type": error_type, "message": _message(failure, detail)}}
    return b"event: error\ndata: " + json.dumps(data).encode() + b"\n\n"
