"""The one error taxonomy: statuses, bodies, headers and exceptions map to the right Failure."""

from __future__ import annotations

import re
import socket
import ssl
import subprocess
import sys

import anthropic
import httpx2
import pytest

from claudewire import CircuitOpenError, FailureKind, classify
from claudewire._errors import Failure, parse_retry_after
from claudewire.explain import explain_json


def _body(kind: str, **extra: object) -> dict[str, object]:
    return {"type": "error", "error": {"type": kind, "message": "m", **extra}}


@pytest.mark.parametrize(
    ("status", "error_type", "kind", "retryable"),
    [
        (400, "invalid_request_error", FailureKind.INVALID_REQUEST, False),
        (401, "authentication_error", FailureKind.AUTH, False),
        (402, "billing_error", FailureKind.BILLING, False),
        (403, "permission_error", FailureKind.PERMISSION, False),
        (404, "not_found_error", FailureKind.NOT_FOUND, False),
        (413, "request_too_large", FailureKind.REQUEST_TOO_LARGE, False),
        (408, None, FailureKind.TIMEOUT, True),
        (409, None, FailureKind.CONFLICT, True),
        (429, "rate_limit_error", FailureKind.RATE_LIMIT, True),
        (500, "api_error", FailureKind.SERVER, True),
        (502, None, FailureKind.SERVER, True),
        (503, None, FailureKind.SERVER, True),
        (504, "timeout_error", FailureKind.TIMEOUT, True),
        (529, "overloaded_error", FailureKind.OVERLOADED, True),
    ],
)
def test_status_rules(status: int, error_type: str | None, kind: FailureKind, retryable: bool) -> None:
    """Each documented status maps to its kind, retried exactly when the API docs say so."""
    failure = classify(status, body=_body(error_type) if error_type else b"upstream error")
    assert failure is not None
    assert (failure.kind, failure.retryable, failure.status) == (kind, retryable, status)
    assert failure.cause and failure.fix


def test_success_is_no_failure() -> None:
    """A 200 with JSON is not a failure."""
    assert classify(200, body=b'{"type":"message"}') is None


def test_html_200_is_not_anthropic() -> None:
    """A captive portal's HTML 200 is named as something other than the API answering."""
    failure = classify(200, body=b"<!DOCTYPE html><html><body>Sign in</body></html>")
    assert failure is not None and failure.kind is FailureKind.NOT_ANTHROPIC


@pytest.mark.parametrize(("header", "retryable"), [("true", True), ("false", False)])
def test_x_should_retry_overrides(header: str, retryable: bool) -> None:
    """x-should-retry overrides the status rule both ways."""
    assert classify(400, headers={"x-should-retry": header}).retryable is retryable  # type: ignore[union-attr]
    assert classify(529, headers={"X-Should-Retry": header}).retryable is retryable  # type: ignore[union-attr]


def test_spend_limit_is_not_retryable() -> None:
    """The monthly spend cap (a 429 with enforced_spend_limit_reached) is spend_limit, never retried."""
    body = _body("rate_limit_error", details={"error_code": "enforced_spend_limit_reached"})
    failure = classify(429, body=body)
    assert failure is not None
    assert failure.kind is FailureKind.SPEND_LIMIT and not failure.retryable


def test_retry_after_forms() -> None:
    """retry-after-ms wins over retry-after; seconds and HTTP dates both parse."""
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert parse_retry_after({"retry-after": "7"}) == 7.0
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2026 07:28:10 GMT"}, now=1792567680.0) == 10.0
    assert parse_retry_after({"retry-after": "nonsense"}) is None
    assert classify(429, headers={"Retry-After": "12"}).retry_after == 12.0  # type: ignore[union-attr]


def test_sse_error_event() -> None:
    """An SSE error event classifies by its error type; overloaded mid-stream is retryable."""
    failure = classify({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    assert failure is not None and failure.kind is FailureKind.OVERLOADED and failure.retryable
    assert classify({"type": "message_stop"}) is None


def _request() -> httpx2.Request:
    return httpx2.Request("POST", "https://api.anthropic.com/v1/messages")


@pytest.mark.parametrize(
    ("inner", "kind"),
    [
        (socket.gaierror(-2, "Name or service not known"), FailureKind.DNS),
        (ConnectionRefusedError(111, "Connection refused"), FailureKind.CONNECT_REFUSED),
        (ConnectionResetError(104, "Connection reset by peer"), FailureKind.CONNECTION_RESET),
        (
            ssl.SSLCertVerificationError(1, "certificate verify failed: unable to get local issuer"),
            FailureKind.CERTIFICATE,
        ),
        (ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"), FailureKind.TLS_VERSION),
    ],
)
def test_sdk_connection_error_is_classified_by_its_cause(inner: OSError, kind: FailureKind) -> None:
    """The SDK's APIConnectionError is classified by the socket or ssl error underneath it."""
    try:
        try:
            raise httpx2.ConnectError(str(inner)) from inner
        except httpx2.ConnectError as e:
            raise anthropic.APIConnectionError(request=_request()) from e
    except anthropic.APIConnectionError as exc:
        failure = classify(exc)
    assert failure is not None and failure.kind is kind


def test_timeouts_and_proxy_errors() -> None:
    """httpx2's connect timeout, read timeout and proxy errors keep their distinct kinds."""
    assert classify(httpx2.ConnectTimeout("t")).kind is FailureKind.CONNECT_TIMEOUT  # type: ignore[union-attr]
    assert classify(httpx2.ReadTimeout("t")).kind is FailureKind.READ_TIMEOUT  # type: ignore[union-attr]
    assert classify(httpx2.ProxyError("407")).kind is FailureKind.PROXY  # type: ignore[union-attr]
    assert classify(anthropic.APITimeoutError(_request())).kind is FailureKind.READ_TIMEOUT  # type: ignore[union-attr]


def test_circuit_open_error_is_an_sdk_connection_error() -> None:
    """CircuitOpenError is caught by existing `except anthropic.APIConnectionError` and carries its wait."""
    exc = CircuitOpenError(upstream="https://x:443", retry_after=12.5, request=_request())
    assert isinstance(exc, anthropic.APIConnectionError)
    failure = classify(exc)
    assert failure is not None and failure.kind is FailureKind.CIRCUIT_OPEN and failure.retry_after == 12.5


def test_no_fix_disables_verification() -> None:
    """No fix text in the taxonomy ever suggests switching certificate verification off."""
    from claudewire._failures import KINDS

    for info in KINDS.values():
        text = info.fix.lower()
        for bad in ("verify=false", "-k ", "--insecure", "node_tls_reject_unauthorized", "cert_none"):
            assert bad not in text


def test_the_certificate_fix_builds_a_bundle_with_save_ca() -> None:
    """The certificate kind's fix points at `doctor --save-ca` and a bundle with the system's CAs for SSL_CERT_FILE,
    never SSL_CERT_FILE at a lone CA file (it replaces the default bundle); Node gets its own variables."""
    fix = classify(ssl.SSLCertVerificationError(1, "certificate verify failed")).fix  # type: ignore[union-attr]
    assert "claudewire doctor --save-ca ca.pem" in fix and "the system's CAs plus ca.pem for SSL_CERT_FILE" in fix
    assert "NODE_EXTRA_CA_CERTS" in fix and "NODE_USE_SYSTEM_CA=1" in fix
    assert "SSL_CERT_FILE=/path/to" not in fix


def test_mid_stream_error_event_raised_by_the_sdk() -> None:
    """The SDK raises a mid-stream overloaded_error on the stream's 200 response: classified overloaded, retryable."""
    response = httpx2.Response(200, request=_request())
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    exc = anthropic.APIStatusError("Overloaded", response=response, body=body)
    failure = classify(exc)
    assert failure is not None and failure.kind is FailureKind.OVERLOADED and failure.retryable


def test_taxonomy_gateway_and_sim_do_not_import_the_sdk() -> None:
    """The taxonomy, policy, gateway and simulator load without the official SDK (0.9 s, 50 MiB); the client does."""
    code = (
        "import sys, claudewire, claudewire.gateway.app, claudewire.sim, claudewire.metrics\n"
        "assert 'anthropic' not in sys.modules, 'SDK imported too early'\n"
        "claudewire.Anthropic\n"
        "assert 'anthropic' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_read_timeout_is_not_mistaken_for_a_connect_timeout() -> None:
    """A stalled answer times out as read_timeout, though a bare TimeoutError lies at the bottom of its chain."""
    from claudewire.testing import run_sim

    with run_sim(faults=["stall"]) as sim:
        client = anthropic.Anthropic(base_url=sim.base_url, api_key="sk-ant-test", max_retries=0, timeout=0.3)
        with pytest.raises(anthropic.APITimeoutError) as info:
            client.messages.create(model="claude-haiku-4-5", max_tokens=8, messages=[{"role": "user", "content": "x"}])
    assert classify(info.value).kind is FailureKind.READ_TIMEOUT  # type: ignore[union-attr]


_PLACEHOLDER = re.compile(
    r"[{}]"  # str.format / f-string leftovers
    r"|%\(\w+\)[sdrf]|%[sdrf]\b"  # printf-style
    r"|\(\s*[a-z]+(?:_[a-z]+)+\s*\)"  # a bare field name in brackets: "(retry_after)"
    r"|<[a-z_]+>"  # <placeholder>
)


@pytest.mark.parametrize("kind", list(FailureKind))
def test_no_failure_text_carries_a_template_placeholder(kind: FailureKind) -> None:
    """Every kind's cause and fix, as a failure renders them (with a retry-after, a status, a message), are plain
    words: no `{…}`, `%s`, `<name>` or bare `(retry_after)` reaches a user."""
    failure = Failure.of(kind, retry_after=2.5, status=503, message="upstream said no")
    for text in (failure.cause, failure.fix, *explain_json(failure).values()):
        if isinstance(text, str):
            assert not _PLACEHOLDER.search(text), f"{kind}: {text!r}"


def test_the_placeholder_check_is_not_vacuous() -> None:
    """The pattern above catches the text the circuit-open fix used to carry."""
    assert _PLACEHOLDER.search("Wait for the cooldown (retry_after); then retry.")
    assert _PLACEHOLDER.search("retry after {retry_after}s")
    assert not _PLACEHOLDER.search(Failure.of(FailureKind.CIRCUIT_OPEN).fix)
