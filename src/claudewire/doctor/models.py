"""Model advice from the catalogue the API lists: did-you-mean, same family and tier, retired aliases. Pure functions.

The doctor's ``model`` check asks these when the chosen id is unknown, retired or past its retirement date: the
advice names a model of the same tier (a Haiku user is not told to move to Opus), the nearest id by edit distance
for a typo (``claude-sonet-4-5``, ``claude-sonnet-4.5``), and a retired alias as retired, with its successor, rather
than as "does not exist".
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["RETIRED_ALIASES", "ListedModel", "days_past", "did_you_mean", "listed", "same_tier", "tier_of"]

TIERS = ("haiku", "sonnet", "opus")

RETIRED_ALIASES: dict[str, tuple[str, str]] = {
    # id or alias the API no longer serves -> (tier, the date it was retired); the successor comes from the listing
    "claude-2.0": ("", "2025-07-21"),
    "claude-2.1": ("", "2025-07-21"),
    "claude-instant-1.2": ("haiku", "2024-11-06"),
    "claude-3-sonnet-20240229": ("sonnet", "2025-07-21"),
    "claude-3-5-sonnet-20240620": ("sonnet", "2025-10-22"),
    "claude-3-5-sonnet-20241022": ("sonnet", "2025-10-22"),
    "claude-3-5-sonnet-latest": ("sonnet", "2025-10-22"),
    "claude-3-7-sonnet-latest": ("sonnet", "2026-02-19"),
    "claude-3-5-haiku-latest": ("haiku", "2026-02-19"),
    "claude-3-opus-latest": ("opus", "2026-01-05"),
}
"""Retired ids and aliases the listing may no longer show (Anthropic's model-deprecations page)."""


@dataclass(frozen=True, slots=True)
class ListedModel:
    """One model of ``GET /v1/models``, as the advice needs it."""

    id: str
    lifecycle: str
    line: str | None
    retires_at: str | None

    @property
    def alias(self) -> str:
        """The undated alias (``claude-haiku-4-5`` for ``claude-haiku-4-5-20251001``)."""
        return re.sub(r"-\d{8}$", "", self.id)


def _get(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def _date(value: Any) -> str | None:
    if value is None:
        return None
    return value.strftime("%Y-%m-%d") if hasattr(value, "strftime") else str(value)[:10]


def listed(listing: Any) -> list[ListedModel]:
    """The models of a ``GET /v1/models`` answer (SDK objects or dicts), in listing order (newest first)."""
    data: Sequence[Any] = _get(listing, "data") or []
    return [
        ListedModel(
            str(_get(m, "id")), str(_get(m, "lifecycle") or "active"), _get(m, "line"), _date(_get(m, "retires_at"))
        )
        for m in data
        if _get(m, "id")
    ]


def tier_of(model_id: str, line: str | None = None) -> str | None:
    """haiku, sonnet or opus from the listing's ``line`` or the id itself; None for a non-tiered or foreign id."""
    if line in TIERS:
        return line
    found = [t for t in TIERS if t in model_id.lower()]
    if found:
        return found[0]
    retired = RETIRED_ALIASES.get(model_id)
    return retired[0] or None if retired else None


def same_tier(models: Sequence[ListedModel], model_id: str, line: str | None = None) -> ListedModel | None:
    """The newest active model of the same tier; for an id without a tier, the newest active Sonnet (the middle)."""
    active = [m for m in models if m.lifecycle == "active" and m.id != model_id]
    tier = tier_of(model_id, line) or "sonnet"
    for m in active:
        if tier_of(m.id, m.line) == tier:
            return m
    return active[0] if active else None


def _distance(a: str, b: str) -> int:
    """Levenshtein distance (small strings: the plain dynamic programme)."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def did_you_mean(models: Sequence[ListedModel], wanted: str) -> ListedModel | None:
    """The listed model whose id or alias is nearest to `wanted` (dots read as dashes), if it is close enough."""
    normal = wanted.strip().lower().replace(".", "-").replace("_", "-")
    best: tuple[int, ListedModel] | None = None
    for m in models:
        for name in {m.id, m.alias}:
            d = 0 if name == normal else _distance(normal, name)
            if best is None or d < best[0] or (d == best[0] and m.lifecycle == "active" != best[1].lifecycle):
                best = (d, m)
    if best is None or best[1].id == wanted:
        return None
    return best[1] if best[0] <= max(2, len(normal) // 8) else None


def days_past(date: str | None, today: dt.date) -> int | None:
    """Days since `date` (YYYY-MM-DD) if it is today or earlier, else None."""
    if not date:
        return None
    try:
        when = dt.date.fromisoformat(date[:10])
    except ValueError:
        return None
    return (today - when).days if when <= today else None
