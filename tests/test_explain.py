"""`explain` maps what users actually paste to the shared taxonomy's kinds."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claudewire._errors import Failure
from claudewire._errors import FailureKind as K
from claudewire.explain import explain, explain_json
from claudewire.gateway.downstream.errors import error_answer

PY_TRACEBACK_CERT = """Traceback (most recent call last):
  File "/usr/lib/python3.11/site-packages/httpx/_transports/default.py", line 69, in map_httpcore_exceptions
    yield
httpcore.ConnectError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer \
certificate (_ssl.c:1006)

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "app.py", line 12, in <module>
    client.messages.create(model="claude-sonnet-4-6", max_tokens=1024, messages=msgs)
anthropic.APIConnectionError: Connection error."""

PY_TRACEBACK_RATE = """Traceback (most recent call last):
  File "agent.py", line 88, in run
    response = client.messages.create(**params)
  File "/venv/lib/python3.12/site-packages/anthropic/_base_client.py", line 1047, in request
    raise self._make_status_error_from_response(err.response) from None
anthropic.RateLimitError: Error code: 429 - {'type': 'error', 'error': {'type': 'rate_limit_error', 'message': \
'This request would exceed the rate limit for your organization (abc) of 50,000 input tokens per minute.'}}"""

PY_TRACEBACK_DNS = """Traceback (most recent call last):
  File "/venv/lib/python3.11/site-packages/httpcore/_backends/sync.py", line 206, in connect_tcp
    sock = socket.create_connection(
socket.gaierror: [Errno -3] Temporary failure in name resolution
...
anthropic.APIConnectionError: Connection error."""

TS_CERT = """APIConnectionError: Connection error.
    at Anthropic.makeRequest (node_modules/@anthropic-ai/sdk/core.mjs:332:19) {
  status: undefined,
  cause: FetchError: request to https://api.anthropic.com/v1/messages failed, reason: self-signed certificate in \
certificate chain
      at ClientRequest.<anonymous> (node_modules/node-fetch/lib/index.js:1501:11) {
    type: 'system',
    errno: 'SELF_SIGNED_CERT_IN_CHAIN',
    code: 'SELF_SIGNED_CERT_IN_CHAIN'
  }
}"""

CASES: list[tuple[str, K]] = [
    # Python SDK reprs
    (
        "anthropic.InternalServerError: Error code: 529 - {'type': 'error', 'error': {'type': 'overloaded_error', "
        "'message': 'Overloaded'}}",
        K.OVERLOADED,
    ),
    (
        "anthropic.AuthenticationError: Error code: 401 - {'type': 'error', 'error': {'type': "
        "'authentication_error', 'message': 'invalid x-api-key'}, 'request_id': 'req_011CT'}",
        K.AUTH,
    ),
    (
        "anthropic.PermissionDeniedError: Error code: 403 - {'type': 'error', 'error': {'type': 'permission_error', "
        "'message': 'Your API key does not have permission to use the specified resource.'}}",
        K.PERMISSION,
    ),
    (
        "anthropic.NotFoundError: Error code: 404 - {'type': 'error', 'error': {'type': 'not_found_error', "
        "'message': 'model: claude-3-5-sonnet-20240620'}}",
        K.NOT_FOUND,
    ),
    (
        "anthropic.BadRequestError: Error code: 400 - {'type': 'error', 'error': {'type': 'invalid_request_error', "
        "'message': 'Your credit balance is too low to access the Anthropic API.'}}",
        K.BILLING,  # the API sends it as a 400; explain names the account problem
    ),
    (
        "anthropic.RateLimitError: Error code: 429 - {'type': 'error', 'error': {'type': 'rate_limit_error', "
        "'message': 'You have reached your specified workspace API usage limits.', 'details': {'error_code': "
        "'enforced_spend_limit_reached'}}}",
        K.SPEND_LIMIT,
    ),
    ("anthropic.APITimeoutError: Request timed out.", K.READ_TIMEOUT),
    (
        "anthropic.BadRequestError: Error code: 400 - {'type': 'error', 'error': {'type': 'invalid_request_error', "
        "'message': 'max_tokens: 100000 > 64000, which is the maximum allowed number of output tokens'}}",
        K.INVALID_REQUEST,
    ),
    (
        "anthropic.InternalServerError: Error code: 500 - {'type': 'error', 'error': {'type': 'api_error', "
        "'message': 'Internal server error'}}",
        K.SERVER,
    ),
    (PY_TRACEBACK_CERT, K.CERTIFICATE),
    (PY_TRACEBACK_RATE, K.RATE_LIMIT),
    (PY_TRACEBACK_DNS, K.DNS),
    (
        "httpx.ConnectError: [Errno 111] Connection refused\n\nanthropic.APIConnectionError: Connection error.",
        K.CONNECT_REFUSED,
    ),
    (
        "httpx.RemoteProtocolError: peer closed connection without sending complete message body "
        "(incomplete chunked read)",
        K.STREAM_INTERRUPTED,
    ),
    ("httpcore.ReadTimeout: The read operation timed out", K.READ_TIMEOUT),
    ("httpx.ConnectTimeout: timed out", K.CONNECT_TIMEOUT),
    # TypeScript SDK messages
    (
        '529 {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":null}',
        K.OVERLOADED,
    ),
    (
        '429 {"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded '
        'your per-minute rate limit"}}',
        K.RATE_LIMIT,
    ),
    ("APIConnectionTimeoutError: Request timed out.", K.READ_TIMEOUT),
    (TS_CERT, K.CERTIFICATE),
    (
        'Error: 401 {"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}',
        K.AUTH,
    ),
    # raw HTTP status lines
    ("HTTP/1.1 529 Overloaded", K.OVERLOADED),
    ("HTTP/2 429 Too Many Requests\nretry-after: 30", K.RATE_LIMIT),
    ("HTTP/1.1 502 Bad Gateway", K.SERVER),
    ("HTTP/1.1 504 Gateway Timeout", K.TIMEOUT),
    ("HTTP/1.1 407 Proxy Authentication Required", K.PROXY),
    ("HTTP/1.1 413 Request Entity Too Large", K.REQUEST_TOO_LARGE),
    # Anthropic error JSON alone
    ('{"type":"error","error":{"type":"billing_error","message":"Your credit balance is too low."}}', K.BILLING),
    ('{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}', K.OVERLOADED),
    (
        '{"type":"error","error":{"type":"request_too_large","message":"Request exceeds the maximum size"}}',
        K.REQUEST_TOO_LARGE,
    ),
    # OpenSSL / ssl messages
    (
        "ssl.SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has "
        "expired (_ssl.c:1006)",
        K.CERTIFICATE,
    ),
    (
        "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: Hostname mismatch, certificate is not valid for "
        "'api.anthropic.com'. (_ssl.c:1006)",
        K.CERTIFICATE,
    ),
    ("ssl.SSLError: [SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)", K.TLS_VERSION),
    (
        "140736:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../ssl/record/ssl3_record.c:354:",
        K.TLS_VERSION,
    ),
    ("Error: unable to verify the first certificate", K.CERTIFICATE),
    # socket errors
    ("Error: connect ECONNREFUSED 127.0.0.1:8080", K.CONNECT_REFUSED),
    ("Error: getaddrinfo ENOTFOUND api.anthropic.com", K.DNS),
    ("socket.gaierror: [Errno 11001] getaddrinfo failed", K.DNS),
    (
        "Error: read ECONNRESET\n    at TLSWrap.onStreamRead (node:internal/stream_base_commons:217:20)",
        K.CONNECTION_RESET,
    ),
    ("Error: connect ETIMEDOUT 160.79.104.10:443", K.CONNECT_TIMEOUT),
    ("ConnectionResetError: [Errno 104] Connection reset by peer", K.CONNECTION_RESET),
    ("OSError: [Errno 101] Network is unreachable", K.CONNECT_TIMEOUT),
    ("502 api_error: An unrecognised failure. (OSError: [Errno 24] Too many open files)", K.LOCAL_RESOURCES),
    # proxy errors
    (
        "requests.exceptions.ProxyError: HTTPSConnectionPool(host='api.anthropic.com', port=443): Max retries exceeded "
        "with url: /v1/messages (Caused by ProxyError('Unable to connect to proxy', OSError('Tunnel connection failed: "
        "403 Forbidden')))",
        K.PROXY,
    ),
    ("Error: tunneling socket could not be established, statusCode=407", K.PROXY),
    ("httpx.ProxyError: 407 Proxy Authentication Required", K.PROXY),
    # curl, as users reproduce it by hand
    ("curl: (56) CONNECT tunnel failed, response 403", K.PROXY),
    (
        "curl: (7) Failed to connect to api.anthropic.com port 443 after 2 ms: Couldn't connect to server",
        K.CONNECT_REFUSED,
    ),
    ("curl: (60) SSL certificate problem: unable to get local issuer certificate", K.CERTIFICATE),
    ("curl: (6) Could not resolve host: api.anthropic.com", K.DNS),
    # Claude Code messages
    ('API Error: 529 {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}', K.OVERLOADED),
    ("Invalid API key · Please run /login", K.AUTH),
    ("API Error: Request timed out.", K.READ_TIMEOUT),
    (
        'API Error: 401 {"type":"error","error":{"type":"authentication_error","message":"OAuth token has expired. '
        'Please obtain a new token or refresh your existing token."}}',
        K.AUTH,
    ),
    ("Credit balance is too low", K.BILLING),
    # Cursor messages
    ("ConnectError: [unavailable] Error: net::ERR_CERT_AUTHORITY_INVALID", K.CERTIFICATE),
    ("Request failed with status code 403", K.PERMISSION),
    (
        "ConnectError: [internal] Stream closed with error code NGHTTP2_PROTOCOL_ERROR / net::ERR_HTTP2_PROTOCOL_ERROR",
        K.CONNECTION_RESET,
    ),
    # something else answered
    ("SyntaxError: Unexpected token '<', \"<!DOCTYPE \"... is not valid JSON", K.NOT_ANTHROPIC),
    ("json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)", K.NOT_ANTHROPIC),
    ("claudewire.CircuitOpenError: circuit open for api.anthropic.com: recent calls all failed", K.CIRCUIT_OPEN),
    ("claudewire.NoResponseError: no response head within 30 s from https://api.anthropic.com", K.NO_RESPONSE),
]


@pytest.mark.parametrize(("text", "kind"), CASES, ids=[f"{i:02d}-{k.value}" for i, (_, k) in enumerate(CASES)])
def test_explain_recognises_what_users_paste(text: str, kind: K) -> None:
    """Each real-world error text maps to the expected kind, with the taxonomy's cause, fix and check."""
    failure = explain(text)
    assert failure.kind is kind, (failure, text)
    assert failure.cause and failure.fix and failure.check


def test_the_table_is_large_and_covers_the_kinds() -> None:
    """At least 40 texts, covering nearly every kind of the taxonomy."""
    assert len(CASES) >= 40
    missing = set(K) - {kind for _, kind in CASES} - {K.CONFLICT, K.UNKNOWN}
    assert not missing, missing


def test_status_with_retry_after_is_read() -> None:
    """A status line with a retry-after header gives a retryable rate limit with that wait."""
    failure = explain("HTTP/1.1 429 Too Many Requests\r\nretry-after: 30\r\n")
    assert failure.kind is K.RATE_LIMIT
    assert failure.retryable and failure.retry_after == 30.0


def test_json_document_has_exactly_the_contract_fields() -> None:
    """explain --json's document is {kind, retryable, cause, fix, check}."""
    doc = explain_json(explain("Error: getaddrinfo ENOTFOUND api.anthropic.com"))
    assert set(doc) == {"kind", "retryable", "cause", "fix", "check"}
    assert doc["kind"] == "dns" and doc["check"] == "dns" and doc["retryable"] is True


def test_unknown_text_is_still_an_answer_and_empty_text_is_an_error() -> None:
    """Unrecognisable text gives kind unknown (run the doctor); empty text raises ValueError."""
    assert explain("the build is green").kind is K.UNKNOWN
    with pytest.raises(ValueError, match="nothing to explain"):
        explain("   \n")


def test_no_fix_switches_verification_off() -> None:
    """No explanation ever suggests turning certificate verification off."""
    for text, _ in CASES:
        fix = explain(text).fix
        for forbidden in ("verify=False", "NODE_TLS_REJECT_UNAUTHORIZED", "--insecure", " -k "):
            assert forbidden not in fix


def test_key_in_pasted_text_is_not_echoed() -> None:
    """A key pasted along with the error is redacted from the message explain keeps."""
    failure = explain("curl -H 'x-api-key: sk-ant-api03-secretsecret-1234' ... ECONNREFUSED")
    assert "secretsecret" not in (failure.message or "")


@given(st.text(max_size=400))
@settings(max_examples=200, deadline=None)
def test_explain_never_crashes_on_arbitrary_text(text: str) -> None:
    """Any text gives an answer (or, when blank, the usage ValueError), never another exception."""
    if not text.strip():
        with pytest.raises(ValueError):
            explain(text)
        return
    failure = explain(text)
    assert failure.kind in set(K)


def test_explain_survives_deeply_nested_braces() -> None:
    """Pathological nesting in pasted text is not parsed to exhaustion: the answer still comes."""
    assert explain("{" * 5000 + "ECONNREFUSED" + "}" * 5000).kind is K.CONNECT_REFUSED


# Real texts: Claude Code 2.1.197 as `claude -p` printed them against the simulator's faults (refused port,
# unresolvable host, --tls without its CA, portal, unknown model, stall), lines from its own message table, the
# Bedrock and Vertex error references, and the API's answers to OAuth tokens.
FAMILY_CASES: list[tuple[str, K, str]] = [
    ("API Error: Unable to connect to API (ConnectionRefused)", K.CONNECT_REFUSED, ""),
    ("API Error: Unable to connect to API (FailedToOpenSocket)", K.DNS, "FailedToOpenSocket"),
    (
        "API Error: Unable to connect to API: SSL certificate verification failed. Check your proxy or corporate SSL "
        "certificates",
        K.CERTIFICATE,
        "NODE_EXTRA_CA_CERTS",
    ),
    (
        "API Error: Unable to connect to API: Self-signed certificate detected. Check your proxy or corporate SSL "
        "certificates",
        K.CERTIFICATE,
        "NODE_USE_SYSTEM_CA=1",
    ),
    (
        "API Error: API returned an empty or malformed response (HTTP 200) — check for a proxy or gateway "
        "intercepting the request",
        K.NOT_ANTHROPIC,
        "portal",
    ),
    (
        "There's an issue with the selected model (claude-nonexistent-9). It may not exist or you may not have "
        "access to it. Run --model to pick a different model.",
        K.NOT_FOUND,
        "/model",
    ),
    ("Stream idle timeout - no chunks received", K.STREAM_INTERRUPTED, "watchdog"),
    ("Agent stalled: no progress for 300s (stream watchdog did not recover)", K.STREAM_INTERRUPTED, "buffers"),
    ("Request timed out (API_TIMEOUT_MS=3000ms, try increasing it)", K.READ_TIMEOUT, "API_TIMEOUT_MS"),
    ("Request timed out. Check your internet connection and proxy settings", K.READ_TIMEOUT, "API_TIMEOUT_MS"),
    ("API Error: Repeated 529 Overloaded errors", K.OVERLOADED, "/model"),
    ("Not logged in · Please run /login", K.AUTH, "claude /login"),
    ("Invalid API key · Fix external API key", K.AUTH, "--profile claude-code"),
    ("The socket connection was closed unexpectedly", K.CONNECTION_RESET, ""),
    (
        'API Error: 403 {"type":"error","error":{"type":"permission_error","message":"OAuth token does not meet '
        'scope requirement user:profile"}}',
        K.PERMISSION,
        "claude /login",
    ),
    (
        "anthropic.AuthenticationError: Error code: 401 - {'type': 'error', 'error': {'type': "
        "'authentication_error', 'message': 'OAuth authentication is currently not supported.'}}",
        K.AUTH,
        "API key",
    ),
    (
        "Error code: 400 - {'type': 'error', 'error': {'type': 'invalid_request_error', 'message': 'This credential "
        "is only authorized for use with Claude Code and cannot be used for other API requests.'}}",
        K.AUTH,
        "only in Claude Code",
    ),
    ("API Error: 400 invalid beta flag", K.INVALID_REQUEST, "CLAUDE_CODE_DISABLE_EXPERIMENTAL_BETAS"),
    (
        "botocore.errorfactory.ThrottlingException: An error occurred (ThrottlingException) when calling the "
        "InvokeModel operation (reached max retries: 4): Too many requests, please wait before trying again.",
        K.RATE_LIMIT,
        "Service Quotas",
    ),
    (
        "botocore.errorfactory.AccessDeniedException: An error occurred (AccessDeniedException) when calling the "
        "InvokeModelWithResponseStream operation: You don't have access to the model with the specified model ID.",
        K.PERMISSION,
        "Model access",
    ),
    (
        "An error occurred (ValidationException) when calling the InvokeModel operation: The provided model "
        "identifier is invalid.",
        K.NOT_FOUND,
        "region",
    ),
    ("An error occurred (ModelStreamErrorException) when calling the operation", K.STREAM_INTERRUPTED, "Bedrock"),
    (
        "An error occurred (ValidationException) when calling the InvokeModel operation: messages.0: bad",
        K.INVALID_REQUEST,
        "Bedrock",
    ),
    (
        'API Error: 400 {"type":"error","error":{"type":"invalid_request_error","message":"context_management: '
        'Extra inputs are not permitted"}}',
        K.INVALID_REQUEST,
        "CLAUDE_CODE_DISABLE_EXPERIMENTAL_BETAS",
    ),
    (
        "429 RESOURCE_EXHAUSTED. Quota exceeded for aiplatform.googleapis.com/online_prediction_requests_per_base_model"
        " with base model: anthropic-claude-sonnet-4-6.",
        K.RATE_LIMIT,
        "Quotas",
    ),
    (
        "403 PERMISSION_DENIED: Permission 'aiplatform.endpoints.predict' denied on resource",
        K.PERMISSION,
        "aiplatform.user",
    ),
]


@pytest.mark.parametrize(("text", "kind", "hint"), FAMILY_CASES)
def test_claude_code_cloud_and_oauth_families(text: str, kind: K, hint: str) -> None:
    """Claude Code's own lines, Bedrock/Vertex errors and OAuth answers get their kind and the family's hint."""
    failure = explain(text)
    assert failure.kind is kind, failure
    assert hint in failure.fix


def test_the_gateways_breaker_is_named_as_the_gateways() -> None:
    """A 529 the gateway wrote because its breaker is open is circuit_open, pointing at the upstream and /readyz."""
    answer = error_answer(Failure.of(K.CIRCUIT_OPEN, retry_after=12.0), detail="3 failures in a row")
    text = f"API Error: {answer.status} {answer.body.decode()}"
    failure = explain(text)
    assert failure.kind is K.CIRCUIT_OPEN
    assert "gateway" in failure.cause and "not the API" in failure.cause
    assert "/readyz" in failure.fix and "upstream" in failure.fix


def test_other_gateway_errors_name_the_gateway_and_their_kind() -> None:
    """The gateway's 502 for an unreachable upstream is the refusal it quotes, said to be the gateway's."""
    answer = error_answer(Failure.of(K.CONNECT_REFUSED), detail="127.0.0.1:9")
    failure = explain(f"API Error: 502 {answer.body.decode()}")
    assert failure.kind is K.CONNECT_REFUSED
    assert "gateway" in failure.cause and "/readyz" in failure.fix


MODEL_404 = (
    "anthropic.NotFoundError: Error code: 404 - "
    "{{'type': 'error', 'error': {{'type': 'not_found_error', 'message': 'model: {}'}}}}"
)


@pytest.mark.parametrize(
    ("model", "hint"),
    [
        ("claude-3-5-sonnet-20240620", "claude-3-5-sonnet-20240620 was retired on the Claude API on 2025-10-22: use "
         "claude-sonnet-5-5."),
        ("claude-sonnet-4-5", "claude-sonnet-4-5 was retired on the Claude API on 2026-11-30: use claude-sonnet-5-5."),
        ("claude-opus-4-5", "claude-opus-4-5 is deprecated on the Claude API and retires on 2027-01-22: use "
         "claude-opus-5-5."),
        ("claude-sonet-5-5", "claude-sonet-5-5 is not a model id the API serves: did you mean claude-sonnet-5-5?"),
    ],
)  # fmt: skip
def test_a_404_naming_a_model_is_read_against_the_catalogue(model: str, hint: str) -> None:
    """A not_found naming a retired or deprecated model says so with its date and a current successor of its line; a
    typo gets the current model it is near, never a retired one."""
    failure = explain(MODEL_404.format(model), today=dt.date(2026, 12, 7))
    assert failure.kind is K.NOT_FOUND
    assert failure.fix.endswith(hint)


def test_a_404_naming_a_current_model_gets_no_model_hint() -> None:
    """A current model in a 404 (a wrong base URL, a workspace without access) gets the kind's fix alone."""
    failure = explain(MODEL_404.format("claude-opus-5-5"), today=dt.date(2026, 12, 7))
    assert failure.fix == Failure.of(K.NOT_FOUND).fix


AMBIGUOUS = [
    "anthropic.APIConnectionError: Connection error.",
    "APIConnectionError: Connection error.",
    "API Error (Connection error.) · Retrying in 4 seconds… (attempt 3/10)",
    "TypeError: fetch failed",
    "We're having trouble connecting to the model provider. This might be temporary - please try again in a moment.",
    "Connection failed. If the problem persists, please check your internet connection or VPN",
]


@pytest.mark.parametrize("text", AMBIGUOUS)
def test_a_connection_error_that_names_no_cause_is_called_ambiguous(text: str) -> None:
    """ "Connection error." alone is not called a reset: it is ambiguous (DNS, proxy, TLS, refused, reset), the fix is
    the doctor, and the kind stays unknown rather than a guess."""
    failure = explain(text)
    assert failure.kind is K.UNKNOWN
    assert failure.kind is not K.CONNECTION_RESET
    for layer in ("resolve", "proxy", "certificate", "refused", "reset"):
        assert layer in failure.cause, layer
    assert "claudewire doctor" in failure.fix


def test_a_connection_error_with_its_cause_in_the_traceback_takes_the_cause() -> None:
    """The same "Connection error." under a traceback that names the cause is that cause, not ambiguous."""
    assert explain(PY_TRACEBACK_DNS).kind is K.DNS
    assert explain(PY_TRACEBACK_CERT).kind is K.CERTIFICATE


@pytest.mark.parametrize(
    "text",
    [
        "max_tokens: 128000 > 64000, which is the maximum allowed number of output tokens for claude-opus-4-5-20251101",
        "anthropic.BadRequestError: Error code: 400 - {'type': 'error', 'error': {'type': 'invalid_request_error', "
        "'message': 'max_tokens: 128000 > 64000, which is the maximum allowed number of output tokens for "
        "claude-opus-4-5-20251101'}, 'request_id': 'req_011CV'}",
    ],
)
def test_max_tokens_above_the_models_output_limit(text: str) -> None:
    """The API's max_tokens wording is an invalid request, not retryable, and the fix lowers max_tokens to the
    model's maximum (with the numbers and model it gave) or picks a model with a larger output."""
    failure = explain(text)
    assert failure.kind is K.INVALID_REQUEST and not failure.retryable
    assert "128000" in failure.cause and "claude-opus-4-5-20251101" in failure.cause
    assert "Lower max_tokens to 64000" in failure.fix and "larger output" in failure.fix


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]


def test_no_explanation_says_a_sentence_twice() -> None:
    """A kind's fix and a family's hint never repeat each other (the not-found fix used to name the doctor twice)."""
    texts = [text for text, _ in CASES] + [text for text, _, _ in FAMILY_CASES] + AMBIGUOUS
    for text in texts:
        fix = explain(text).fix
        sentences = _sentences(fix)
        assert len(sentences) == len(set(sentences)), fix
        assert fix.count("claudewire doctor --model") <= 1, fix


def test_an_openai_client_on_an_anthropic_native_endpoint_is_sent_to_the_openai_ingress() -> None:
    """The OpenAI SDK's 400 'anthropic-version: header is required' names the client and the <gateway>/v1 ingress."""
    pasted = (
        "openai.BadRequestError: Error code: 400 - {'type': 'error', 'error': {'type': 'invalid_request_error', "
        "'message': 'anthropic-version: header is required'}}"
    )
    found = explain(pasted)
    assert found.kind is K.INVALID_REQUEST and not found.retryable
    assert "OpenAI-format client" in found.cause
    assert "<gateway>/v1" in found.fix and "<gateway>/cursor" in found.fix and "docs/openai.md" in found.fix
    assert "not an Anthropic SDK" in explain("400 anthropic-version: header is required").cause
