"""One taxonomy for every way a call to the Claude API can fail.

The doctor, the client, the gateway and `claudewire explain` all speak it. Whatever went wrong — a Python
exception (socket, DNS, ssl, httpx2, aiohttp, the anthropic SDK), an HTTP status with its Anthropic error body and
headers, or an SSE ``error`` event — `classify` maps it to a `Failure`: a `FailureKind`, whether retrying can help,
how long the server asked us to wait, a one-line cause and a fix in plain words.

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
import enum
import errno
import json
import socket
import ssl
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Failure",
    "FailureKind",
    "NoResponseError",
    "classify",
    "parse_retry_after",
]


class FailureKind(enum.StrEnum):
    """What went wrong, at the layer where it went wrong."""

    DNS = "dns"
    CONNECT_REFUSED = "connect_refused"
    CONNECT_TIMEOUT = "connect_timeout"
    PROXY = "proxy"
    TLS_VERSION = "tls_version"
    CERTIFICATE = "certificate"
    READ_TIMEOUT = "read_timeout"
    CONNECTION_RESET = "connection_reset"
    NOT_ANTHROPIC = "not_anthropic"
    AUTH = "auth"
    PERMISSION = "permission"
    BILLING = "billing"
    INVALID_REQUEST = "invalid_request"
    NOT_FOUND = "not_found"
    REQUEST_TOO_LARGE = "request_too_large"
    CONFLICT = "conflict"
    RATE_LIMIT = "rate_limit"
    SPEND_LIMIT = "spend_limit"
    OVERLOADED = "overloaded"
    TIMEOUT = "timeout"
    SERVER = "server"
    STREAM_INTERRUPTED = "stream_interrupted"
    CIRCUIT_OPEN = "circuit_open"
    UNKNOWN = "unknown"
    NO_RESPONSE = "no_response"
    LOCAL_RESOURCES = "local_resources"


class NoResponseError(TimeoutError):
    """Connected and the request sent, but no answer came in time: no response head, or no first SSE event of a
    stream. Raised by the gateway's upstream client (a bare TimeoutError would read as a connect timeout)."""


@dataclass(frozen=True, slots=True)
class _KindInfo:
    retryable: bool
    cause: str
    fix: str
    check: str  # the doctor check that confirms it


_TRUST_CA_FIX = (
    "If a corporate proxy or antivirus inspects TLS, trust its CA (never switch verification off): "
    "`claudewire doctor --save-ca ca.pem` names the issuing CA, writes the chain it presents to ca.pem and prints "
    "the command that builds a bundle of the system's CAs plus ca.pem for SSL_CERT_FILE (Python, the SDK: it "
    "replaces the default bundle); Claude Code and Node: NODE_EXTRA_CA_CERTS=$PWD/ca.pem, or NODE_USE_SYSTEM_CA=1 "
    "once the CA is in the system store. Check the system clock too."
)

_INFO: dict[FailureKind, _KindInfo] = {
    FailureKind.DNS: _KindInfo(
        True,
        "The API host name could not be resolved.",
        "Check your network and DNS resolver (VPN, /etc/hosts, a DNS filter returning 0.0.0.0); "
        "if you must go through a proxy, set HTTPS_PROXY.",
        "dns",
    ),
    FailureKind.CONNECT_REFUSED: _KindInfo(
        True,
        "The connection was refused: nothing listens at that address and port.",
        "Check ANTHROPIC_BASE_URL (host and port); if you use a local gateway, start it; "
        "a firewall may reject the port.",
        "tcp",
    ),
    FailureKind.CONNECT_TIMEOUT: _KindInfo(
        True,
        "Connecting timed out: packets to the API host are dropped on the way.",
        "A firewall or missing route drops the traffic: on a corporate network set HTTPS_PROXY to your proxy; "
        "otherwise check VPN and firewall rules for outbound 443.",
        "tcp",
    ),
    FailureKind.PROXY: _KindInfo(
        False,
        "The HTTP proxy refused or failed the tunnel (CONNECT) to the API.",
        "Check HTTPS_PROXY (host, port, credentials as http://user:pass@host:port); ask for api.anthropic.com:443 "
        "to be allowed; set NO_PROXY for hosts that must bypass it.",
        "proxy",
    ),
    FailureKind.TLS_VERSION: _KindInfo(
        False,
        "The TLS handshake failed on protocol version: something that does not speak TLS 1.2+ answered.",
        "A plain-HTTP service or an old proxy is answering on the TLS port: check the scheme and port in "
        "ANTHROPIC_BASE_URL (https:// for the API, http:// for a local gateway) and HTTPS_PROXY.",
        "tls",
    ),
    FailureKind.CERTIFICATE: _KindInfo(
        False,
        "The server's certificate is not trusted (unknown CA, expired, or issued for another host).",
        _TRUST_CA_FIX,
        "certificate",
    ),
    FailureKind.READ_TIMEOUT: _KindInfo(
        True,
        "The server accepted the request but did not answer in time.",
        "Long generations should stream (messages.stream); raise the client timeout; a proxy that buffers "
        "or idles out connections can also cause this.",
        "messages",
    ),
    FailureKind.CONNECTION_RESET: _KindInfo(
        True,
        "The connection was closed or reset before the answer arrived.",
        "Usually transient (retry); if it repeats, a proxy or firewall is cutting long-lived connections.",
        "tcp",
    ),
    FailureKind.NOT_ANTHROPIC: _KindInfo(
        False,
        "Something other than the Anthropic API answered (a captive portal, a proxy's block page, a wrong URL).",
        "Open a browser to sign in to the network if it has a portal; check ANTHROPIC_BASE_URL ends at the "
        "API root (https://api.anthropic.com, no /v1).",
        "http",
    ),
    FailureKind.AUTH: _KindInfo(
        False,
        "The API key was rejected (401 authentication_error).",
        "Check ANTHROPIC_API_KEY: no quotes or spaces around it, not revoked, for the right organization; "
        "create a new key in the Console if needed.",
        "auth",
    ),
    FailureKind.PERMISSION: _KindInfo(
        False,
        "The key is valid but lacks permission for this resource or model (403 permission_error).",
        "Use a key from a workspace that has access to this model or feature, or ask your org admin.",
        "auth",
    ),
    FailureKind.BILLING: _KindInfo(
        False,
        "Billing problem on the account (402 billing_error).",
        "Add credits or fix the payment method in the Console's billing settings.",
        "auth",
    ),
    FailureKind.INVALID_REQUEST: _KindInfo(
        False,
        "The request itself is invalid (400 invalid_request_error).",
        "Read the error message: usually a wrong parameter, an unknown anthropic-version, or a malformed body.",
        "version",
    ),
    FailureKind.NOT_FOUND: _KindInfo(
        False,
        "The resource was not found (404 not_found_error): often a retired or misspelled model, or a wrong URL.",
        "Check the model id against GET /v1/models (`claudewire doctor --model ...` names a current one) and "
        "that ANTHROPIC_BASE_URL has no extra path.",
        "model",
    ),
    FailureKind.REQUEST_TOO_LARGE: _KindInfo(
        False,
        "The request is larger than the API accepts (413 request_too_large).",
        "Send less: trim the conversation or attachments, or use the Files API for large documents.",
        "messages",
    ),
    FailureKind.CONFLICT: _KindInfo(
        True,
        "The request conflicted with another one in progress (409).",
        "Transient: retry with backoff.",
        "messages",
    ),
    FailureKind.RATE_LIMIT: _KindInfo(
        True,
        "Rate limited (429 rate_limit_error): the requests or tokens per minute of this key are used up.",
        "Wait for retry-after, lower concurrency, or raise your tier; claudewire's client and gateway "
        "hold requests until the limit resets instead of sending them into 429s.",
        "ratelimit",
    ),
    FailureKind.SPEND_LIMIT: _KindInfo(
        False,
        "The organization's monthly spend limit is reached (429 enforced_spend_limit_reached).",
        "Raise the spend limit in the Console's limits settings, or wait for the next month; retrying won't help.",
        "ratelimit",
    ),
    FailureKind.OVERLOADED: _KindInfo(
        True,
        "The API is temporarily overloaded (529 overloaded_error): Anthropic's side, not your setup.",
        "Retry with backoff (claudewire does it for you); if it persists, check status.anthropic.com.",
        "messages",
    ),
    FailureKind.TIMEOUT: _KindInfo(
        True,
        "The API or a gateway timed out while processing the request (408/504).",
        "Retry; for long generations use streaming.",
        "messages",
    ),
    FailureKind.SERVER: _KindInfo(
        True,
        "The API or a gateway in front of it had an internal error (5xx api_error).",
        "Retry with backoff; if it persists, check status.anthropic.com or your gateway's logs.",
        "messages",
    ),
    FailureKind.STREAM_INTERRUPTED: _KindInfo(
        True,
        "The stream stopped before message_stop (cut off or an error event mid-stream).",
        "Retry the request; if streams are cut or arrive all at once, a proxy buffers or times them out: "
        "exempt the API host from inspection.",
        "streaming",
    ),
    FailureKind.CIRCUIT_OPEN: _KindInfo(
        True,
        "claudewire's circuit breaker is open: recent calls to this upstream all failed, so none was sent.",
        "Wait for the cooldown (retry_after); `claudewire doctor` shows what is failing upstream.",
        "messages",
    ),
    FailureKind.UNKNOWN: _KindInfo(
        False,
        "An unrecognised failure.",
        "Run `claudewire doctor` to check each layer of the connection.",
        "config",
    ),
    FailureKind.NO_RESPONSE: _KindInfo(
        True,
        "The connection was made and the request sent, but no answer came back in time (not even the response "
        "headers, or a stream's first event).",
        "Not a network or proxy-setting problem: the upstream, or a load balancer or proxy in front of it, took the "
        "request and went silent. It is retried; if it repeats, check the upstream's health and logs (a gateway's "
        "first_byte_timeout bounds how long a stream may stay silent before that retry).",
        "messages",
    ),
    FailureKind.LOCAL_RESOURCES: _KindInfo(
        True,
        "This process ran out of open files (EMFILE/ENFILE): too many connections at once for its limit.",
        "Retry shortly; raise the open-file limit (ulimit -n, systemd LimitNOFILE=) or lower the concurrency "
        "(a gateway: max_connections, max_concurrency, or more --workers).",
        "config",
    ),
}


@dataclass(frozen=True, slots=True)
class Failure:
    """A classified failure: what kind, whether to retry, how long the server asked to wait, cause and fix."""

    kind: FailureKind
    retryable: bool
    retry_after: float | None
    cause: str
    fix: str
    status: int | None = None
    message: str | None = None

    @property
    def check(self) -> str:
        """The id of the doctor check that confirms this kind of failure."""
        return _INFO[self.kind].check

    @classmethod
    def of(
        cls,
        kind: FailureKind,
        *,
        retryable: bool | None = None,
        retry_after: float | None = None,
        status: int | None = None,
        message: str | None = None,
    ) -> Failure:
        """A failure of `kind` with the taxonomy's cause and fix."""
        info = _INFO[kind]
        return cls(
            kind=kind,
            retryable=info.retryable if retryable is None else retryable,
            retry_after=retry_after,
            cause=info.cause,
            fix=info.fix,
            status=status,
            message=message,
        )


# --- HTTP status and Anthropic error bodies ------------------------------------------------------------------------

_ERROR_TYPE_KIND: dict[str, FailureKind] = {
    "invalid_request_error": FailureKind.INVALID_REQUEST,
    "authentication_error": FailureKind.AUTH,
    "billing_error": FailureKind.BILLING,
    "permission_error": FailureKind.PERMISSION,
    "not_found_error": FailureKind.NOT_FOUND,
    "request_too_large": FailureKind.REQUEST_TOO_LARGE,
    "rate_limit_error": FailureKind.RATE_LIMIT,
    "api_error": FailureKind.SERVER,
    "timeout_error": FailureKind.TIMEOUT,
    "overloaded_error": FailureKind.OVERLOADED,
    # Amazon Bedrock's exceptions, as its stream exception frames name them (the official AnthropicBedrock raises
    # them as error events) and, capitalised, its x-amzn-ErrorType header
    "throttlingException": FailureKind.RATE_LIMIT,
    "serviceQuotaExceededException": FailureKind.RATE_LIMIT,
    "serviceUnavailableException": FailureKind.OVERLOADED,
    "modelNotReadyException": FailureKind.OVERLOADED,
    "modelStreamErrorException": FailureKind.SERVER,
    "modelErrorException": FailureKind.SERVER,
    "internalServerException": FailureKind.SERVER,
    "modelTimeoutException": FailureKind.TIMEOUT,
    "validationException": FailureKind.INVALID_REQUEST,
    "resourceNotFoundException": FailureKind.NOT_FOUND,
    "accessDeniedException": FailureKind.PERMISSION,
    "unrecognizedClientException": FailureKind.AUTH,
}

_STATUS_KIND: dict[int, FailureKind] = {
    400: FailureKind.INVALID_REQUEST,
    401: FailureKind.AUTH,
    402: FailureKind.BILLING,
    403: FailureKind.PERMISSION,
    404: FailureKind.NOT_FOUND,
    407: FailureKind.PROXY,
    408: FailureKind.TIMEOUT,
    409: FailureKind.CONFLICT,
    413: FailureKind.REQUEST_TOO_LARGE,
    429: FailureKind.RATE_LIMIT,
    504: FailureKind.TIMEOUT,
    529: FailureKind.OVERLOADED,
}

_SPEND_LIMIT_CODES = frozenset({"enforced_spend_limit_reached", "linked_organization_spend_limit_reached"})


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
    if isinstance(body.get("type"), str) and body.get("type") in _ERROR_TYPE_KIND:
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
    kind = _ERROR_TYPE_KIND.get(err_type) if isinstance(err_type, str) else None
    if kind is None and (amzn := h.get("x-amzn-errortype")):  # Bedrock: ThrottlingException:http://...
        name = amzn.split(":", 1)[0].strip()
        kind = _ERROR_TYPE_KIND.get(name[:1].lower() + name[1:])
        message = message or _bedrock_message(body)
    if kind is None:
        kind = _STATUS_KIND.get(status)
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
    if status == 429 and isinstance(details, Mapping) and details.get("error_code") in _SPEND_LIMIT_CODES:
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
    kind = _ERROR_TYPE_KIND.get(err_type, FailureKind.UNKNOWN) if isinstance(err_type, str) else FailureKind.UNKNOWN
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
