"""Errors and rate-limit headers in OpenAI's shape.

An Anthropic error answer (status, ``{"type": "error", "error": {"type", "message"}}``) becomes OpenAI's envelope
``{"error": {"message", "type", "param", "code"}}`` with the status unchanged, the Anthropic error type kept as
``type`` (``rate_limit_error``, ``overloaded_error`` ...) and the upstream's message text kept as ``message``;
``code`` carries ``error.details.error_code`` when the upstream gave one. A body that is not an Anthropic error (a
proxy's HTML page) keeps its first 200 characters as the message and takes the type its status implies. Errors the
gateway writes itself and `DialectError` 400s use the same envelope.

Headers: ``anthropic-ratelimit-<what>-<limit|remaining|reset>`` -> ``x-ratelimit-<limit|remaining|reset>-<what>``
(OpenAI's names; a reset time becomes the duration OpenAI clients parse, ``1m30s``), ``retry-after`` and
``retry-after-ms`` kept, ``request-id`` also as ``x-request-id``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from claudewire.dialects.common import DialectError, dumps

__all__ = [
    "OpenAIError",
    "dialect_error",
    "from_anthropic",
    "openai_headers",
    "responses_error_code",
]

_STATUS_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_RESPONSES_CODES = {  # the Responses API's ResponseError.code is a closed set
    "rate_limit_error": "rate_limit_exceeded",
    "invalid_request_error": "invalid_prompt",
    "request_too_large": "invalid_prompt",
}
_RATE_FIELDS = ("limit", "remaining", "reset")


@dataclass(frozen=True, slots=True)
class OpenAIError:
    """One error in OpenAI's shape: the HTTP status and the envelope's fields."""

    status: int
    message: str
    type: str
    param: str | None = None
    code: str | None = None

    def envelope(self) -> dict[str, Any]:
        """``{"error": {"message", "type", "param", "code"}}``."""
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def body(self) -> bytes:
        """The envelope as JSON bytes."""
        return dumps(self.envelope())


def _status_type(status: int) -> str:
    return _STATUS_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")


def from_anthropic(status: int, body: bytes | Mapping[str, Any] | None) -> OpenAIError:
    """The OpenAI error for an upstream error answer (status unchanged, Anthropic type and message kept)."""
    payload: Any = body
    if isinstance(body, bytes | bytearray):
        try:
            payload = json.loads(body)
        except ValueError:
            text = bytes(body).decode("utf-8", "replace").strip()[:200]
            return OpenAIError(
                status,
                f"upstream answered {status}: {text}" if text else f"upstream answered {status}",
                _status_type(status),
            )
    error = payload.get("error") if isinstance(payload, Mapping) else None
    if isinstance(error, Mapping):
        kind = str(error["type"]) if isinstance(error.get("type"), str) else _status_type(status)
        message = str(error["message"]) if isinstance(error.get("message"), str) else f"upstream answered {status}"
        details = error.get("details")
        code = details.get("error_code") if isinstance(details, Mapping) else None
        return OpenAIError(status, message, kind, None, code if isinstance(code, str) else None)
    flat = payload.get("message") if isinstance(payload, Mapping) else None  # Bedrock, Vertex: {"message": ...}
    return OpenAIError(status, flat if isinstance(flat, str) else f"upstream answered {status}", _status_type(status))


def dialect_error(exc: DialectError) -> OpenAIError:
    """The OpenAI error for a body the translator refused."""
    return OpenAIError(exc.status, exc.message, exc.error_type, exc.param)


def responses_error_code(error_type: str) -> str:
    """The Responses ``error.code`` (a closed set) for an Anthropic error type."""
    return _RESPONSES_CODES.get(error_type, "server_error")


def _duration(seconds: float) -> str:
    """A Go-style duration as OpenAI's reset headers write it: ``250ms``, ``12s``, ``1m30s``."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    whole = round(seconds)
    minutes, secs = divmod(whole, 60)
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


def _reset(value: str, now: float) -> str:
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return _duration(max(0.0, moment.timestamp() - now))


def openai_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]], *, now: float) -> list[tuple[str, str]]:
    """The headers an OpenAI client reads, from the upstream's; `now` is the wall clock (epoch s) for reset times."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    out: list[tuple[str, str]] = []
    for name, value in items:
        key = name.lower()
        if key in ("retry-after", "retry-after-ms"):
            out.append((key, value))
        elif key == "request-id":
            out.append(("x-request-id", value))
        elif key.startswith("anthropic-ratelimit-"):
            what, _, field = key[len("anthropic-ratelimit-") :].rpartition("-")
            if field in _RATE_FIELDS and what:
                out.append((f"x-ratelimit-{field}-{what}", _reset(value, now) if field == "reset" else value))
            else:
                out.append(("x-ratelimit-" + key[len("anthropic-ratelimit-") :], value))
    return out
