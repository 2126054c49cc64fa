"""The failure kinds of the one taxonomy and their words: what went wrong, whether a retry helps, cause and fix.

`FailureKind` names a failure at the layer where it went wrong; `Failure` is one classified failure, made with
`Failure.of(kind)` so that its cause, fix and the doctor check that confirms it come from the one table here
(`KINDS`). Beside it, the names answers give the kinds: ``error.type`` values and Bedrock exception names
(`ERROR_TYPE_KIND`), bare statuses (`STATUS_KIND`), the spend-cap codes of a 429 (`SPEND_LIMIT_CODES`).
`claudewire._errors` holds the rules that map an exception, a status or an event to a kind, and re-exports
`Failure`, `FailureKind` and `NoResponseError`: import them from there. No fix here ever tells anyone to switch
certificate verification off: the fix for an unknown CA is to trust that CA.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "ERROR_TYPE_KIND",
    "KINDS",
    "SPEND_LIMIT_CODES",
    "STATUS_KIND",
    "Failure",
    "FailureKind",
    "KindInfo",
    "NoResponseError",
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
class KindInfo:
    """What the taxonomy says of one kind: retryable by default, a one-line cause, a fix, the confirming check."""

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

KINDS: dict[FailureKind, KindInfo] = {
    FailureKind.DNS: KindInfo(
        True,
        "The API host name could not be resolved.",
        "Check your network and DNS resolver (VPN, /etc/hosts, a DNS filter returning 0.0.0.0); "
        "if you must go through a proxy, set HTTPS_PROXY.",
        "dns",
    ),
    FailureKind.CONNECT_REFUSED: KindInfo(
        True,
        "The connection was refused: nothing listens at that address and port.",
        "Check ANTHROPIC_BASE_URL (host and port); if you use a local gateway, start it; "
        "a firewall may reject the port.",
        "tcp",
    ),
    FailureKind.CONNECT_TIMEOUT: KindInfo(
        True,
        "Connecting timed out: packets to the API host are dropped on the way.",
        "A firewall or missing route drops the traffic: on a corporate network set HTTPS_PROXY to your proxy; "
        "otherwise check VPN and firewall rules for outbound 443.",
        "tcp",
    ),
    FailureKind.PROXY: KindInfo(
        False,
        "The HTTP proxy refused or failed the tunnel (CONNECT) to the API.",
        "Check HTTPS_PROXY (host, port, credentials as http://user:pass@host:port); ask for api.anthropic.com:443 "
        "to be allowed; set NO_PROXY for hosts that must bypass it.",
        "proxy",
    ),
    FailureKind.TLS_VERSION: KindInfo(
        False,
        "The TLS handshake failed on protocol version: something that does not speak TLS 1.2+ answered.",
        "A plain-HTTP service or an old proxy is answering on the TLS port: check the scheme and port in "
        "ANTHROPIC_BASE_URL (https:// for the API, http:// for a local gateway) and HTTPS_PROXY.",
        "tls",
    ),
    FailureKind.CERTIFICATE: KindInfo(
        False,
        "The server's certificate is not trusted (unknown CA, expired, or issued for another host).",
        _TRUST_CA_FIX,
        "certificate",
    ),
    FailureKind.READ_TIMEOUT: KindInfo(
        True,
        "The server accepted the request but did not answer in time.",
        "Long generations should stream (messages.stream); raise the client timeout; a proxy that buffers "
        "or idles out connections can also cause this.",
        "messages",
    ),
    FailureKind.CONNECTION_RESET: KindInfo(
        True,
        "The connection was closed or reset before the answer arrived.",
        "Usually transient (retry); if it repeats, a proxy or firewall is cutting long-lived connections.",
        "tcp",
    ),
    FailureKind.NOT_ANTHROPIC: KindInfo(
        False,
        "Something other than the Anthropic API answered (a captive portal, a proxy's block page, a wrong URL).",
        "Open a browser to sign in to the network if it has a portal; check ANTHROPIC_BASE_URL ends at the "
        "API root (https://api.anthropic.com, no /v1).",
        "http",
    ),
    FailureKind.AUTH: KindInfo(
        False,
        "The API key was rejected (401 authentication_error).",
        "Check ANTHROPIC_API_KEY: no quotes or spaces around it, not revoked, for the right organization; "
        "create a new key in the Console if needed.",
        "auth",
    ),
    FailureKind.PERMISSION: KindInfo(
        False,
        "The key is valid but lacks permission for this resource or model (403 permission_error).",
        "Use a key from a workspace that has access to this model or feature, or ask your org admin.",
        "auth",
    ),
    FailureKind.BILLING: KindInfo(
        False,
        "Billing problem on the account (402 billing_error).",
        "Add credits or fix the payment method in the Console's billing settings.",
        "auth",
    ),
    FailureKind.INVALID_REQUEST: KindInfo(
        False,
        "The request itself is invalid (400 invalid_request_error).",
        "Read the error message: usually a wrong parameter, an unknown anthropic-version, or a malformed body.",
        "version",
    ),
    FailureKind.NOT_FOUND: KindInfo(
        False,
        "The resource was not found (404 not_found_error): often a retired or misspelled model, or a wrong URL.",
        "Check the model id against GET /v1/models (`claudewire doctor --model ...` names a current one) and "
        "that ANTHROPIC_BASE_URL has no extra path.",
        "model",
    ),
    FailureKind.REQUEST_TOO_LARGE: KindInfo(
        False,
        "The request is larger than the API accepts (413 request_too_large).",
        "Send less: trim the conversation or attachments, or use the Files API for large documents.",
        "messages",
    ),
    FailureKind.CONFLICT: KindInfo(
        True,
        "The request conflicted with another one in progress (409).",
        "Transient: retry with backoff.",
        "messages",
    ),
    FailureKind.RATE_LIMIT: KindInfo(
        True,
        "Rate limited (429 rate_limit_error): the requests or tokens per minute of this key are used up.",
        "Wait for retry-after, lower concurrency, or raise your tier; claudewire's client and gateway "
        "hold requests until the limit resets instead of sending them into 429s.",
        "ratelimit",
    ),
    FailureKind.SPEND_LIMIT: KindInfo(
        False,
        "The organization's monthly spend limit is reached (429 enforced_spend_limit_reached).",
        "Raise the spend limit in the Console's limits settings, or wait for the next month; retrying won't help.",
        "ratelimit",
    ),
    FailureKind.OVERLOADED: KindInfo(
        True,
        "The API is temporarily overloaded (529 overloaded_error): Anthropic's side, not your setup.",
        "Retry with backoff (claudewire does it for you); if it persists, check status.anthropic.com.",
        "messages",
    ),
    FailureKind.TIMEOUT: KindInfo(
        True,
        "The API or a gateway timed out while processing the request (408/504).",
        "Retry; for long generations use streaming.",
        "messages",
    ),
    FailureKind.SERVER: KindInfo(
        True,
        "The API or a gateway in front of it had an internal error (5xx api_error).",
        "Retry with backoff; if it persists, check status.anthropic.com or your gateway's logs.",
        "messages",
    ),
    FailureKind.STREAM_INTERRUPTED: KindInfo(
        True,
        "The stream stopped before message_stop (cut off or an error event mid-stream).",
        "Retry the request; if streams are cut or arrive all at once, a proxy buffers or times them out: "
        "exempt the API host from inspection.",
        "streaming",
    ),
    FailureKind.CIRCUIT_OPEN: KindInfo(
        True,
        "claudewire's circuit breaker is open: recent calls to this upstream all failed, so none was sent.",
        "Wait for the breaker's cooldown (the answer's retry-after header says how long); `claudewire doctor` shows "
        "what is failing upstream.",
        "messages",
    ),
    FailureKind.UNKNOWN: KindInfo(
        False,
        "An unrecognised failure.",
        "Run `claudewire doctor` to check each layer of the connection.",
        "config",
    ),
    FailureKind.NO_RESPONSE: KindInfo(
        True,
        "The connection was made and the request sent, but no answer came back in time (not even the response "
        "headers, or a stream's first event).",
        "Not a network or proxy-setting problem: the upstream, or a load balancer or proxy in front of it, took the "
        "request and went silent. It is retried; if it repeats, check the upstream's health and logs (a gateway's "
        "first_byte_timeout bounds how long a stream may stay silent before that retry).",
        "messages",
    ),
    FailureKind.LOCAL_RESOURCES: KindInfo(
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
        return KINDS[self.kind].check

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
        info = KINDS[kind]
        return cls(
            kind=kind,
            retryable=info.retryable if retryable is None else retryable,
            retry_after=retry_after,
            cause=info.cause,
            fix=info.fix,
            status=status,
            message=message,
        )


# --- the names statuses and error bodies give the kinds ------------------------------------------------------------

ERROR_TYPE_KIND: dict[str, FailureKind] = {
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
    "not_supported": FailureKind.NOT_FOUND,  # 501: the endpoint is not on this backend (no breaker counts it)
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

STATUS_KIND: dict[int, FailureKind] = {
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

SPEND_LIMIT_CODES = frozenset({"enforced_spend_limit_reached", "linked_organization_spend_limit_reached"})
