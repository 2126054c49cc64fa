"""`explain`: what a pasted error means, through the same taxonomy as everything else (`claudewire._errors`).

Users paste Python SDK reprs and tracebacks, TypeScript SDK messages, raw status lines, Anthropic error JSON,
OpenSSL messages, socket errors, proxy errors and what Cursor or Claude Code printed. `explain` finds, in order:

0. an error claudewire's own gateway wrote (``claudewire gateway: <cause> ...``): named as the gateway's, with the
   kind whose cause it quotes; then a message family that names its cause in words (Claude Code's own lines,
   Bedrock and Vertex exceptions, OAuth answers: `claudewire._messages`), whose hint is added to the fix;
1. an Anthropic error body (JSON, or the Python dict repr the SDK prints) with the status next to it
   (``Error code: 429 - {...}``, ``API Error: 529 {...}``, ``HTTP/1.1 429``) and any ``retry-after`` header in the
   text: `classify` decides, exactly as it does for a live response;
2. a network-layer marker that is unambiguous (certificate, TLS version, proxy tunnel, DNS, refused, reset ...);
3. a bare HTTP status: `classify` again;
4. weaker markers: SDK exception class names and error-type words;
5. a connection error that names no cause (``anthropic.APIConnectionError: Connection error.`` alone): said to be
   ambiguous (DNS, proxy, TLS, refused and reset all print it), with the doctor as the fix, kind ``unknown``.

The API's ``max_tokens: N > M, which is the maximum allowed number of output tokens for MODEL`` is read before all
of these and answered with the numbers it gives. Nothing recognisable is still an answer: kind ``unknown``, whose
fix is to run the doctor.

A ``not_found`` naming a model is read against the model catalogue (`claudewire._models`, the lineup the simulator
serves and the doctor advises from): a retired or deprecated model is named so with its date and a current
successor of its line; an id the API does not serve gets a current model it is a typo of, never a retired one.
"""

from __future__ import annotations

import ast
import dataclasses
import datetime as dt
import json
import re
from collections.abc import Mapping
from typing import Any

from claudewire._errors import Failure, FailureKind, classify
from claudewire._failures import ERROR_TYPE_KIND, STATUS_KIND
from claudewire._messages import FAMILIES, GATEWAY_HINTS, GATEWAY_MARKER, WHO_ACTS, Party
from claudewire._models import Catalogue, Lifecycle, utc_today
from claudewire._secrets import redact_text

__all__ = ["explain", "explain_json"]

K = FailureKind

# "claudewire gateway: <cause ending in (404 not_found_error).> (<detail>) Who acts: ... Fix: <fix>" as the gateway
# writes it; the fix runs to the end of the message (a quote, a line end, or the " (path: ..." the Python SDK adds)
_GATEWAY_OWN = re.compile(r"claudewire gateway: (?P<cause>[^\n\"]*?\((?:(?P<status>[1-5]\d\d) )?(?P<type>[a-z_]+)\)\.)")
_GATEWAY_FIX = re.compile(r" Fix: (?P<fix>[^\n\"]+?)(?=\"|'[,}]| \(path: |\n|$)")
_UPSTREAM_NOTE = (
    "(The gateway wrote this about its own path to the upstream: run `claudewire doctor` on the gateway's host, and "
    "read its /readyz and access log.)"
)
_OPERATOR_NOTE = "(A limit, token or error of the gateway itself: if you do not run it, pass this on to who does.)"

# Unambiguous markers of a network-layer failure: checked before any status number in the text, because e.g.
# "Tunnel connection failed: 403 Forbidden" is the proxy's 403, not the API's.
_STRONG: tuple[tuple[str, FailureKind], ...] = (
    (r"enforced_spend_limit_reached|spend limit|API usage limits", K.SPEND_LIMIT),
    (r"circuit open|CircuitOpenError", K.CIRCUIT_OPEN),
    (
        r"proxy authentication required|tunnel connection failed|tunneling socket could not be established|"
        r"ERR_TUNNEL_CONNECTION_FAILED|unable to connect to proxy|CONNECT tunnel failed|from proxy after CONNECT|"
        r"ProxyError|ClientProxyConnectionError|"
        r"ClientHttpProxyError|ERR_PROXY_CONNECTION_FAILED|proxy.{0,40}(refused|denied|blocked)",
        K.PROXY,
    ),
    (
        r"CERTIFICATE_VERIFY_FAILED|certificate verify failed|unable to get local issuer certificate|"
        r"UNABLE_TO_GET_ISSUER_CERT|self[- ]signed certificate|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED|"
        r"certificate has expired|CERT_HAS_EXPIRED|hostname mismatch|does not match certificate's altnames|"
        r"ERR_TLS_CERT_ALTNAME_INVALID|UNABLE_TO_VERIFY_LEAF_SIGNATURE|unable to verify the first certificate|"
        r"SSLCertVerificationError|certificate signed by unknown authority|ERR_CERT_AUTHORITY_INVALID|"
        r"CERT_UNTRUSTED|certificate is not trusted|ClientConnectorCertificateError",
        K.CERTIFICATE,
    ),
    (
        r"WRONG_VERSION_NUMBER|wrong version number|UNSUPPORTED_PROTOCOL|alert protocol version|"
        r"packet length too long|ERR_SSL_PROTOCOL_ERROR|\bEPROTO\b",
        K.TLS_VERSION,
    ),
    (
        r"<!doctype html|<html|Unexpected token '?<'?|is not valid JSON|Expecting value: line 1 column 1|"
        r"captive portal",
        K.NOT_ANTHROPIC,
    ),
    (
        r"getaddrinfo|ENOTFOUND|EAI_AGAIN|Name or service not known|nodename nor servname|"
        r"Temporary failure in name resolution|No address associated with hostname|gaierror|Could not resolve host|"
        r"ERR_NAME_NOT_RESOLVED|ClientConnectorDNSError|dns error|failed to lookup address",
        K.DNS,
    ),
    (
        r"ECONNREFUSED|Connection refused|actively refused|ERR_CONNECTION_REFUSED|Couldn't connect to server|"
        r"Errno 111\b|WinError 10061",
        K.CONNECT_REFUSED,
    ),
    (
        r"ConnectTimeout|connect ETIMEDOUT|Connection timed out|Errno 110\b|EHOSTUNREACH|ENETUNREACH|"
        r"Network is unreachable|No route to host|UND_ERR_CONNECT_TIMEOUT|ERR_CONNECTION_TIMED_OUT|"
        r"WinError 10060",
        K.CONNECT_TIMEOUT,
    ),
    (
        r"peer closed connection without sending complete message body|incomplete chunked read|"
        r"ERR_STREAM_PREMATURE_CLOSE|premature close|stream (was )?(cut|interrupted|ended unexpectedly)|"
        r"ClientPayloadError|TransferEncodingError",
        K.STREAM_INTERRUPTED,
    ),
    (
        r"ECONNRESET|Connection reset|Connection aborted|socket hang up|RemoteDisconnected|Server ?Disconnected|"
        r"\bEPIPE\b|Broken pipe|other side closed|UND_ERR_SOCKET|ERR_HTTP2_PROTOCOL_ERROR|ERR_CONNECTION_CLOSED|"
        r"ERR_CONNECTION_RESET|Errno 104\b",
        K.CONNECTION_RESET,
    ),
    (r"Too many open files|\bEMFILE\b|\bENFILE\b|Errno 24\b", K.LOCAL_RESOURCES),
)

# Weaker markers: exception class names and error words that a status or body would have settled already.
_WEAK: tuple[tuple[str, FailureKind], ...] = (
    (r"NoResponseError|no answer came back in time", K.NO_RESPONSE),
    (r"overloaded_error|OverloadedError|\bOverloaded\b", K.OVERLOADED),
    (r"rate_limit_error|RateLimitError|rate limit|Too Many Requests|usage limit reached", K.RATE_LIMIT),
    (
        r"authentication_error|AuthenticationError|invalid x-api-key|invalid api key|OAuth token has expired|"
        r"x-api-key header is required|Could not resolve authentication method|/login",
        K.AUTH,
    ),
    (r"permission_error|PermissionDeniedError|does not have permission", K.PERMISSION),
    (r"billing_error|credit balance is too low|Payment Required", K.BILLING),
    (r"not_found_error|NotFoundError|model not found|model: \S+", K.NOT_FOUND),
    (r"request_too_large|Request Entity Too Large|Payload Too Large", K.REQUEST_TOO_LARGE),
    (r"invalid_request_error|BadRequestError|UnprocessableEntityError|prompt is too long", K.INVALID_REQUEST),
    (r"ConflictError|conflict_error", K.CONFLICT),
    (r"timeout_error|Gateway Timeout", K.TIMEOUT),
    (
        r"APITimeoutError|APIConnectionTimeoutError|ReadTimeout|Request timed out|timed out|ETIMEDOUT|"
        r"UND_ERR_HEADERS_TIMEOUT|ESOCKETTIMEDOUT|TimeoutError",
        K.READ_TIMEOUT,
    ),
    (r"api_error|InternalServerError|Internal Server Error|Bad Gateway|Service Unavailable", K.SERVER),
)

# What a client prints when it could not reach the API and does not say why: the SDKs' "Connection error.",
# undici's "fetch failed", Cursor's "trouble connecting". Checked last: a cause anywhere in the text wins.
_AMBIGUOUS_CONNECTION = re.compile(
    r"APIConnectionError|Connection error|ConnectError|fetch failed|trouble connecting|check your internet connection",
    re.IGNORECASE,
)
_AMBIGUOUS_CAUSE = (
    "The client could not reach the API and the text does not say why: a connection error alone is what a host "
    "name that does not resolve, a proxy refusing the tunnel, an untrusted certificate, a refused connection and a "
    "reset all look like. Clients retry it by themselves before they show it."
)
_AMBIGUOUS_FIX = (
    "Run `claudewire doctor` in the same environment (ANTHROPIC_BASE_URL, HTTPS_PROXY, SSL_CERT_FILE as the failing "
    "program has them): it checks each layer and names the one that fails. Or paste the whole traceback: the "
    "exception above `The above exception was the direct cause` names the cause."
)
# The API's words for a max_tokens above the model's output limit (a 400 invalid_request_error).
_MAX_TOKENS = re.compile(
    r"max_tokens:\s*(\d+)\s*>\s*(\d+),\s*which is the maximum allowed number of output tokens"
    r"(?:\s+for\s+([\w.:@/-]*\w))?",
    re.IGNORECASE,
)

_STATUS: tuple[str, ...] = (
    r"Error code:\s*(\d{3})",  # Python SDK: "Error code: 429 - {...}"
    r"\bHTTP/\d(?:\.\d)?\s+(\d{3})\b",  # raw status line
    r"API Error:?\s*\(?(\d{3})\b",  # Claude Code: "API Error: 529 {...}"
    r"status(?:[ _]?code)?[\s:=]+(\d{3})\b",  # "status code 502", "status=429"
    r"^\s*(?:Error:\s*)?(\d{3})\s+(?=[{\"'A-Z])",  # TypeScript SDK: "429 {...}" / "529 Overloaded"
    r"\b(\d{3})\s+(?:Too Many Requests|Bad Gateway|Service Unavailable|Gateway Timeout|Unauthorized|Forbidden|"
    r"Not Found|Payment Required|Proxy Authentication Required|Request Timeout|Internal Server Error|Bad Request)",
)
_CREDIT = re.compile(r"credit balance is too low", re.IGNORECASE)
_MODEL_ID = re.compile(
    r"(?<![\w.])(?:[a-z]{2}\.)?(?:anthropic\.)?(claude-[a-z0-9][a-z0-9.\-]*?)(?:-v\d+(?::\d+)?)?(?![\w.\-])"
)
_RETRY_AFTER = re.compile(r"(retry-after(?:-ms)?)[\"']?\s*[:=]\s*[\"']?([0-9.]+)", re.IGNORECASE)


def _compile(table: tuple[tuple[str, FailureKind], ...]) -> tuple[tuple[re.Pattern[str], FailureKind], ...]:
    return tuple((re.compile(p, re.IGNORECASE), k) for p, k in table)


_STRONG_RE = _compile(_STRONG)
_WEAK_RE = _compile(_WEAK)
_STATUS_RE = tuple(re.compile(p, re.IGNORECASE | re.MULTILINE) for p in _STATUS)


def _status(text: str) -> int | None:
    for pattern in _STATUS_RE:
        match = pattern.search(text)
        if match and 100 <= int(match.group(1)) <= 599:
            return int(match.group(1))
    return None


def _objects(text: str) -> list[Any]:
    """Every JSON object (or Python dict repr) that starts at a ``{`` in `text`, outermost first."""
    found: list[Any] = []
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1 and len(found) < 8:
        try:
            obj, end = decoder.raw_decode(text, start)
        except ValueError:
            obj, end = _python_literal(text, start)
        if isinstance(obj, Mapping):
            found.append(obj)
            start = text.find("{", end)
        else:
            start = text.find("{", start + 1)
    return found


def _python_literal(text: str, start: int) -> tuple[Any, int]:
    """The Python dict repr starting at `start` (the SDK prints ``{'type': 'error', ...}``), or (None, start)."""
    depth = 0
    for i in range(start, min(len(text), start + 20_000)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                try:
                    return ast.literal_eval(text[start : i + 1]), i + 1
                except (ValueError, SyntaxError, MemoryError, RecursionError):
                    return None, start
    return None, start


def _anthropic_body(text: str) -> Mapping[str, Any] | None:
    obj: Mapping[str, Any]
    for obj in _objects(text):
        err = obj.get("error")
        if isinstance(err, Mapping) and isinstance(err.get("type"), str):
            return obj
        if obj.get("type") in ("error",) or str(obj.get("type", "")).endswith("_error"):
            return obj
    return None


def _headers(text: str) -> dict[str, str]:
    return {m.group(1).lower(): m.group(2) for m in _RETRY_AFTER.finditer(text)}


def _line(text: str, match: re.Match[str] | None = None) -> str:
    """The line of `text` holding `match` (or the last non-empty line), trimmed, secrets redacted."""
    if match is not None:
        begin = text.rfind("\n", 0, match.start()) + 1
        end = text.find("\n", match.end())
        line = text[begin : end if end != -1 else len(text)]
    else:
        lines = [ln for ln in text.splitlines() if ln.strip()]
        line = lines[-1] if lines else ""
    line = line.strip()
    return redact_text(line if len(line) <= 300 else line[:297] + "...")


def _search(table: tuple[tuple[re.Pattern[str], FailureKind], ...], text: str) -> Failure | None:
    for pattern, kind in table:
        match = pattern.search(text)
        if match:
            return Failure.of(kind, message=_line(text, match))
    return None


def _with_hint(failure: Failure, hint: str) -> Failure:
    return dataclasses.replace(failure, fix=f"{failure.fix} {hint}") if hint else failure


def _gateway(text: str, status: int | None) -> Failure | None:
    """An answer claudewire's gateway wrote itself: the kind whose cause it quotes, named as the gateway's, with the
    fix it wrote for the party it names (the caller, its operator, its operator for an upstream)."""
    at = text.find(GATEWAY_MARKER)
    if at == -1:
        return None
    said = text[at:]
    party = next((p for p, marker in WHO_ACTS.items() if marker in said), None)
    written = _GATEWAY_FIX.search(said)
    for kind in FailureKind:
        plain = Failure.of(kind)
        if kind is not FailureKind.UNKNOWN and plain.cause in said:
            cause = plain.cause
            break
    else:
        # a cause of the gateway's own (a wrong base URL, its body limit ...): its "(404 not_found_error)" names it
        own = _GATEWAY_OWN.search(said)
        if own is None:
            return None
        cause = own.group("cause")
        written_status = int(own.group("status") or 0) or None
        kind = ERROR_TYPE_KIND.get(own.group("type")) or STATUS_KIND.get(written_status or 0, K.UNKNOWN)
        status = status or written_status
        party = party or Party.CALLER  # before parties were named, only the caller's own mistakes had own causes
    if party is None:  # a gateway from before parties were named: its fixes spoke to the API's caller
        fix = GATEWAY_HINTS.get(kind) or f"{plain.fix} {_UPSTREAM_NOTE}"
    else:
        fix = written.group("fix") if written is not None else ""
        if party is Party.UPSTREAM:
            fix = f"{fix} {_UPSTREAM_NOTE}" if fix else GATEWAY_HINTS.get(kind, _UPSTREAM_NOTE)
        elif party is Party.OPERATOR:
            fix = f"{fix} {_OPERATOR_NOTE}".strip()
        fix = fix or "Read the gateway's message: it names what to change."
    return dataclasses.replace(
        Failure.of(kind, status=status, message=_line(text)),
        cause=f"claudewire's gateway answered, not the API: {cause}",
        fix=fix,
    )


def _family(text: str, status: int | None) -> Failure | None:
    for family in FAMILIES:
        match = family.pattern.search(text)
        if match:
            return _with_hint(Failure.of(family.kind, status=status, message=_line(text, match)), family.hint)
    return None


def _model_hint(text: str, today: dt.date) -> str:
    """What the catalogue knows about the model `text` names: retired or deprecated (with a current successor), or
    the current model an unknown id is a typo of; "" for a current model, no model, or nothing near."""
    catalogue = Catalogue(today=lambda: today)
    for match in _MODEL_ID.finditer(text):
        named = match.group(1).rstrip(".-")
        known = catalogue.get(named)
        if known is not None:
            stage = catalogue.lifecycle(known)
            successor = catalogue.replacement_for(known.id)
            use = f"use {successor.id}" if successor is not None else "use a current model (GET /v1/models)"
            date = (known.retires_at or "")[:10]
            if stage is Lifecycle.RETIRED:
                return f"{named} was retired on the Claude API{f' on {date}' if date else ''}: {use}."
            if stage is Lifecycle.DEPRECATED:
                return f"{named} is deprecated on the Claude API{f' and retires on {date}' if date else ''}: {use}."
            return ""
        near = catalogue.nearest(named, catalogue.current())
        if near is not None:
            return f"{named} is not a model id the API serves: did you mean {near[1].id}?"
    return ""


def _max_tokens(text: str, status: int | None) -> Failure | None:
    """The API's "max_tokens: N > M, which is the maximum allowed number of output tokens for MODEL" (a 400)."""
    match = _MAX_TOKENS.search(text)
    if match is None:
        return None
    asked, most, model = match.group(1), match.group(2), match.group(3) or "this model"
    return dataclasses.replace(
        Failure.of(FailureKind.INVALID_REQUEST, status=status, message=_line(text, match)),
        cause=(
            f"The request asks for up to {asked} output tokens (max_tokens), more than {model} can write ({most}): "
            "the API refuses it before generating anything (400 invalid_request_error); a retry fails the same way."
        ),
        fix=(
            f"Lower max_tokens to {most} (the model's output maximum) or less, or pick a model with a larger output "
            "limit (GET /v1/models gives each model's max_tokens)."
        ),
    )


_NO_VERSION = re.compile(r"anthropic-version:?\s*header is required", re.IGNORECASE)
_OPENAI_SIGNS = re.compile(r"openai|chat[./]completions|/responses\b|APIStatusError|BadRequestError", re.IGNORECASE)


def _openai_client(text: str, status: int | None) -> Failure | None:
    """The API's ``anthropic-version: header is required``: a client of another format (the OpenAI SDK, Cursor,
    LiteLLM ...) sent its request to an Anthropic-native endpoint, which never answers it."""
    match = _NO_VERSION.search(text)
    if match is None:
        return None
    who = "An OpenAI-format client" if _OPENAI_SIGNS.search(text) else "A client that is not an Anthropic SDK"
    return dataclasses.replace(
        Failure.of(FailureKind.INVALID_REQUEST, status=status, message=_line(text, match)),
        cause=(
            f"{who} sent its request to an Anthropic-native endpoint (/v1/messages, /v1/models): the API answers "
            "only its own format, which carries an anthropic-version header (400 invalid_request_error); every "
            "retry fails the same way."
        ),
        fix=(
            "Run claudewire's gateway (`claudewire proxy`) and point the client at its OpenAI ingress: base URL "
            "<gateway>/v1 for the OpenAI SDK, LiteLLM, Codex CLI or Open WebUI (it serves /v1/chat/completions, "
            "/v1/responses and /v1/models), <gateway>/cursor as Cursor's Override OpenAI Base URL; see "
            "docs/openai.md. Or use an Anthropic SDK against the API itself."
        ),
    )


def _ambiguous(text: str) -> Failure | None:
    """A connection error that names no cause: say it is ambiguous and send to the doctor, never guess a kind."""
    match = _AMBIGUOUS_CONNECTION.search(text)
    if match is None:
        return None
    return dataclasses.replace(
        Failure.of(FailureKind.UNKNOWN, message=_line(text, match)), cause=_AMBIGUOUS_CAUSE, fix=_AMBIGUOUS_FIX
    )


def explain(text: str, today: dt.date | None = None) -> Failure:
    """The `Failure` (kind, retryable, cause, fix, and `.check`) that pasted error `text` describes.

    Raises ValueError for empty text. Unrecognised text gives kind ``unknown``. A ``not_found`` naming a model gets
    what the model catalogue knows of it (on `today`, default the UTC date) added to the fix.
    """
    found = _explain(text)
    if found.kind is FailureKind.NOT_FOUND:
        return _with_hint(found, _model_hint(text, today or utc_today()))
    return found


def _explain(text: str) -> Failure:
    if not text or not text.strip():
        raise ValueError("nothing to explain: paste an error message, traceback, status line or JSON body")
    status = _status(text)
    named = _max_tokens(text, status) or _openai_client(text, status) or _gateway(text, status) or _family(text, status)
    if named is not None:
        return named
    headers = _headers(text)
    body = _anthropic_body(text)
    if body is not None:
        found = classify(status, headers=headers, body=body) if status and status >= 400 else classify(body)
        if found is not None and found.kind is not FailureKind.UNKNOWN:
            # the API words two account problems as generic errors: name them for what they are
            if found.kind is FailureKind.RATE_LIMIT and _STRONG_RE[0][0].search(text):
                return Failure.of(FailureKind.SPEND_LIMIT, status=status, message=found.message)
            if found.kind is FailureKind.INVALID_REQUEST and _CREDIT.search(text):
                return Failure.of(FailureKind.BILLING, status=status, message=found.message)
            return found
    strong = _search(_STRONG_RE, text)
    if strong is not None:
        return strong
    if status is not None and status >= 400:
        found = classify(status, headers=headers)
        if found is not None and found.kind is not FailureKind.UNKNOWN:
            return dataclasses.replace(found, message=_line(text))
    return _search(_WEAK_RE, text) or _ambiguous(text) or Failure.of(FailureKind.UNKNOWN, message=_line(text))


def explain_json(failure: Failure) -> dict[str, Any]:
    """The ``--json`` document: exactly ``{"kind", "retryable", "cause", "fix", "check"}``."""
    return {
        "kind": failure.kind.value,
        "retryable": failure.retryable,
        "cause": failure.cause,
        "fix": failure.fix,
        "check": failure.check,
    }
