"""The ``http`` and ``clock`` checks: the answer comes from an Anthropic API, and the local clock agrees with it.

The probe is ``GET /v1/models`` without a key: the API answers it with a JSON ``authentication_error``, which no
captive portal, proxy block page or wrong base URL imitates, and the key never goes to whatever else answered.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx2

from claudewire._errors import Failure, FailureKind, classify
from claudewire._secrets import redact_url
from claudewire.doctor.net import Target
from claudewire.doctor.proxy import proxy_fix
from claudewire.doctor.result import CheckResult, JSONValue, Status
from claudewire.doctor.settings import Settings, split_url
from claudewire.doctor.urlprobe import Answer, get_capped

__all__ = ["HttpProbe", "check_clock", "check_http", "client_for", "probe_http"]

_MAX_BODY = 64 * 1024
_ERROR_TYPES = frozenset(
    {
        "invalid_request_error",
        "authentication_error",
        "billing_error",
        "permission_error",
        "not_found_error",
        "request_too_large",
        "rate_limit_error",
        "api_error",
        "timeout_error",
        "overloaded_error",
    }
)
_SKEW_WARN_S = 60.0
_NOT_ANTHROPIC_FIX = Failure.of(FailureKind.NOT_ANTHROPIC).fix


def client_for(settings: Settings, *, follow_redirects: bool) -> httpx2.AsyncClient:
    """An httpx2 client with the profile's trust store and the chosen proxy, environment not consulted again."""
    return httpx2.AsyncClient(
        verify=settings.trust_context(),
        proxy=settings.proxy.url,
        trust_env=False,
        follow_redirects=follow_redirects,
        timeout=settings.timeout,
    )


@dataclass(frozen=True, slots=True)
class HttpProbe(Answer):
    """The unauthenticated probe's answer (the body's first 64 KiB) or the error instead, with the local clock
    around it."""

    sent_at: float = 0.0
    received_at: float = 0.0


async def probe_http(settings: Settings, version: str) -> HttpProbe:
    """``GET {base_url}/v1/models`` with the SDK's ``anthropic-version`` and no credentials."""
    url = settings.base_url.strip().rstrip("/") + "/v1/models"
    start, sent = time.monotonic(), time.time()
    try:
        async with client_for(settings, follow_redirects=False) as client:
            status, head, body = await get_capped(client, url, {"anthropic-version": version}, _MAX_BODY)
    except (httpx2.HTTPError, OSError, TimeoutError) as exc:
        return HttpProbe(url, error=exc, elapsed_ms=(time.monotonic() - start) * 1000)
    return HttpProbe(
        url,
        status=status,
        headers=head,
        body=body,
        sent_at=sent,
        received_at=time.time(),
        elapsed_ms=(time.monotonic() - start) * 1000,
    )


def _anthropic_shape(body: bytes) -> tuple[bool, str | None]:
    """(is it the API's JSON, the error type if an error)."""
    try:
        parsed: Any = json.loads(body)
    except ValueError:
        return False, None
    if not isinstance(parsed, dict):
        return False, None
    error = parsed.get("error")
    if parsed.get("type") == "error" and isinstance(error, dict) and error.get("type") in _ERROR_TYPES:
        return True, str(error["type"])
    return isinstance(parsed.get("data"), list) and "has_more" in parsed, None


def _describe_body(headers: Mapping[str, str], body: bytes) -> str:
    kind = headers.get("content-type", "no content type").split(";")[0]
    text = body[:2048].decode("utf-8", "replace")
    title = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
    sample = title.group(1).strip() if title else " ".join(text.split())[:80]
    return f"{kind} {sample!r}" if sample else kind


def check_http(probe: HttpProbe, settings: Settings) -> CheckResult:
    """Pass when an Anthropic API answered (its JSON error or model list); fail naming what answered otherwise."""
    evidence: dict[str, JSONValue] = {"url": redact_url(probe.url)}
    ms = probe.elapsed_ms
    if probe.error is not None or probe.status is None:
        exc = probe.error or TimeoutError()
        evidence["error"] = f"{type(exc).__name__}: {exc or 'no message'}"
        failure = classify(exc) or Failure.of(FailureKind.UNKNOWN)
        if isinstance(exc, httpx2.TimeoutException | TimeoutError):
            detail = f"connected, but no HTTP answer within {settings.timeout:g}s: something holds the request"
            fix = "A proxy or firewall holds HTTP to this host, or the server hangs: try another network."
        else:
            said = str(exc) or "the connection closed before any answer came back"
            detail = f"no HTTP answer: {type(exc).__name__}: {said}"
            parts = split_url(settings.base_url)
            fix = proxy_fix(settings, Target(*parts)) if failure.kind is FailureKind.PROXY and parts else failure.fix
        return CheckResult("http", Status.FAIL, detail, fix, evidence, ms)
    headers = probe.headers
    evidence.update(
        {
            "status": probe.status,
            "content_type": headers.get("content-type"),
            "request_id": headers.get("request-id"),
            "server": headers.get("server"),
        }
    )
    if 300 <= probe.status < 400:
        where = headers.get("location", "?")
        detail = f"redirected ({probe.status}) to {where}: a captive portal or a wrong base URL, not the API"
        return CheckResult("http", Status.FAIL, detail, _NOT_ANTHROPIC_FIX, evidence, ms)
    ok, error_type = _anthropic_shape(probe.body)
    if not ok:
        detail = f"{probe.status} {_describe_body(headers, probe.body)} is not the Anthropic API"
        return CheckResult("http", Status.FAIL, detail, _NOT_ANTHROPIC_FIX, evidence, ms)
    evidence["error_type"] = error_type
    if probe.status == 404:
        detail = f"the API answered 404 at {probe.url}: ANTHROPIC_BASE_URL does not point at the API root"
        return CheckResult("http", Status.FAIL, detail, _NOT_ANTHROPIC_FIX, evidence, ms)
    seen = f"{probe.status} {error_type}" if error_type else f"{probe.status} model list"
    rid = f", request-id {headers['request-id']}" if headers.get("request-id") else ""
    return CheckResult(
        "http", Status.PASS, f"an Anthropic API answered ({seen} without a key{rid})", None, evidence, ms
    )


def check_clock(probe: HttpProbe) -> CheckResult:
    """Skew between the local clock and the server's ``Date`` header; minutes of skew is a warning."""
    raw = probe.headers.get("date")
    if not raw:
        return CheckResult("clock", Status.SKIP, "the answer had no Date header to compare with", None, {})
    try:
        server = email.utils.parsedate_to_datetime(raw).timestamp()
    except (TypeError, ValueError):
        return CheckResult("clock", Status.SKIP, f"unreadable Date header {raw!r}", None, {"date": raw})
    local = (probe.sent_at + probe.received_at) / 2
    skew = local - server  # positive: the local clock is ahead
    # Date has one-second resolution, and a second more for the round trip
    margin = 1.0 + (probe.received_at - probe.sent_at) / 2
    evidence: dict[str, JSONValue] = {"date": raw, "skew_s": round(skew, 1)}
    if abs(skew) <= margin:
        return CheckResult("clock", Status.PASS, "the local clock agrees with the server's Date", None, evidence)
    way = "ahead of" if skew > 0 else "behind"
    detail = f"the local clock is {abs(skew):.0f}s {way} the server's Date ({raw})"
    if abs(skew) < _SKEW_WARN_S:
        return CheckResult("clock", Status.PASS, detail, None, evidence)
    fix = (
        "Turn on automatic time (NTP: `timedatectl set-ntp true`, or the OS date settings): a wrong clock breaks "
        "certificate validity checks and rate-limit reset times."
    )
    return CheckResult("clock", Status.WARN, detail, fix, evidence)
