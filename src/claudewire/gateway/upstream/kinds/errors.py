"""Cloud errors in the Anthropic API's terms: Bedrock exceptions and Google error statuses → status + ``error.type``.

Clients (the SDK, Claude Code) and the gateway's own policy then treat them as they treat the Anthropic API's:
a throttled Bedrock call is a 429 ``rate_limit_error``, an unavailable one a 529 ``overloaded_error``, and so on.
The cloud's own words stay in ``error.message`` (Claude Code's recovery matches on them), followed by which cloud
and exception said so and, for a capability the protocol names (`capability.capability_rejected`), the stable
``capability_rejected: <class>`` token; a message the client matches only whole is passed exactly as it came.
`not_supported_body` is the 501 ``not_supported`` answer for an upstream that cannot count tokens.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from claudewire.gateway.upstream.kinds.capability import capability_rejected, whole_message, with_token

__all__ = [
    "BEDROCK_EXCEPTIONS",
    "anthropic_error_body",
    "bedrock_error",
    "bedrock_error_type",
    "error_message",
    "google_error",
    "not_supported_body",
]

BEDROCK_EXCEPTIONS: Mapping[str, tuple[int, str]] = {
    "throttlingexception": (429, "rate_limit_error"),
    "servicequotaexceededexception": (429, "rate_limit_error"),
    "serviceunavailableexception": (529, "overloaded_error"),
    "modelnotreadyexception": (529, "overloaded_error"),
    "modeltimeoutexception": (504, "timeout_error"),
    "modelstreamerrorexception": (500, "api_error"),
    "modelerrorexception": (500, "api_error"),
    "internalserverexception": (500, "api_error"),
    "validationexception": (400, "invalid_request_error"),
    "resourcenotfoundexception": (404, "not_found_error"),
    "accessdeniedexception": (403, "permission_error"),
    "unrecognizedclientexception": (401, "authentication_error"),
    "invalidsignatureexception": (401, "authentication_error"),
    "incompletesignatureexception": (401, "authentication_error"),
    "missingauthenticationtokenexception": (401, "authentication_error"),
    "expiredtokenexception": (401, "authentication_error"),
}
"""Bedrock exception (lower-case) → the Anthropic status and ``error.type`` it stands for."""

_ORIGINAL = {429: "rate_limit_error", 529: "overloaded_error", 500: "api_error", 503: "overloaded_error"}
_GOOGLE: Mapping[str, tuple[int, str]] = {
    "RESOURCE_EXHAUSTED": (429, "rate_limit_error"),
    "UNAUTHENTICATED": (401, "authentication_error"),
    "PERMISSION_DENIED": (403, "permission_error"),
    "NOT_FOUND": (404, "not_found_error"),
    "INVALID_ARGUMENT": (400, "invalid_request_error"),
    "FAILED_PRECONDITION": (400, "invalid_request_error"),
    "UNAVAILABLE": (529, "overloaded_error"),
    "DEADLINE_EXCEEDED": (504, "timeout_error"),
    "INTERNAL": (500, "api_error"),
}
_STATUS_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def bedrock_error_type(name: str, original_status: int | None = None) -> str:
    """The Anthropic ``error.type`` of a Bedrock exception (a model stream error keeps the model's own)."""
    if original_status in _ORIGINAL and name.lower() in ("modelstreamerrorexception", "modelerrorexception"):
        return _ORIGINAL[original_status]
    return BEDROCK_EXCEPTIONS.get(name.lower(), (500, "api_error"))[1]


def anthropic_error_body(error_type: str, message: str) -> bytes:
    """An Anthropic error body."""
    return json.dumps({"type": "error", "error": {"type": error_type, "message": message}}).encode()


def _worded(answer: int, message: str, label: str, betas: Sequence[str]) -> str:
    """The client's message: the cloud's words, the label naming who said so, the capability token if any; a
    message the client matches whole goes exactly as it came."""
    if whole_message(message):
        return message
    return with_token(message + label, capability_rejected(answer, message, betas))


def bedrock_error(status: int, error_header: bytes | None, body: bytes, betas: Sequence[str] = ()) -> tuple[int, bytes]:
    """A Bedrock error answer (``x-amzn-ErrorType`` + ``{"message"}``) as an Anthropic status and error body
    (`betas`: the ``anthropic-beta`` values the caller sent, for the capability token)."""
    name = (error_header or b"").split(b":", 1)[0].decode("latin-1").strip()
    message = _field(body, "message") or f"Bedrock answered {status}"
    if name.lower() in BEDROCK_EXCEPTIONS:
        answer, error_type = BEDROCK_EXCEPTIONS[name.lower()]
    else:
        answer = status if status >= 400 else 500
        error_type = _STATUS_TYPES.get(answer, "api_error")
    label = f" (Bedrock {name})" if name else ""
    return answer, anthropic_error_body(error_type, _worded(answer, message, label, betas))


def google_error(status: int, body: bytes, betas: Sequence[str] = ()) -> tuple[int, bytes] | None:
    """A Google-shaped error (``{"error":{"code","message","status"}}``) as Anthropic's; None if it is not one."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    err = parsed.get("error") if isinstance(parsed, dict) else None
    if not isinstance(err, dict) or "status" not in err or parsed.get("type") == "error":
        return None  # already Anthropic's (Vertex passes the model's own errors through)
    answer, error_type = _GOOGLE.get(str(err["status"]), (status, _STATUS_TYPES.get(status, "api_error")))
    said = err.get("message")
    message = said if isinstance(said, str) else f"Vertex AI answered {status}"
    return answer, anthropic_error_body(error_type, _worded(answer, message, f" (Vertex AI {err['status']})", betas))


def error_message(body: bytes) -> str | None:
    """The message of an error body in any of the shapes upstreams answer with (Anthropic's, Google's, Bedrock's)."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    if not isinstance(parsed, dict):
        return None
    err = parsed.get("error")
    message = err.get("message") if isinstance(err, dict) else parsed.get("message") or parsed.get("Message")
    return message if isinstance(message, str) else None


def not_supported_body(message: str) -> bytes:
    """The 501 ``not_supported`` body: the endpoint is not available on this backend (Claude Code falls back)."""
    return anthropic_error_body("not_supported", message)


def _field(body: bytes, name: str) -> str | None:
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    value = parsed.get(name) or parsed.get(name.capitalize()) if isinstance(parsed, dict) else None
    return value if isinstance(value, str) else None
