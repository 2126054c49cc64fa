"""Model advice from the API's listing and the shared catalogue: did-you-mean, same line, retired ids. Pure functions.

The doctor's ``model`` check asks these when the chosen id is unknown, retired or past its retirement date. The
listing (``GET /v1/models``) says what this API serves; the catalogue (`claudewire._models`, the lineup the simulator
serves and `explain` reads) knows retired ids the listing may no longer show, with their dates, and stands in for a
listing the endpoint does not give. The advice names a model of the same line (a Haiku user is not told to move to
Opus), suggests only current (active) models for a typo (``claude-sonet-4-5``, ``claude-sonnet-4.5``) and never a
deprecated or retired one, and names a retired id, or a near miss of one, as retired with its successor.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from claudewire._models import LINES, Catalogue, ClaudeModel, Lifecycle, day_of, distance, normal_id

__all__ = [
    "ListedModel",
    "days_past",
    "did_you_mean",
    "listed",
    "looks_retired",
    "retired_model",
    "same_tier",
    "tier_of",
]


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


def _catalogue(today: dt.date | None) -> Catalogue:
    return Catalogue(today=(lambda: today) if today is not None else None)


def _as_listed(model: ClaudeModel, catalogue: Catalogue) -> ListedModel:
    return ListedModel(model.id, catalogue.lifecycle(model).value, model.line, _date(day_of(model.retires_at)))


def tier_of(model_id: str, line: str | None = None) -> str | None:
    """The line (haiku, sonnet, opus, fable, mythos) from the listing's ``line``, the id, or the catalogue; None for
    a foreign id or a line-less one (``claude-2.1``)."""
    if line in LINES:
        return line
    found = [t for t in LINES if t in model_id.lower()]
    if found:
        return found[0]
    known = Catalogue().get(model_id)
    return known.line if known is not None else None


def same_tier(models: Sequence[ListedModel], model_id: str, line: str | None = None) -> ListedModel | None:
    """The newest active model of the same line; for an id without a line, the newest active Sonnet (the middle)."""
    active = [m for m in models if m.lifecycle == "active" and m.id != model_id]
    tier = tier_of(model_id, line) or "sonnet"
    for m in active:
        if tier_of(m.id, m.line) == tier:
            return m
    return active[0] if active else None


def _nearest(models: Sequence[ListedModel], wanted: str) -> tuple[int, ListedModel] | None:
    normal = normal_id(wanted)
    best: tuple[int, ListedModel] | None = None
    for m in models:
        for name in (m.id, m.alias):
            d = distance(normal, name)
            if best is None or d < best[0]:
                best = (d, m)
    return best if best is not None and best[0] <= max(2, len(normal) // 8) else None


def _current(models: Sequence[ListedModel], today: dt.date | None) -> list[ListedModel]:
    if models:
        return [m for m in models if m.lifecycle == "active"]
    catalogue = _catalogue(today or dt.datetime.now(dt.UTC).date())
    return [_as_listed(m, catalogue) for m in catalogue.current()]


def did_you_mean(models: Sequence[ListedModel], wanted: str, today: dt.date | None = None) -> ListedModel | None:
    """The current (active) model whose id or alias is nearest to `wanted` (dots read as dashes), if it is close
    enough to be a typo of it; never a deprecated or retired one. Without a listing, the catalogue's current models
    on `today` are the candidates."""
    near = _nearest(_current(models, today), wanted)
    if near is None or near[1].id == wanted:
        return None
    return near[1]


def retired_model(wanted: str, today: dt.date) -> ClaudeModel | None:
    """The catalogue's record of `wanted` (id or alias) if it is retired on `today`."""
    catalogue = _catalogue(today)
    model = catalogue.get(wanted)
    return model if model is not None and catalogue.lifecycle(model) is Lifecycle.RETIRED else None


def looks_retired(models: Sequence[ListedModel], wanted: str, today: dt.date) -> ListedModel | None:
    """A deprecated or retired model `wanted` is a closer typo of than of any current one (``claude-sonet-4-5`` is
    Sonnet 4.5's), from the listing and the catalogue; None if a current model is as close or none is near."""
    catalogue = _catalogue(today)
    old = [m for m in models if m.lifecycle != "active"]
    shown = {m.id for m in models}
    old += [
        _as_listed(m, catalogue)
        for m in catalogue
        if m.id not in shown and catalogue.lifecycle(m) is not Lifecycle.ACTIVE
    ]
    near_old, near_current = _nearest(old, wanted), _nearest(_current(models, today), wanted)
    if near_old is None or (near_current is not None and near_current[0] <= near_old[0]):
        return None
    return near_old[1]


def days_past(date: str | None, today: dt.date) -> int | None:
    """Days since `date` (YYYY-MM-DD) if it is today or earlier, else None."""
    if not date:
        return None
    try:
        when = dt.date.fromisoformat(date[:10])
    except ValueError:
        return None
    return (today - when).days if when <= today else None
