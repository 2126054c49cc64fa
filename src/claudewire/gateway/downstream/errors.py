"""Anthropic-shaped error answers the gateway writes itself, each naming its cause and the party that must act.

Whatever goes wrong on the gateway's side of the wire (the upstream is unreachable, its certificate is untrusted,
the breaker is open, the queue is full, the body is too large) the client gets what the API itself would send:
``{"type": "error", "error": {"type": ..., "message": ...}}`` with a fitting status, so SDKs and Claude Code handle
it like any API error (and retry the retryable ones). The message reads

    claudewire gateway: [upstream `name` at URL: ]<cause> (<detail>) Who acts: <party>. Fix: <fix>

It starts with ``claudewire gateway:`` so nobody mistakes it for the API's own words, and names who must act
(`Party`): the caller for its own mistakes (a path, a body the gateway cannot read), the gateway's operator for the
gateway's limits, tokens and bugs, and the operator *for a named upstream* when that upstream failed (the caller's
base URL and key are fine then). The taxonomy's fixes (`claudewire._failures`) speak to someone calling the API
directly ("check ANTHROPIC_BASE_URL", "create a new key in the Console"): the words here replace them. A failure
whose maker already gave it gateway words (a client's limit, a wrong base URL) keeps them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

from claudewire._errors import Failure, FailureKind
from claudewire._failures import KINDS
from claudewire._messages import GATEWAY_MARKER, WHO_ACTS, Party
from claudewire._secrets import redact_text

__all__ = ["ErrorAnswer", "UpstreamRef", "error_answer", "sse_error_event", "words"]

K = FailureKind

# kind -> (HTTP status, Anthropic error type); anything not listed is a 502 api_error (the path to the API failed)
_ANSWER: dict[FailureKind, tuple[int, str]] = {
    K.CIRCUIT_OPEN: (529, "overloaded_error"),
    K.OVERLOADED: (529, "overloaded_error"),
    K.LOCAL_RESOURCES: (529, "overloaded_error"),  # the gateway's own limit: clients retry 529
    K.RATE_LIMIT: (429, "rate_limit_error"),
    K.REQUEST_TOO_LARGE: (413, "request_too_large"),
    K.AUTH: (401, "authentication_error"),
    K.PERMISSION: (403, "permission_error"),
    K.NOT_FOUND: (404, "not_found_error"),
    K.INVALID_REQUEST: (400, "invalid_request_error"),
    K.READ_TIMEOUT: (504, "timeout_error"),
    K.CONNECT_TIMEOUT: (504, "timeout_error"),
    K.TIMEOUT: (504, "timeout_error"),
    K.NO_RESPONSE: (504, "timeout_error"),
}

# What the gateway's operator does when the upstream failed in this way; {up} is "upstream `name`" (or "the
# upstream"), {url} its URL. Every kind an upstream attempt can end in has its words here (a test renders each).
_UPSTREAM_FIX: dict[FailureKind, str] = {
    K.DNS: "The gateway's host cannot resolve the host of {url}: check its DNS resolver (a VPN, /etc/hosts) and the "
    "url of {up} in the gateway's configuration.",
    K.CONNECT_REFUSED: "Nothing listens at {url}: start {up}, or correct its url (host and port) in the gateway's "
    "configuration.",
    K.CONNECT_TIMEOUT: "Packets from the gateway's host to {url} are dropped: check the firewall and routes between "
    "them (and HTTPS_PROXY on the gateway's host if its network needs a proxy).",
    K.PROXY: "The proxy between the gateway and {url} refused the tunnel: check HTTPS_PROXY on the gateway's host "
    "and that the proxy lets it reach that host.",
    K.TLS_VERSION: "Something that does not speak TLS 1.2+ answers at {url}: check the scheme (https:// or http://) "
    "and port in the url of {up}.",
    K.CERTIFICATE: "The gateway does not trust the certificate {url} presents: give the gateway the CA that issued it "
    "(--ca-file, or ca_file in [proxy]); never switch verification off.",
    K.READ_TIMEOUT: "{up} took the request but stopped sending: check its health and logs (the gateway's "
    "read_timeout and idle_timeout bound the wait).",
    K.NO_RESPONSE: "{up} took the request and went silent: check its health and logs, and any load balancer in "
    "front of it (first_byte_timeout and read_timeout bound the wait; the call is retried).",
    K.TIMEOUT: "{up} did not answer within the call's deadline (the caller's own timeout, or the gateway's [policy] "
    "deadline): check its latency; long generations should stream.",
    K.CONNECTION_RESET: "{up}, or something between it and the gateway, closed the connection: usually transient "
    "(it is retried); if it repeats, check the upstream and any proxy or load balancer in between.",
    K.STREAM_INTERRUPTED: "{up}, or something between it and the gateway, cut the stream: the caller may retry; if it "
    "repeats, check the upstream and any proxy or load balancer in between.",
    K.NOT_ANTHROPIC: "Something other than the API answers at {url}: check the url of {up} in the gateway's "
    "configuration.",
    K.SERVER: "{up} failed: check its health and logs.",
    K.CIRCUIT_OPEN: "The gateway answers at once, without sending, until the breaker's cooldown ends ({wait}); "
    "callers retry after it. Meanwhile its operator reads /readyz and the access log for the failures of {up}, and "
    "runs `claudewire doctor --base-url {url}` from the gateway's host.",
}

# What the caller or the gateway's operator does, for failures the gateway's own rules made.
_OWN: dict[FailureKind, tuple[Party, str, str]] = {
    K.AUTH: (
        Party.OPERATOR,
        "The gateway token was missing or wrong (401 authentication_error).",
        "Check the gateway token you were given (sent as x-api-key or Authorization: Bearer: ANTHROPIC_API_KEY or "
        "ANTHROPIC_AUTH_TOKEN for Claude Code and the SDKs), with no quotes or spaces around it. It is not an "
        "Anthropic key and the Console cannot issue one: ask the gateway's operator for a token.",
    ),
    K.REQUEST_TOO_LARGE: (
        Party.OPERATOR,
        "The request body is larger than this gateway's body limit (413 request_too_large).",
        "The gateway's operator sets that limit (--body-limit, or body_limit in [proxy]) and may raise it; or send "
        "less: trim the conversation or attachments, or use the Files API for large documents.",
    ),
    K.OVERLOADED: (
        Party.OPERATOR,
        "The gateway's own queue is full (529 overloaded_error): every upstream slot is taken and as many calls "
        "wait as it lets wait.",
        "Callers retry after retry-after (the SDKs and Claude Code do); if it persists, the gateway's operator "
        "raises max_concurrency or max_queue (--max-concurrency, --max-queue), or adds --workers or replicas.",
    ),
    K.LOCAL_RESOURCES: (Party.OPERATOR, KINDS[K.LOCAL_RESOURCES].cause, KINDS[K.LOCAL_RESOURCES].fix),
    K.UNKNOWN: (
        Party.OPERATOR,
        "The gateway failed on an error of its own, not on the caller's request (api_error).",
        "The gateway's log (logger claudewire.gateway) has the traceback: its operator should report it. The "
        "caller may retry.",
    ),
    K.NOT_FOUND: (
        Party.CALLER,
        KINDS[K.NOT_FOUND].cause,
        "The detail says which: a model this gateway does not serve (use one it names, or ask its operator to add "
        "it), or a path it does not serve (the API's paths are under /v1: the base URL is the gateway's root for "
        "Claude Code, the Anthropic SDKs, LangChain and LiteLLM, the root plus /v1 for the Vercel AI SDK).",
    ),
    K.INVALID_REQUEST: (Party.CALLER, KINDS[K.INVALID_REQUEST].cause, KINDS[K.INVALID_REQUEST].fix),
    K.RATE_LIMIT: (
        Party.OPERATOR,
        "Rate limited by the gateway (429 rate_limit_error): a limit its operator set was reached.",
        "Wait for retry-after and send fewer or smaller requests; the gateway's operator sets the limits ([[clients]] "
        "in its configuration).",
    ),
    K.PERMISSION: (
        Party.OPERATOR,
        "The gateway does not let this client make this request (403 permission_error).",
        "Ask the gateway's operator: its [[clients]] entry for the client lists the models it may use.",
    ),
    K.BILLING: (
        Party.OPERATOR,
        "Billing stops calls of the account whose keys the gateway holds (402 billing_error).",
        "The gateway's operator fixes the billing of that account (the Console's billing settings).",
    ),
    K.SPEND_LIMIT: (
        Party.OPERATOR,
        "The spend limit of the account whose keys the gateway holds is reached (429 rate_limit_error).",
        "The gateway's operator raises that account's spend limit (the Console's limits settings) or waits for the "
        "next month; retrying won't help.",
    ),
    K.CONFLICT: (Party.CALLER, KINDS[K.CONFLICT].cause, KINDS[K.CONFLICT].fix),
}


@dataclass(frozen=True, slots=True)
class UpstreamRef:
    """An upstream as an error names it: its configured `name`, its `url`, and what it is (``bedrock, us-east-1``;
    empty for the Anthropic API's own kind)."""

    name: str
    url: str
    what: str = ""

    def __str__(self) -> str:
        what = f" ({self.what})" if self.what else ""
        return f"upstream `{self.name}`{what} at {self.url}"


@dataclass(frozen=True, slots=True)
class Words:
    """What a gateway-written error says: who acts, the cause (after what failed) and the fix."""

    party: Party
    cause: str
    fix: str
    who: str


class ErrorAnswer:
    """A ready-to-send error: status, extra header lines (``retry-after``), the JSON body, and who must act."""

    __slots__ = ("body", "error_type", "headers", "kind", "party", "status")

    def __init__(
        self,
        status: int,
        error_type: str,
        kind: FailureKind,
        headers: bytes,
        body: bytes,
        party: Party = Party.OPERATOR,
    ) -> None:
        self.status = status
        self.error_type = error_type
        self.kind = kind
        self.headers = headers
        self.body = body
        self.party = party


def words(failure: Failure, upstreams: Sequence[UpstreamRef] = ()) -> Words:
    """The words of a gateway-written `failure`: its party, cause and fix (`upstreams`: the ones that failed)."""
    kind = failure.kind
    if kind in _UPSTREAM_FIX:
        up, url = _names(upstreams)
        wait = f"about {max(1, math.ceil(failure.retry_after))}s more" if failure.retry_after else "see retry-after"
        fix = _UPSTREAM_FIX[kind].format_map({"up": up, "url": url, "wait": wait})
        subject = f"{', '.join(str(u) for u in upstreams)}: " if upstreams else ""
        who = f"{WHO_ACTS[Party.UPSTREAM]} {up}; nothing on the caller's side."
        return Words(Party.UPSTREAM, subject + failure.cause, fix[0].upper() + fix[1:], who)
    party, cause, fix = _OWN[kind]
    if failure.cause != KINDS[kind].cause:  # its maker gave it gateway words already (a client's limit, a base URL)
        cause, fix = failure.cause, failure.fix
    return Words(party, cause, fix, WHO_ACTS[party])


def _names(upstreams: Sequence[UpstreamRef]) -> tuple[str, str]:
    if not upstreams:
        return "the upstream", "the upstream's url"
    if len(upstreams) == 1:
        return f"upstream `{upstreams[0].name}`", upstreams[0].url
    names = ", ".join(f"`{u.name}`" for u in upstreams)
    return f"upstreams {names}", "each upstream's url"


def _message(said: Words, failure: Failure, detail: str | None) -> str:
    parts = [GATEWAY_MARKER, said.cause]
    extra = detail or failure.message
    if extra:
        parts.append(f"({redact_text(extra)})")
    parts.append(said.who)
    parts.append(f"Fix: {said.fix}")
    return " ".join(parts)


def error_answer(
    failure: Failure, *, detail: str | None = None, request_id: str = "", upstreams: Sequence[UpstreamRef] = ()
) -> ErrorAnswer:
    """The answer for `failure`: status and type from its kind, a message naming its cause, who acts and the fix.

    `upstreams`: the upstream(s) whose failure this is (named in the message); `request_id`: this answer's own id.
    """
    status, error_type = _ANSWER.get(failure.kind, (502, "api_error"))
    said = words(failure, upstreams)
    body: dict[str, object] = {
        "type": "error",
        "error": {"type": error_type, "message": _message(said, failure, detail)},
    }
    if request_id:
        body["request_id"] = request_id
    headers = b"content-type: application/json\r\n"
    if request_id:
        headers += b"request-id: " + request_id.encode("ascii", "replace") + b"\r\n"
    if failure.retry_after is not None:
        headers += b"retry-after: %d\r\n" % max(1, math.ceil(failure.retry_after))
    if failure.retryable:
        headers += b"x-should-retry: true\r\n"
    return ErrorAnswer(status, error_type, failure.kind, headers, json.dumps(body).encode(), said.party)


def sse_error_event(failure: Failure, *, detail: str | None = None, upstreams: Sequence[UpstreamRef] = ()) -> bytes:
    """An SSE ``error`` event for a stream that already began (the status line is long gone)."""
    _, error_type = _ANSWER.get(failure.kind, (502, "api_error"))
    message = _message(words(failure, upstreams), failure, detail)
    data = {"type": "error", "error": {"type": error_type, "message": message}}
    return b"event: error\ndata: " + json.dumps(data).encode() + b"\n\n"
