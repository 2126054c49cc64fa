"""One taxonomy for every way a call to the Claude API can fail.

The doctor, the client, the gateway and `claudewire explain` all speak it. Whatever went wrong — a Python
exception (socket, DNS, ssl, httpx2, aiohttp, the anthropic SDK), an HTTP status with its Anthropic error body and
headers, or an SSE ``error`` event — `classify` maps it to a `Failure`: a `FailureKind`, whether retrying can help,
how long the server asked us to wait, a one-line cause and a fix in plain words.

The tree::

    FailureKind (claudewire._failures)   the kinds, each with its cause, fix and confirming doctor check
      └─ Failure                         one classified failure: kind, retryable, retry_after, status, message
    claudewire._errors (this module)     the rules: classify(exception | status | event) -> Failure
      ├─ statuses and error bodies       Anthropic error types, Bedrock exception names, x-should-retry
      ├─ exceptions                      ssl, socket, httpx2, aiohttp, the SDK's, claudewire's own; cause chains
      └─ SSE error events                mid-stream errors

The exceptions claudewire raises itself live in `claudewire._exceptions` (they subclass the SDK's, so that module
imports the SDK); this one imports neither the SDK nor httpx2 nor aiohttp: an exception of theirs can only exist
once its module is imported, so it is recognised through `sys.modules`. The gateway and the simulator thus never
pay the SDK's import (about 0.9 s and 50 MiB).

Rules (Anthropic API docs, "Errors"): 400, 401, 402, 403, 404 and 413 are never retried; 408, 409, 429, 500,
502, 503, 504, 529 and connection failures are. ``x-should-retry: true|false`` overrides the status rule. A 429 whose
``error.details.error_code`` is ``enforced_spend_limit_reached`` is the monthly spend cap: not retryable.
``retry-after-ms`` wins over ``retry-after`` (seconds or an HTTP date). No fix text ever tells anyone to switch
certificate verification off: the fix for an unknown CA is to trust that CA.
"""

from __future__ import annotations

import email.utils
import errno
import json
import socket
import ssl
import sys
import time
from collections.abc import Mapping
from typing import Any

from claudewire._failures import (
    ERROR_TYPE_KIND,
    SPEND_LIMIT_CODES,
    STATUS_KIND,
    Failure,
    FailureKind,
    NoResponseError,
)

__all__ = [
    "Failure",
    "FailureKind",
    "NoResponseError",
    "classify",
    "parse_retry_after",
]


# --- HTTP status and Anthropic error bodies ------------------------------------------------------------------------


def _status_retryable(status: int) -> bool:
    return status in (408, 409, 429) or status >= 500


def parse_retry_after(headers: Mapping[str, str] | None, *, now: float | None = None) -> float | None:
    """Seconds the server asked us to wait: ``retry-after-ms``, then ``retry-after`` (seconds or an HTTP date).

    `now` is the wall clock (epoch seconds) used for the date form; it defaults to `time.time()`.
    """
    if not headers:
        return None
    get = headers.get
    raw_ms = get("retry-after-ms")
    if raw_ms is not None:
        try:
            value = float(raw_ms) / 1000.0
            if value >= 0:
                return value
        except ValueError:
            pass
    raw = get("retry-after")
    if raw is None:
        return None
    try:
        seconds = float(raw)
        return seconds if seconds >= 0 else None
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    wall = time.time() if now is None else now
    return max(0.0, when.timestamp() - wall)


def _lower_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    if not headers:
        return {}
    return {k.lower(): v for k, v in headers.items()}


def _error_object(body: Any) -> Mapping[str, Any] | None:
    """The ``error`` object of an Anthropic error body or SSE error event, whatever form the body comes in."""
    if isinstance(body, bytes | bytearray):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        text = body.strip()
        if not text.startswith("{"):
            return None
        try:
            body = json.loads(text)
        except ValueError:
            return None
    if not isinstance(body, Mapping):
        return None
    err = body.get("error")
    if isinstance(err, Mapping):
        return err
    # the SDK's exc.body is sometimes the inner error object already
    if isinstance(body.get("type"), str) and body.get("type") in ERROR_TYPE_KIND:
        return body
    return None


def _bedrock_message(body: Any) -> str | None:
    """The ``message`` of a Bedrock error body (``{"message": "..."}``)."""
    if isinstance(body, bytes | bytearray | str):
        try:
            body = json.loads(body)
        except ValueError:
            return None
    message = body.get("message") if isinstance(body, Mapping) else None
    return message if isinstance(message, str) else None


def _looks_like_html(body: Any) -> bool:
    if isinstance(body, bytes | bytearray):
        head = bytes(body[:512]).lstrip().lower()
        return head.startswith((b"<!doctype html", b"<html", b"<?xml"))
    if isinstance(body, str):
        return body[:512].lstrip().lower().startswith(("<!doctype html", "<html", "<?xml"))
    return False


def _classify_status(
    status: int, headers: Mapping[str, str] | None, body: Any, now: float | None = None
) -> Failure | None:
    if status < 400:
        if _looks_like_html(body):
            return Failure.of(FailureKind.NOT_ANTHROPIC, status=status, message="HTML answer where JSON was expected")
        return None
    h = _lower_headers(headers)
    err = _error_object(body)
    err_type = err.get("type") if err else None
    message = err.get("message") if err else None
    kind = ERROR_TYPE_KIND.get(err_type) if isinstance(err_type, str) else None
    if kind is None and (amzn := h.get("x-amzn-errortype")):  # Bedrock: ThrottlingException:http://...
        name = amzn.split(":", 1)[0].strip()
        kind = ERROR_TYPE_KIND.get(name[:1].lower() + name[1:])
        message = message or _bedrock_message(body)
    if kind is None:
        kind = STATUS_KIND.get(status)
    if kind is None:
        if status >= 500:
            kind = FailureKind.SERVER
        elif err is None and _looks_like_html(body):
            kind = FailureKind.NOT_ANTHROPIC
        else:
            kind = FailureKind.UNKNOWN
    retryable = _status_retryable(status)
    if kind is FailureKind.NOT_ANTHROPIC:
        retryable = False
    details = err.get("details") if err else None
    if status == 429 and isinstance(details, Mapping) and details.get("error_code") in SPEND_LIMIT_CODES:
        kind, retryable = FailureKind.SPEND_LIMIT, False
    should = h.get("x-should-retry")
    if should == "true":
        retryable = True
    elif should == "false":
        retryable = False
    return Failure.of(
        kind,
        retryable=retryable,
        retry_after=parse_retry_after(h, now=now),
        status=status,
        message=message if isinstance(message, str) else None,
    )


# --- exceptions ----------------------------------------------------------------------------------------------------

_TLS_VERSION_MARKERS = ("WRONG_VERSION_NUMBER", "UNSUPPORTED_PROTOCOL", "PROTOCOL_VERSION", "VERSION_TOO_LOW")
_CERT_MARKERS = ("CERTIFICATE_VERIFY_FAILED", "certificate verify failed", "self-signed certificate", "hostname")


def _classify_ssl(exc: ssl.SSLError) -> Failure:
    text = f"{getattr(exc, 'reason', None) or ''} {exc}"
    if isinstance(exc, ssl.SSLCertVerificationError) or any(m in text for m in _CERT_MARKERS):
        return Failure.of(FailureKind.CERTIFICATE, message=str(exc))
    if any(m in text for m in _TLS_VERSION_MARKERS):
        return Failure.of(FailureKind.TLS_VERSION, message=str(exc))
    return Failure.of(FailureKind.CONNECTION_RESET, message=str(exc))


def _classify_os_error(exc: OSError) -> Failure | None:
    if isinstance(exc, ssl.SSLError):
        return _classify_ssl(exc)
    if isinstance(exc, socket.gaierror):
        return Failure.of(FailureKind.DNS, message=str(exc))
    if exc.errno in (errno.EMFILE, errno.ENFILE):
        return Failure.of(FailureKind.LOCAL_RESOURCES, message=str(exc))
    if isinstance(exc, ConnectionRefusedError) or exc.errno == errno.ECONNREFUSED:
        return Failure.of(FailureKind.CONNECT_REFUSED, message=str(exc))
    if isinstance(exc, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        return Failure.of(FailureKind.CONNECTION_RESET, message=str(exc))
    if isinstance(exc, TimeoutError) or exc.errno in (errno.ETIMEDOUT,):
        return Failure.of(FailureKind.CONNECT_TIMEOUT, message=str(exc))
    if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return Failure.of(FailureKind.CONNECT_TIMEOUT, message=str(exc))
    return None


def _classify_httpx(exc: BaseException) -> Failure | None:
    httpx2 = sys.modules.get("httpx2")
    if httpx2 is None or not isinstance(exc, httpx2.HTTPError):
        return None
    message = str(exc) or type(exc).__name__
    if isinstance(exc, httpx2.ProxyError):
        return Failure.of(FailureKind.PROXY, message=message)
    if isinstance(exc, httpx2.ConnectTimeout):
        return Failure.of(FailureKind.CONNECT_TIMEOUT, message=message)
    if isinstance(exc, httpx2.TimeoutException):
        return Failure.of(FailureKind.READ_TIMEOUT, message=message)
    if isinstance(exc, httpx2.RemoteProtocolError | httpx2.ReadError | httpx2.WriteError):
        if "peer closed connection without sending complete message body" in message:
            return Failure.of(FailureKind.STREAM_INTERRUPTED, message=message)
        return Failure.of(FailureKind.CONNECTION_RESET, message=message)
    if isinstance(exc, httpx2.HTTPStatusError):
        return _classify_status(exc.response.status_code, exc.response.headers, None)
    return None


def _classify_aiohttp(exc: BaseException) -> Failure | None:
    aiohttp = sys.modules.get("aiohttp")
    if aiohttp is None:  # an aiohttp exception can only exist once aiohttp is imported
        return None
    message = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.ServerFingerprintMismatch):
        return Failure.of(FailureKind.CERTIFICATE, message=message)
    if isinstance(exc, aiohttp.ClientProxyConnectionError | aiohttp.ClientHttpProxyError):
        return Failure.of(FailureKind.PROXY, message=message)
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return Failure.of(FailureKind.DNS, message=message)
    if isinstance(exc, aiohttp.ClientConnectorSSLError):
        return _classify_ssl(exc.os_error) if isinstance(exc.os_error, ssl.SSLError) else None
    if isinstance(exc, aiohttp.ClientConnectorError):
        return _classify_os_error(exc.os_error) or Failure.of(FailureKind.CONNECT_REFUSED, message=message)
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return Failure.of(FailureKind.CONNECT_TIMEOUT, message=message)
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return Failure.of(FailureKind.READ_TIMEOUT, message=message)
    if isinstance(exc, aiohttp.ClientPayloadError):
        return Failure.of(FailureKind.STREAM_INTERRUPTED, message=message)
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientOSError):
        return Failure.of(FailureKind.CONNECTION_RESET, message=message)
    if isinstance(exc, aiohttp.ClientResponseError):
        return _classify_status(exc.status, exc.headers, None)
    return None


def _sdk_status_error(exc: BaseException) -> Any:
    """`exc` if it is the SDK's APIStatusError (the SDK is never imported here just to ask)."""
    anthropic = sys.modules.get("anthropic")
    return exc if anthropic is not None and isinstance(exc, anthropic.APIStatusError) else None


def _circuit_open(exc: BaseException) -> Any:
    """`exc` if it is claudewire's CircuitOpenError."""
    module = sys.modules.get("claudewire._exceptions")
    return exc if module is not None and isinstance(exc, module.CircuitOpenError) else None


def _not_anthropic(exc: BaseException) -> Any:
    """`exc` if it is claudewire's NotAnthropicResponseError (a 2xx page that is not the API's)."""
    module = sys.modules.get("claudewire._exceptions")
    kind = getattr(module, "NotAnthropicResponseError", None) if module is not None else None
    return exc if kind is not None and isinstance(exc, kind) else None


def _classify_one(exc: BaseException) -> Failure | None:
    if (not_api := _not_anthropic(exc)) is not None:
        return Failure.of(FailureKind.NOT_ANTHROPIC, status=not_api.status_code, message=str(exc))
    if (circuit := _circuit_open(exc)) is not None:
        return Failure.of(FailureKind.CIRCUIT_OPEN, retry_after=circuit.retry_after, message=str(exc))
    if (status_error := _sdk_status_error(exc)) is not None:
        if status_error.status_code < 400:
            # an SSE `error` event mid-stream: the SDK raises it on the stream's 200 response, with the event's body
            event = _classify_event(status_error.body)
            return event or Failure.of(FailureKind.STREAM_INTERRUPTED, message=str(exc))
        return _classify_status(status_error.status_code, status_error.response.headers, status_error.body)
    if (found := _classify_httpx(exc)) is not None:
        return found
    if type(exc).__module__.startswith("aiohttp"):
        return _classify_aiohttp(exc)
    if isinstance(exc, NoResponseError):
        return Failure.of(FailureKind.NO_RESPONSE, message=str(exc))
    if isinstance(exc, OSError):
        return _classify_os_error(exc)
    if isinstance(exc, TimeoutError):
        return Failure.of(FailureKind.READ_TIMEOUT, message=str(exc) or "timed out")
    return None


_ROOT_CAUSES = frozenset(
    {
        FailureKind.DNS,
        FailureKind.CERTIFICATE,
        FailureKind.TLS_VERSION,
        FailureKind.CONNECT_REFUSED,
        FailureKind.PROXY,
    }
)


def _classify_exception(exc: BaseException) -> Failure:
    # Walk the cause chain from the outside in: the most specific answer is usually deeper (an SDK
    # APIConnectionError wraps an httpx2.ConnectError that wraps the ssl or socket error).
    chain: list[BaseException] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(chain) < 16:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or current.__context__
    best: Failure | None = None
    for item in chain:
        found = _classify_one(item)
        if found is None:
            continue
        if _sdk_status_error(item) is not None or _circuit_open(item) is not None:
            return found  # a status answer is authoritative
        # The outermost answer stands (httpx2 and aiohttp know a connect timeout from a read timeout; the bare
        # TimeoutError under them does not), unless a deeper layer names a root cause: DNS, TLS, a refusal.
        if best is None or found.kind in _ROOT_CAUSES:
            best = found
    if best is not None:
        return best
    anthropic = sys.modules.get("anthropic")
    if anthropic is not None and isinstance(exc, anthropic.APITimeoutError):
        return Failure.of(FailureKind.READ_TIMEOUT, message=str(exc))
    if anthropic is not None and isinstance(exc, anthropic.APIConnectionError):
        return Failure.of(FailureKind.CONNECTION_RESET, message=str(exc))
    return Failure.of(FailureKind.UNKNOWN, message=f"{type(exc).__name__}: {exc}")


def _classify_event(event: Any) -> Failure | None:
    """An SSE ``error`` event or an Anthropic error body, whatever its form; None when it holds no error."""
    err = _error_object(event)
    if err is None:
        return None
    err_type = err.get("type")
    kind = ERROR_TYPE_KIND.get(err_type, FailureKind.UNKNOWN) if isinstance(err_type, str) else FailureKind.UNKNOWN
    message = err.get("message")
    retryable = kind in (FailureKind.OVERLOADED, FailureKind.SERVER, FailureKind.RATE_LIMIT, FailureKind.TIMEOUT)
    return Failure.of(kind, retryable=retryable, message=message if isinstance(message, str) else None)


def classify(
    what: BaseException | int | Mapping[str, Any],
    *,
    headers: Mapping[str, str] | None = None,
    body: Any = None,
    now: float | None = None,
) -> Failure | None:
    """Map what went wrong to a `Failure`; ``None`` when `what` is a success.

    - an exception: the SDK's, httpx2's, aiohttp's, ssl's or the socket layer's (its cause chain is followed);
    - an HTTP status (int) with the response `headers` and `body` (bytes, str or parsed JSON);
    - an SSE ``error`` event or Anthropic error body as a mapping (``{"type": "error", "error": {...}}``).

    `now` is the wall clock used to turn an HTTP-date ``retry-after`` into seconds.
    """
    if isinstance(what, BaseException):
        return _classify_exception(what)
    if isinstance(what, bool):
        raise TypeError("classify() takes an exception, an HTTP status or an error event, not a bool")
    if isinstance(what, int):
        return _classify_status(what, headers, body, now)
    return _classify_event(what)
