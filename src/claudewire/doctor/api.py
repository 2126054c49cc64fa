"""The ``auth``, ``version`` and ``model`` checks, through the official SDK so the doctor sees what the SDK sees.

Two keyed requests run side by side: ``GET /v1/models`` (is the key accepted, is the ``anthropic-version``
accepted, which models are current) and ``GET /v1/models/{model}`` (does the model exist, and its lifecycle:
retired → fail naming a current replacement; deprecated → warn with the retirement date).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import anthropic
import httpx2

from claudewire._errors import Failure, FailureKind, classify
from claudewire.doctor.http import client_for
from claudewire.doctor.result import CheckResult, JSONValue, Status
from claudewire.doctor.settings import Settings

__all__ = [
    "ApiProbe",
    "check_auth",
    "check_model",
    "check_version",
    "classify_sdk_error",
    "make_client",
    "probe_api",
    "sdk_version",
]

_AUTH_KINDS = (FailureKind.AUTH, FailureKind.PERMISSION, FailureKind.BILLING)


def sdk_version(settings: Settings) -> str:
    """The ``anthropic-version`` header the requests carry."""
    from anthropic._constants import ANTHROPIC_API_VERSION

    return settings.anthropic_version or ANTHROPIC_API_VERSION


def make_client(settings: Settings) -> anthropic.AsyncAnthropic:
    """The official async client, no retries, the key as the SDK would send it, the profile's trust and proxy."""
    headers = {"anthropic-version": settings.anthropic_version} if settings.anthropic_version else None
    credentials: dict[str, Any] = (
        {"auth_token": settings.api_key, "api_key": None}
        if settings.key_source == "ANTHROPIC_AUTH_TOKEN"
        else {"api_key": settings.api_key, "auth_token": None}
    )
    return anthropic.AsyncAnthropic(
        base_url=settings.base_url.strip(),
        max_retries=0,
        timeout=settings.timeout,
        default_headers=headers,
        http_client=client_for(settings, follow_redirects=True),
        **credentials,
    )


@dataclass(frozen=True, slots=True)
class Answer:
    """One SDK call's outcome: the parsed body and headers, or the classified failure."""

    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    failure: Failure | None = None
    elapsed_ms: float = 0.0


async def call(coro: Any) -> Answer:
    """Await an SDK ``with_raw_response`` call; classify whatever it raises through the shared taxonomy."""
    start = time.monotonic()
    try:
        raw = await coro
        body = await raw.parse()
        return Answer(body, {k.lower(): v for k, v in raw.headers.items()}, None, _ms(start))
    except (anthropic.APIError, httpx2.HTTPError, OSError, TimeoutError) as exc:
        headers: Mapping[str, str] = {}
        if isinstance(exc, anthropic.APIStatusError):
            headers = {k.lower(): v for k, v in exc.response.headers.items()}
        return Answer(None, headers, classify_sdk_error(exc), _ms(start))


def classify_sdk_error(exc: BaseException) -> Failure:
    """`classify` for an exception the SDK raised (an exception always classifies; the fallback keeps mypy sure)."""
    return classify(exc) or Failure.of(FailureKind.UNKNOWN, message=f"{type(exc).__name__}: {exc}")


def _ms(start: float) -> float:
    return (time.monotonic() - start) * 1000


@dataclass(frozen=True, slots=True)
class ApiProbe:
    """The two model requests' answers."""

    listing: Answer
    model: Answer


async def probe_api(client: anthropic.AsyncAnthropic, settings: Settings) -> ApiProbe:
    """List the models and retrieve the chosen one, concurrently."""
    import asyncio

    listing, model = await asyncio.gather(
        call(client.models.with_raw_response.list(limit=1000)),
        call(client.models.with_raw_response.retrieve(settings.model)),
    )
    return ApiProbe(listing, model)


def _said(failure: Failure) -> str:
    status = f"{failure.status} " if failure.status else ""
    message = f": {failure.message}" if failure.message else ""
    return f"{status}{failure.kind.value}{message}"


def check_auth(probe: ApiProbe, settings: Settings) -> CheckResult:
    """401 → the key is rejected; 403 → no permission; 402 → billing. Any other answer after auth means accepted."""
    answer = probe.listing
    evidence: dict[str, JSONValue] = {"key_source": settings.key_source}
    failure = answer.failure
    if failure is None:
        return CheckResult("auth", Status.PASS, "the key is accepted", None, evidence, answer.elapsed_ms)
    evidence["answer"] = _said(failure)
    if failure.kind in _AUTH_KINDS:
        detail = f"GET /v1/models answered {_said(failure)}"
        return CheckResult("auth", Status.FAIL, detail, failure.fix, evidence, answer.elapsed_ms)
    if failure.kind in (FailureKind.INVALID_REQUEST, FailureKind.RATE_LIMIT, FailureKind.SPEND_LIMIT):
        # the API looks at the key before it rejects a request or counts it against a key's limits
        return CheckResult("auth", Status.PASS, "the key is accepted", None, evidence, answer.elapsed_ms)
    detail = f"not verified: GET /v1/models answered {_said(failure)} (see {failure.check})"
    return CheckResult("auth", Status.SKIP, detail, None, evidence, answer.elapsed_ms)


def check_version(probe: ApiProbe, settings: Settings) -> CheckResult:
    """The ``anthropic-version`` the SDK sends is accepted (a 400 naming it says it is not)."""
    version = sdk_version(settings)
    evidence: dict[str, JSONValue] = {"anthropic_version": version, "sdk": anthropic.__version__}
    failure = probe.listing.failure
    if failure is None:
        return CheckResult("version", Status.PASS, f"anthropic-version {version} is accepted", None, evidence)
    if failure.kind is FailureKind.INVALID_REQUEST:
        evidence["answer"] = _said(failure)
        detail = f"anthropic-version {version} rejected: {failure.message or failure.cause}"
        fix = (
            "Upgrade the SDK (pip install -U anthropic) or stop overriding the anthropic-version header; "
            "a gateway in between may also only accept older versions."
        )
        return CheckResult("version", Status.FAIL, detail, fix, evidence)
    if failure.kind in (FailureKind.RATE_LIMIT, FailureKind.SPEND_LIMIT):
        return CheckResult("version", Status.PASS, f"anthropic-version {version} is accepted", None, evidence)
    return CheckResult("version", Status.SKIP, f"not verified: {_said(failure)} (see {failure.check})", None, evidence)


def _get(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def _date(value: Any) -> str | None:
    if value is None:
        return None
    return value.strftime("%Y-%m-%d") if hasattr(value, "strftime") else str(value)[:10]


def _replacement(listing: Any, model: Any) -> str | None:
    """The newest active model of the same line (else the newest active model) in the listing."""
    data: Sequence[Any] = _get(listing, "data") or []
    active = [m for m in data if _get(m, "lifecycle") in (None, "active") and _get(m, "id") != _get(model, "id")]
    line = _get(model, "line")
    same = [m for m in active if line is not None and _get(m, "line") == line]
    pick = (same or active or [None])[0]
    return str(_get(pick, "id")) if pick is not None else None


def check_model(probe: ApiProbe, settings: Settings) -> CheckResult:
    """The chosen model exists and is current: retired → fail with a replacement, deprecated → warn with the date."""
    answer = probe.model
    evidence: dict[str, JSONValue] = {"model": settings.model}
    failure = answer.failure
    if failure is not None:
        evidence["answer"] = _said(failure)
        listing = probe.listing.failure
        if failure.kind is FailureKind.NOT_FOUND and listing is not None and listing.kind is FailureKind.NOT_FOUND:
            detail = (
                f"GET /v1/models answered 404 as well: {settings.base_url} is not the API root (the SDK appends "
                "/v1/... to it)"
            )
            return CheckResult("model", Status.FAIL, detail, Failure.of(FailureKind.NOT_ANTHROPIC).fix, evidence)
        if failure.kind is FailureKind.NOT_FOUND:
            current = _replacement(probe.listing.body, None) if probe.listing.failure is None else None
            hint = f"; e.g. {current}" if current else ""
            detail = f"model {settings.model!r} does not exist ({_said(failure)})"
            fix = f"Use a current model id (see GET /v1/models or --model){hint}."
            return CheckResult("model", Status.FAIL, detail, fix, evidence, answer.elapsed_ms)
        detail = f"not verified: GET /v1/models/{settings.model} answered {_said(failure)} (see {failure.check})"
        return CheckResult("model", Status.SKIP, detail, None, evidence, answer.elapsed_ms)
    info = answer.body
    lifecycle = _get(info, "lifecycle") or "active"
    model_id = str(_get(info, "id"))
    evidence.update({"id": model_id, "lifecycle": lifecycle, "retires_at": _date(_get(info, "retires_at"))})
    named = settings.model if model_id == settings.model else f"{settings.model} ({model_id})"
    replacement = _replacement(probe.listing.body, info) if probe.listing.failure is None else None
    evidence["replacement"] = replacement
    use = f"switch to {replacement}" if replacement else "switch to a current model (GET /v1/models)"
    if lifecycle == "retired":
        detail = f"{named} is retired (since {_date(_get(info, 'retires_at')) or '?'}): requests naming it fail"
        return CheckResult("model", Status.FAIL, detail, f"Retired models answer 404: {use}.", evidence)
    if lifecycle == "deprecated":
        when = _date(_get(info, "retires_at"))
        detail = f"{named} is deprecated and retires {'on ' + when if when else 'soon'}"
        return CheckResult("model", Status.WARN, detail, f"Plan the move before then: {use}.", evidence)
    return CheckResult("model", Status.PASS, f"{named} is {lifecycle}", None, evidence, answer.elapsed_ms)
