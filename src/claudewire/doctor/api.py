"""The ``auth``, ``version`` and ``model`` checks, through the official SDK so the doctor sees what the SDK sees.

Two keyed requests run side by side: ``GET /v1/models`` (is the key accepted, is the ``anthropic-version``
accepted, which models are current) and ``GET /v1/models/{model}`` (does the model exist, and its lifecycle:
retired → fail naming a current replacement; deprecated → warn with the retirement date).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import anthropic
import httpx2

from claudewire._errors import Failure, FailureKind, classify
from claudewire._models import Catalogue
from claudewire.doctor.http import client_for
from claudewire.doctor.model_choice import how_to_use, resolve_alias, tier_alias
from claudewire.doctor.models import (
    days_past,
    did_you_mean,
    listed,
    looks_retired,
    retired_model,
    same_tier,
    tier_of,
)
from claudewire.doctor.result import CheckResult, JSONValue, Status
from claudewire.doctor.settings import Profile, Settings

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
        if (settings.key_source or "").startswith("ANTHROPIC_AUTH_TOKEN")  # the shell's, or a settings file's
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
    """The two model requests' answers; `model_id` is the id retrieved (an alias resolved), `alias` what was asked."""

    listing: Answer
    model: Answer
    model_id: str = ""
    alias: str | None = None


async def probe_api(client: anthropic.AsyncAnthropic, settings: Settings) -> ApiProbe:
    """List the models and retrieve the chosen one, concurrently.

    A Claude Code alias (``opus``, ``sonnet[1m]`` ...) is first resolved against the listing, as Claude Code does:
    the newest active model of its tier is the one retrieved (and the one the later checks send).
    """
    import asyncio

    listing_call = call(client.models.with_raw_response.list(limit=1000))
    tier = tier_alias(settings.model) if settings.profile is Profile.CLAUDE_CODE else None
    if tier is None:
        listing, model = await asyncio.gather(
            listing_call, call(client.models.with_raw_response.retrieve(settings.model))
        )
        return ApiProbe(listing, model, settings.model)
    listing = await listing_call
    active = [m.id for m in listed(listing.body) if m.lifecycle == "active"] if listing.failure is None else []
    resolved = resolve_alias(tier, active)
    if resolved is None:
        return ApiProbe(listing, Answer(), settings.model, settings.model)
    return ApiProbe(listing, await call(client.models.with_raw_response.retrieve(resolved)), resolved, settings.model)


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


def _successor(listing: Any, model_id: str, line: str | None, today: dt.date) -> str | None:
    """The newest active model of the same line (`claudewire.doctor.models.same_tier`) in the listing; the
    catalogue's when the endpoint gave no listing."""
    pick = same_tier(listed(listing), model_id, line)
    if pick is not None:
        return pick.id
    fallback = Catalogue(today=lambda: today).newest(tier_of(model_id, line))
    return fallback.id if fallback is not None else None


def _replacement(listing: Any, model: Any, today: dt.date) -> str | None:
    """The replacement to name for `model` (a ``ModelInfo``): the newest active model of its line."""
    return _successor(listing, str(_get(model, "id") or ""), _get(model, "line"), today)


def _use(settings: Settings, model: str | None) -> str:
    """ "use X: <the tool's own way to switch>", or where to find a current model when there is none to name."""
    if model is None:
        return "use a current model (GET /v1/models lists them)"
    return f"use {model}: {how_to_use(settings.profile.value, model, settings.model_source)}"


def _unknown_model(wanted: str, listing: Any, settings: Settings, today: dt.date) -> tuple[str, str]:
    """Detail and fix for an id the API does not serve: retired id, typo of a current or of a retired model, foreign
    id, or just unknown. Only a current model is ever suggested, in the profile's tool's own words."""
    models = listed(listing)
    successor = _successor(listing, wanted, None, today)
    use = _use(settings, successor)
    retired = retired_model(wanted, today)
    if retired is not None:
        detail = f"{wanted} is retired (since {(retired.retires_at or '?')[:10]}): requests naming it fail"
        after = _successor(listing, retired.id, retired.line, today)
        return detail, f"Retired models answer 404: {_use(settings, after) if after else use}."
    old = looks_retired(models, wanted, today)
    if old is not None:  # a typo of a retired or deprecated id: name it as such, suggest its line's current model
        state = f"retired since {old.retires_at}" if old.lifecycle == "retired" else old.lifecycle
        after = _successor(listing, old.id, old.line, today)
        detail = f"model {wanted!r} does not exist: it looks like {old.id} ({state})"
        return detail, f"{old.id} is {old.lifecycle}: {_use(settings, after) if after else use}."
    near = did_you_mean(models, wanted, today)
    if near is not None:
        state = "" if near.lifecycle == "active" else f" ({near.lifecycle})"
        detail = f"model {wanted!r} does not exist: did you mean {near.id}{state}?"
        if near.lifecycle != "active":  # the near miss fails too, or soon will: name its line's newest, not it
            current = _successor(listing, near.id, near.line, today)
            return detail, f"{near.id} is {near.lifecycle}: {_use(settings, current)}."
        use_near = _use(settings, near.id)
        return detail, f"{use_near[0].upper()}{use_near[1:]}."
    if tier_of(wanted) is None and not wanted.startswith("claude"):
        return (
            f"{wanted!r} is not a Claude model id (the Claude API serves claude-* models)",
            f"Pick a Claude model: {use} (Haiku is the fastest and cheapest, Opus the most capable).",
        )
    return f"model {wanted!r} does not exist", f"Use a current model id: {use}."


def check_model(
    probe: ApiProbe, settings: Settings, today: dt.date | None = None, *, via_gateway: bool = False
) -> CheckResult:
    """The chosen model exists and is current: retired (or past its date) → fail, deprecated → warn with the date.

    Advice stays in the model's tier, offers a "did you mean" for a near miss and names retired aliases as such.
    `via_gateway`: the base URL is a claudewire gateway, whose upstream may not serve the model listing at all
    (a Bedrock or Vertex upstream): then two 404s mean "not served there", not "not the API root".
    """
    today = today or settings.today or dt.datetime.now(dt.UTC).date()
    answer = probe.model
    wanted = probe.model_id or settings.model
    evidence: dict[str, JSONValue] = {"model": wanted, "source": settings.model_source}
    source = f" ({settings.model_source})" if settings.model_source and settings.model_source != "--model" else ""
    if probe.alias is not None:
        evidence["alias"] = probe.alias
        if probe.alias == wanted:  # nothing of its tier listed: nothing to retrieve
            detail = f"not verified: {wanted} is Claude Code's alias for the newest of its tier; GET /v1/models "
            detail += "listed none" if probe.listing.failure is None else f"answered {_said(probe.listing.failure)}"
            return CheckResult("model", Status.SKIP, detail + source, None, evidence)
        source = f" (Claude Code's {probe.alias}: the newest of its tier listed){source}"
    failure = answer.failure
    if failure is not None:
        evidence["answer"] = _said(failure)
        listing = probe.listing.failure
        if failure.kind is FailureKind.NOT_FOUND and listing is not None and listing.kind is FailureKind.NOT_FOUND:
            if via_gateway:
                detail = (
                    f"not verified: the gateway does not serve the model listing ({listing.message or 'a 404'}); "
                    f"the messages check sends {wanted} itself"
                )
                return CheckResult("model", Status.SKIP, detail, None, evidence, answer.elapsed_ms)
            detail = (
                f"GET /v1/models answered 404 as well: {settings.base_url} is not the API root (the SDK appends "
                "/v1/... to it)"
            )
            root = settings.base_url.rstrip("/")
            if root.endswith("/v1"):
                fix = f"Set ANTHROPIC_BASE_URL to {root[:-3]} (without /v1): the SDK adds /v1/... itself."
            else:
                fix = Failure.of(FailureKind.NOT_ANTHROPIC).fix
            return CheckResult("model", Status.FAIL, detail, fix, evidence)
        if failure.kind is FailureKind.NOT_FOUND:
            listing = probe.listing.body if probe.listing.failure is None else None
            detail, fix = _unknown_model(wanted, listing, settings, today)
            detail = f"{detail} ({_said(failure)}){source}"
            return CheckResult("model", Status.FAIL, detail, fix, evidence, answer.elapsed_ms)
        detail = f"not verified: GET /v1/models/{wanted} answered {_said(failure)} (see {failure.check})"
        return CheckResult("model", Status.SKIP, detail, None, evidence, answer.elapsed_ms)
    info = answer.body
    lifecycle = _get(info, "lifecycle") or "active"
    model_id = str(_get(info, "id"))
    evidence.update({"id": model_id, "lifecycle": lifecycle, "retires_at": _date(_get(info, "retires_at"))})
    named = (wanted if model_id == wanted else f"{wanted} ({model_id})") + source
    replacement = _replacement(probe.listing.body if probe.listing.failure is None else None, info, today)
    evidence["replacement"] = replacement
    use = _use(settings, replacement)
    if lifecycle == "retired":
        detail = f"{named} is retired (since {_date(_get(info, 'retires_at')) or '?'}): requests naming it fail"
        return CheckResult("model", Status.FAIL, detail, f"Retired models answer 404: {use}.", evidence)
    when = _date(_get(info, "retires_at"))
    past = days_past(when, today)
    if lifecycle == "deprecated" and past is not None:
        ago = "today" if past == 0 else f"{past} day{'s' if past != 1 else ''} ago"
        detail = f"{named} reached its retirement date on {when} ({ago}): requests naming it fail or soon will"
        return CheckResult("model", Status.FAIL, detail, f"Move now: {use}.", evidence)
    if lifecycle == "deprecated":
        detail = f"{named} is deprecated and retires {'on ' + when if when else 'soon'}"
        return CheckResult("model", Status.WARN, detail, f"Plan the move before then: {use}.", evidence)
    return CheckResult("model", Status.PASS, f"{named} is {lifecycle}", None, evidence, answer.elapsed_ms)
