"""Errors and rate-limit headers in OpenAI's shape."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from claudewire.dialects import DialectError, OpenAIError, dialect_error, from_anthropic, openai_headers
from claudewire.dialects.errors import responses_error_code

NOW = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC).timestamp()


@pytest.mark.parametrize("kind", ["rate_limit_error", "overloaded_error", "invalid_request_error", "api_error"])
def test_anthropic_error_keeps_type_message_and_status(kind: str) -> None:
    """An Anthropic error becomes the OpenAI envelope with its status, type and message unchanged."""
    body = json.dumps({"type": "error", "error": {"type": kind, "message": "the words"}, "request_id": "req_1"})
    error = from_anthropic(429, body.encode())
    assert error.status == 429
    assert json.loads(error.body()) == {"error": {"message": "the words", "type": kind, "param": None, "code": None}}


def test_error_code_from_details() -> None:
    """error.details.error_code (the spend cap) becomes the envelope's code."""
    body = {
        "type": "error",
        "error": {
            "type": "rate_limit_error",
            "message": "cap",
            "details": {"error_code": "enforced_spend_limit_reached"},
        },
    }
    assert from_anthropic(429, body).code == "enforced_spend_limit_reached"


def test_non_json_error_body_keeps_its_start_and_takes_the_status_type() -> None:
    """A proxy's HTML error page keeps its first characters as the message and the type its status implies."""
    error = from_anthropic(502, b"<html><body>Bad Gateway</body></html>" + b"x" * 500)
    assert error.type == "api_error" and error.message.startswith("upstream answered 502: <html>")
    assert len(error.message) < 240
    assert from_anthropic(529, b"").type == "overloaded_error"


def test_cloud_flat_message_is_kept() -> None:
    """A cloud's flat {"message": ...} error keeps its message."""
    assert from_anthropic(400, b'{"message": "ValidationException: bad"}').message == "ValidationException: bad"


def test_dialect_error_renders_as_a_400_envelope_with_param() -> None:
    """A refused body renders as a 400 invalid_request_error naming the param."""
    error = dialect_error(DialectError("n > 1 is not supported", param="n"))
    assert error == OpenAIError(400, "n > 1 is not supported", "invalid_request_error", "n")


def test_rate_limit_headers_mapped_to_openai_names() -> None:
    """anthropic-ratelimit-* become x-ratelimit-*; a reset time becomes a duration; retry-after kept."""
    headers = {
        "anthropic-ratelimit-requests-limit": "50",
        "anthropic-ratelimit-requests-remaining": "49",
        "anthropic-ratelimit-requests-reset": "2026-01-01T12:01:30Z",
        "anthropic-ratelimit-tokens-reset": "2026-01-01T12:00:00.250000Z",
        "anthropic-ratelimit-input-tokens-remaining": "1000",
        "Retry-After": "7",
        "retry-after-ms": "6500",
        "request-id": "req_1",
        "content-type": "application/json",
    }
    assert dict(openai_headers(headers, now=NOW)) == {
        "x-ratelimit-limit-requests": "50",
        "x-ratelimit-remaining-requests": "49",
        "x-ratelimit-reset-requests": "1m30s",
        "x-ratelimit-reset-tokens": "250ms",
        "x-ratelimit-remaining-input-tokens": "1000",
        "retry-after": "7",
        "retry-after-ms": "6500",
        "x-request-id": "req_1",
    }


def test_reset_in_the_past_is_zero_and_garbage_kept() -> None:
    """A reset time already past is 0ms; a value that is not a time is passed as it is."""
    got = dict(
        openai_headers(
            [
                ("anthropic-ratelimit-tokens-reset", "2025-01-01T00:00:00Z"),
                ("anthropic-ratelimit-requests-reset", "soon"),
            ],
            now=NOW,
        )
    )
    assert got == {"x-ratelimit-reset-tokens": "0ms", "x-ratelimit-reset-requests": "soon"}


def test_responses_error_codes_are_in_the_closed_set() -> None:
    """The Responses error code is one the SDK's ResponseError accepts."""
    assert responses_error_code("rate_limit_error") == "rate_limit_exceeded"
    assert responses_error_code("overloaded_error") == "server_error"
    assert responses_error_code("invalid_request_error") == "invalid_prompt"
