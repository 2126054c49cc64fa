"""The ``cache`` check (opt-in: ``--cache``): does a repeated prompt read the prompt cache on this path?

The costliest silent failure behind a proxy is a prompt cache that never hits: every request writes the cache at
1.25x the input price and none reads it at 0.1x. The probe sends one cacheable prompt twice, back to back: a system
prompt above every model's minimum cacheable length with a ``cache_control`` breakpoint, starting with a fresh
nonce so the first request must write the cache. The judge then reads the two ``usage`` objects: the second must
read what the first wrote. It costs two small requests (about 5,000 input tokens each, one output token).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import anthropic

from claudewire.doctor.api import Answer, call
from claudewire.doctor.result import CheckResult, JSONValue, Status
from claudewire.doctor.settings import Settings

__all__ = ["CacheProbe", "cacheable_prompt", "check_cache", "probe_cache"]

_PARAGRAPH = (
    "This paragraph is part of a long, fixed system prompt that claudewire doctor sends twice to find out whether "
    "the prompt cache works on the path to the API. The wording does not matter, only that the second request "
    "carries exactly the same bytes as the first, so that the API can serve its prefix from the cache. "
)
_REPEATS = 90  # ~5,500 tokens: above the largest minimum cacheable length (4,096) of current models


def cacheable_prompt(nonce: str) -> str:
    """The system prompt of the probe: a fresh `nonce` first (no earlier run's cache entry can match), then text."""
    return f"claudewire doctor cache probe {nonce}.\n" + _PARAGRAPH * _REPEATS


@dataclass(frozen=True, slots=True)
class CacheProbe:
    """The two answers to the same cacheable request, in order."""

    first: Answer
    second: Answer


async def probe_cache(client: anthropic.AsyncAnthropic, settings: Settings) -> CacheProbe:
    """Send the same cacheable prompt twice, one after the other (the second must find the first's entry)."""
    system: Any = [
        {"type": "text", "text": cacheable_prompt(secrets.token_hex(8)), "cache_control": {"type": "ephemeral"}}
    ]
    messages: Any = [{"role": "user", "content": "Reply with: ok"}]

    async def once() -> Answer:
        return await call(
            client.messages.with_raw_response.create(
                model=settings.model, max_tokens=1, system=system, messages=messages
            )
        )

    first = await once()
    second = await once() if first.failure is None else Answer()
    return CacheProbe(first, second)


def _tokens(answer: Answer) -> dict[str, int]:
    usage = getattr(answer.body, "usage", None)
    return {
        "input": int(getattr(usage, "input_tokens", 0) or 0),
        "cache_creation": int(getattr(usage, "cache_creation_input_tokens", 0) or 0),
        "cache_read": int(getattr(usage, "cache_read_input_tokens", 0) or 0),
    }


def _rid(headers: Mapping[str, str]) -> JSONValue:
    return headers.get("request-id")


def check_cache(probe: CacheProbe) -> CheckResult:
    """Pass when the repeat read the cache; warn, naming the likely cause, when it did not."""
    first, second = probe.first, probe.second
    for answer in (first, second):
        if answer.failure is not None:
            failure = answer.failure
            detail = f"the cacheable request failed: {failure.cause}"
            return CheckResult("cache", Status.FAIL, detail, failure.fix, {"request_id": _rid(answer.headers)})
    one, two = _tokens(first), _tokens(second)
    evidence: dict[str, JSONValue] = {
        "first": dict(one),
        "second": dict(two),
        "request_ids": [_rid(first.headers), _rid(second.headers)],
    }
    elapsed = first.elapsed_ms + second.elapsed_ms
    written = one["cache_creation"] or one["cache_read"]
    if two["cache_read"] and two["cache_read"] >= written:
        detail = f"the repeat read {two['cache_read']:,} prompt tokens from the cache (the first wrote {written:,})"
        return CheckResult("cache", Status.PASS, detail, None, evidence, elapsed)
    if not written and not two["cache_creation"] and not two["cache_read"]:
        detail = "no cache tokens at all: the cache_control breakpoint had no effect on this path"
        fix = (
            "Something between you and the API drops cache_control or rewrites the request (a proxy or gateway that "
            "re-serialises bodies), or this endpoint or model does not do prompt caching. Compare with a run "
            "straight to https://api.anthropic.com."
        )
        return CheckResult("cache", Status.WARN, detail, fix, evidence, elapsed)
    if two["cache_read"]:
        detail = (
            f"the repeat read only {two['cache_read']:,} of the {written:,} cached tokens: part of the prompt changed"
        )
    else:
        detail = (
            f"the same prompt was written to the cache twice ({written:,} then {two['cache_creation']:,} tokens) "
            "and never read: each request pays 1.25x for a cache write instead of 0.1x for a read"
        )
    fix = (
        "The prompt changes between identical requests on this path: a proxy rewriting request bodies (even one "
        "byte of the system prompt), or requests spread over different organizations or keys. In your own app, a "
        "system prompt with a timestamp or id, tools in a changing order, or requests further apart than the TTL "
        "(5 minutes, or 1 hour with ttl '1h') do the same."
    )
    return CheckResult("cache", Status.WARN, detail, fix, evidence, elapsed)
