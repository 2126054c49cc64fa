"""What the console page receives, as JSON-ready values: calls, charts, upstreams and keys, clients, the doctor's word.

Pure functions of the ring, the facts the gateway hands over (`UpstreamFacts`: its ``/readyz`` body and a few
numbers beside it) and the configured clients; only the page's requests run them, never the call path.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from claudewire._failures import KINDS, FailureKind
from claudewire._readyz import NOT_READY_FIX, describe_readyz
from claudewire.gateway.downstream.clients import ClientSpec
from claudewire.gateway.downstream.console.ring import CallRing, CallView, MinuteStats, percentile

__all__ = ["JSON", "UpstreamFacts", "call_json", "charts_json", "clients_json", "kinds_json", "upstreams_json"]

JSON = dict[str, Any]
"""A JSON object on its way to the page."""

_KIND_WORDS = {kind.value: (info.cause, info.fix) for kind, info in KINDS.items()}
# what the gateway's access log and metrics call an ending the taxonomy has no kind for
_KIND_WORDS["client_closed"] = (
    "The caller closed its connection before the answer ended (its own timeout, or someone stopped it).",
    "Nothing to fix on the gateway; if the caller gave up too early, raise its timeout.",
)
_KIND_WORDS["stream_idle_timeout"] = _KIND_WORDS[FailureKind.READ_TIMEOUT.value]
_KIND_WORDS["stream_error"] = _KIND_WORDS[FailureKind.SERVER.value]
_CLASSES = ("2xx", "4xx", "5xx", "other")
_TOP_MODELS = 6


@dataclass(frozen=True, slots=True)
class UpstreamFacts:
    """What the gateway knows of its upstreams now: the ``/readyz`` body, and what ``/readyz`` does not carry.

    `headroom`: per key (``name#index``), the last ``anthropic-ratelimit-*-remaining`` value of each bucket family;
    `retry_budget_left`: retries the retry budget allows now (None: no budget); `affinity`: session-affinity
    outcomes of served calls so far (``hit``, ``new``, ``break``).
    """

    readyz: bytes
    headroom: Mapping[str, Mapping[str, float]]
    retry_budget_left: float | None
    affinity: Mapping[str, float]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def call_json(seq: int, call: CallView) -> JSON:
    """One call for the list and its detail (every field a `CallView` has; times in ms)."""
    usage = call.usage
    return {
        "seq": seq,
        "t": round(call.started, 3),
        "route": call.route,
        "dialect": call.dialect,
        "model": call.model,
        "stream": call.stream,
        "status": call.status,
        "error": call.error,
        "attempts": [{"target": a.target, "outcome": str(a.outcome), "wait_ms": _ms(a.wait)} for a in call.attempts],
        "served": call.served,
        "upstreams": list(call.upstreams),
        "ttfb_ms": _ms(call.ttfb),
        "duration_ms": _ms(call.duration),
        "input_tokens": usage.input_tokens if usage is not None else 0,
        "output_tokens": usage.output_tokens if usage is not None else 0,
        "cache_read": usage.cache_read if usage is not None else 0,
        "cache_creation": usage.cache_creation if usage is not None else 0,
        "request_id": call.request_id,
        "client": call.client,
        "group": call.group,
    }


def kinds_json(kinds: Iterable[str]) -> dict[str, JSON]:
    """The taxonomy's one-line cause and fix of each error kind named (unknown names get none)."""
    out: dict[str, JSON] = {}
    for kind in kinds:
        words = _KIND_WORDS.get(kind)
        if words is not None:
            out[kind] = {"cause": words[0], "fix": words[1]}
    return out


def charts_json(window: Sequence[MinuteStats]) -> JSON:
    """One series per chart, a point per minute of `window` (``None`` where a minute has no value)."""
    errors = sorted({kind for s in window for kind in s.errors})
    volume: dict[str, int] = {}
    for s in window:
        for model, (fresh, read, wrote) in s.cache.items():
            volume[model] = volume.get(model, 0) + fresh + read + wrote
    models = sorted(volume, key=lambda m: -volume[m])[:_TOP_MODELS]

    def ratio(s: MinuteStats, model: str) -> float | None:
        fresh, read, wrote = s.cache.get(model, (0, 0, 0))
        total = fresh + read + wrote
        return round(read / total, 4) if total else None

    def cache_total(model: str) -> float | None:
        read = sum(s.cache[model][1] for s in window if model in s.cache)
        return round(read / volume[model], 4) if volume[model] else None

    return {
        "minutes": [s.minute * 60 for s in window],
        "requests": [s.requests for s in window],
        "status": {k: [s.status.get(k, 0) for s in window] for k in _CLASSES},
        "errors": {k: [s.errors.get(k, 0) for s in window] for k in errors},
        "retries": [s.retries for s in window],
        "failovers": [s.failovers for s in window],
        "ttfb_p50": [_ms(percentile(s.ttfb, 0.5)) for s in window],
        "ttfb_p95": [_ms(percentile(s.ttfb, 0.95)) for s in window],
        "duration_p50": [_ms(percentile(s.duration, 0.5)) for s in window],
        "duration_p95": [_ms(percentile(s.duration, 0.95)) for s in window],
        "tokens_in": [s.tokens_in for s in window],
        "tokens_out": [s.tokens_out for s in window],
        "cache": {m: [ratio(s, m) for s in window] for m in models},
        "cache_total": {m: cache_total(m) for m in models},
    }


def _parse_readyz(body: bytes) -> tuple[bool, list[Mapping[str, Any]]]:
    try:
        doc = json.loads(body)
    except ValueError:
        return False, []
    if not isinstance(doc, Mapping):
        return False, []
    listed = doc.get("upstreams")
    upstreams = [u for u in listed if isinstance(u, Mapping)] if isinstance(listed, list) else []
    return doc.get("status") == "ready", upstreams


def upstreams_json(facts: UpstreamFacts) -> JSON:
    """Every upstream and key (state, why, when it may serve again, rate-limit headroom), the retry budget,
    affinity, and what ``claudewire doctor`` would say of this gateway from its ``/readyz``."""
    ready, listed = _parse_readyz(facts.readyz)
    upstreams = []
    for u in listed:
        keys = []
        for k in u.get("keys") or ():
            if not isinstance(k, Mapping):
                continue
            key = str(k.get("key", "?"))
            headroom = {family: value for family, value in sorted(facts.headroom.get(key, {}).items())}
            keys.append(
                {
                    "key": key,
                    "state": str(k.get("state", "?")),
                    "usable": bool(k.get("usable", True)),
                    "reason": str(k.get("reason") or ""),
                    "retry_in": round(float(k.get("retry_in") or 0.0), 1),
                    "headroom": headroom,
                }
            )
        upstreams.append(
            {
                "name": str(u.get("name", "?")),
                "priority": u.get("priority"),
                "usable": bool(u.get("usable", True)),
                "keys": keys,
            }
        )
    budget = facts.retry_budget_left
    return {
        "ready": ready,
        "upstreams": upstreams,
        "retry_budget_left": None if budget is None else round(budget, 1),
        "affinity": {k: int(v) for k, v in sorted(facts.affinity.items())},
        "doctor": {
            "status": "pass" if ready else "warn",
            "says": describe_readyz(ready, listed),
            "fix": "" if ready else NOT_READY_FIX,
        },
    }


def clients_json(specs: Sequence[ClientSpec], ring: CallRing, now: float) -> list[JSON]:
    """Each named client's use in this minute and this UTC day against its limits, as this process saw it."""
    out = []
    for spec in specs:
        requests, tokens, today = ring.client_now(spec.name, now)
        limits = spec.limits
        out.append(
            {
                "name": spec.name,
                "models": sorted(spec.models) if spec.models is not None else None,
                "requests": requests,
                "requests_per_minute": limits.requests_per_minute,
                "tokens": tokens,
                "tokens_per_minute": limits.tokens_per_minute,
                "tokens_today": today,
                "tokens_per_day": limits.tokens_per_day,
            }
        )
    return out
