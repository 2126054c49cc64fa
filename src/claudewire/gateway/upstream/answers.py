"""What an upstream answer must be before it is passed on, and the failure the gateway answers when it is not.

The upstream floor judges only what it can see: a body read whole is bounded (`UnusableAnswer` past the bound:
the connection is dropped, nothing of it reaches the client), and `not_the_api` says when a status and content type
cannot be the API's answer to the route asked (an HTML error page, a ``200 text/html`` from a captive portal or a
misrouted load balancer). Either way the client gets a 502 ``api_error`` in the API's error shape naming the
upstream; whether the call flow retries it follows the upstream's status (a 503 page may pass on another upstream,
a 200 page is not retried).
"""

from __future__ import annotations

from claudewire._errors import Failure, FailureKind, classify

__all__ = ["DEFAULT_BODY_LIMIT", "UnusableAnswer", "not_the_api", "unusable"]

DEFAULT_BODY_LIMIT = 8 * 1024 * 1024
"""Bytes of an upstream body read whole (an error, a cloud kind's JSON answer) unless configured otherwise: far
above any real error body or non-streamed answer, and small enough that a few hundred at once stay affordable."""

_POLICY = (b"retry-after", b"retry-after-ms", b"x-should-retry")
_MESSAGES = (b"/v1/messages", b"/v1/messages/count_tokens", b"/v1/complete")
_DOWNLOADS = (b"/content", b"/results")  # file contents and batch results: their own types


class UnusableAnswer(Exception):
    """An upstream answer that cannot be passed on (past a bound, or not what it claims); `failure` says why."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message or str(failure.kind))
        self.failure = failure


def unusable(upstream: str, status: int, headers: list[tuple[bytes, bytes]], why: str) -> Failure:
    """The failure for an answer of `upstream` the gateway will not pass on: `why` completes "the upstream 'x' ...".

    It is answered as a 502 ``api_error``; retryable as the status and ``x-should-retry`` say, with the upstream's
    ``retry-after``.
    """
    policy = {n.lower().decode("latin-1"): v.decode("latin-1") for n, v in headers if n.lower() in _POLICY}
    found = classify(status, headers=policy) if status >= 400 else None
    kind = FailureKind.SERVER if status >= 500 else FailureKind.NOT_ANTHROPIC
    return Failure.of(
        kind,
        retryable=found.retryable if found is not None else False,
        retry_after=found.retry_after if found is not None else None,
        status=status,
        message=f"the upstream {upstream!r} {why}",
    )


def _json(ctype: bytes) -> bool:
    main = ctype.split(b";", 1)[0].strip().lower()
    return main == b"application/json" or main.endswith(b"+json")


def not_the_api(
    upstream: str, status: int, headers: list[tuple[bytes, bytes]], ctype: bytes, path: bytes, body: bytes | None
) -> Failure | None:
    """The failure when an answer's type cannot be the API's for `path`; None when it can (or cannot be judged).

    An error status (`body` read) must carry JSON: a non-empty body of another declared type (an HTML page) is not
    the API's. A success must be JSON or an event stream on the Messages routes, and never an HTML page anywhere
    but a download. An answer without a content type is not judged.
    """
    if not ctype:
        return None
    main = ctype.split(b";", 1)[0].strip().lower()
    if status >= 400:
        if not body or _json(ctype):
            return None
        expected = "a JSON error"
    elif main == b"text/html" and not path.endswith(_DOWNLOADS):
        expected = "JSON"
    elif path.rstrip(b"/") in _MESSAGES and not (_json(ctype) or main == b"text/event-stream"):
        expected = "JSON or an event stream"
    else:
        return None
    why = f"answered {status} with {main.decode('latin-1')[:60]} where the API answers {expected}; not passed on"
    return unusable(upstream, status, headers, why)
