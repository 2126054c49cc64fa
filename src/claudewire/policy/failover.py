"""When a failed attempt moves the next one to another upstream or key, and when it never does.

Failover happens only before the first byte reached the caller (the driver never reports a failure after that), and
never for a failure that is the request's own: the same request fails the same way everywhere.
"""

from __future__ import annotations

from claudewire._errors import Failure, FailureKind

__all__ = ["failover_reason"]

# Failures that are about the path to one upstream or its health, not about the request.
_ELSEWHERE = frozenset(
    {
        FailureKind.DNS,
        FailureKind.CONNECT_REFUSED,
        FailureKind.CONNECT_TIMEOUT,
        FailureKind.PROXY,
        FailureKind.TLS_VERSION,
        FailureKind.CERTIFICATE,
        FailureKind.CONNECTION_RESET,
        FailureKind.READ_TIMEOUT,
        FailureKind.TIMEOUT,
        FailureKind.STREAM_INTERRUPTED,
        FailureKind.NOT_ANTHROPIC,
        FailureKind.OVERLOADED,
        FailureKind.SERVER,
        FailureKind.CIRCUIT_OPEN,
    }
)
_KEY_REFUSED = frozenset({FailureKind.AUTH, FailureKind.PERMISSION, FailureKind.BILLING})
_RATE = frozenset({FailureKind.RATE_LIMIT, FailureKind.SPEND_LIMIT})
_NEVER_STATUS = frozenset({400, 404, 409, 413, 422})


def failover_reason(failure: Failure, *, held: bool) -> str | None:
    """Why `failure` moves the next attempt elsewhere: ``upstream``, ``rate_limit``, ``key`` or None (never).

    `held` says whether the gateway holds the key the attempt used (a refused client credential is the client's).
    """
    status = failure.status
    if status in _NEVER_STATUS:
        return None
    kind = failure.kind
    if kind in _RATE:
        return "rate_limit"
    if kind in _KEY_REFUSED:
        return "key" if held else None
    if kind in _ELSEWHERE or status == 408 or (status is not None and status >= 500):
        return "upstream"
    return None
