"""The simulator's model catalogue: active, deprecated and retired models, with the fields of ``GET /v1/models``.

The lifecycle follows the installed SDK's own deprecation list (``claude-sonnet-4-5`` and ``claude-opus-4-5`` were
deprecated with a scheduled retirement) and is a function of the date: a model is deprecated from its
``deprecated_at`` day and retired from its ``retires_at`` day (``claude-sonnet-4-5`` from 2026-11-30), as the real
API retires it that day. The date comes from the catalogue's `today` (the UTC date by default, injectable so tests
pin both sides of a boundary). Retired models stay listed, as the API keeps them as the historical record, but
inference naming them fails with 404 ``not_found_error``. `Catalogue.replacement_for` names a current model.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["DEFAULT_MODELS", "Catalogue", "Lifecycle", "SimModel", "utc_today"]


def utc_today() -> dt.date:
    """Today's date in UTC: the day the API's lifecycle dates are read against."""
    return dt.datetime.now(dt.UTC).date()


def _day(stamp: str | None) -> dt.date | None:
    return dt.datetime.fromisoformat(stamp).date() if stamp else None


class Lifecycle(enum.StrEnum):
    """A model's lifecycle stage, as ``ModelInfo.lifecycle`` names it."""

    ACTIVE = "active"
    DEPRECATED = "deprecated"
    RETIRED = "retired"


@dataclass(frozen=True, slots=True)
class SimModel:
    """One model of the catalogue. Dates are RFC 3339 strings; `alias` is the undated id that also resolves.

    `lifecycle` is the stage as declared; `lifecycle_on` is the stage on a given day, which the dates move on.
    """

    id: str
    display_name: str
    created_at: str
    lifecycle: Lifecycle = Lifecycle.ACTIVE
    alias: str | None = None
    line: str | None = None
    max_input_tokens: int = 200_000
    max_tokens: int = 64_000
    deprecated_at: str | None = None
    retires_at: str | None = None
    replacement: str | None = None

    def lifecycle_on(self, day: dt.date) -> Lifecycle:
        """The stage on `day`: retired from the ``retires_at`` day on, deprecated from ``deprecated_at``."""
        retires, deprecated = _day(self.retires_at), _day(self.deprecated_at)
        if self.lifecycle is Lifecycle.RETIRED or (retires is not None and day >= retires):
            return Lifecycle.RETIRED
        if self.lifecycle is Lifecycle.DEPRECATED or (deprecated is not None and day >= deprecated):
            return Lifecycle.DEPRECATED
        return Lifecycle.ACTIVE

    def info(self, day: dt.date | None = None) -> dict[str, Any]:
        """The ``ModelInfo`` object the API returns for this model on `day` (default: today, UTC)."""
        return {
            "type": "model",
            "id": self.id,
            "display_name": self.display_name,
            "created_at": self.created_at,
            "lifecycle": self.lifecycle_on(day or utc_today()).value,
            "line": self.line,
            "deprecated_at": self.deprecated_at,
            "retires_at": self.retires_at,
            "max_input_tokens": self.max_input_tokens,
            "max_tokens": self.max_tokens,
        }


DEFAULT_MODELS: tuple[SimModel, ...] = (
    # Claude Code's CLI asks for its default model (claude-opus-4-8 in the version the tests install) unless
    # ANTHROPIC_MODEL says otherwise: the simulator must know it, or `claude -p` against it gets a 404.
    SimModel(
        "claude-opus-4-8",
        "Claude Opus 4.8",
        "2026-10-01T00:00:00Z",
        line="opus",
        max_input_tokens=1_000_000,
        max_tokens=128_000,
    ),
    SimModel(
        "claude-opus-4-7",
        "Claude Opus 4.7",
        "2026-06-01T00:00:00Z",
        line="opus",
        max_input_tokens=1_000_000,
        max_tokens=128_000,
    ),
    SimModel(
        "claude-opus-4-6",
        "Claude Opus 4.6",
        "2026-02-05T00:00:00Z",
        line="opus",
        max_input_tokens=1_000_000,
        max_tokens=128_000,
    ),
    SimModel(
        "claude-sonnet-4-6", "Claude Sonnet 4.6", "2026-02-17T00:00:00Z", line="sonnet", max_input_tokens=1_000_000
    ),
    SimModel(
        "claude-haiku-4-5-20251001", "Claude Haiku 4.5", "2025-10-01T00:00:00Z", alias="claude-haiku-4-5", line="haiku"
    ),
    SimModel(
        "claude-opus-4-5-20251101",
        "Claude Opus 4.5",
        "2025-11-24T00:00:00Z",
        Lifecycle.DEPRECATED,
        alias="claude-opus-4-5",
        line="opus",
        deprecated_at="2026-07-22T00:00:00Z",
        retires_at="2027-01-22T00:00:00Z",
        replacement="claude-opus-4-6",
    ),
    SimModel(
        "claude-sonnet-4-5-20250929",
        "Claude Sonnet 4.5",
        "2025-09-29T00:00:00Z",
        Lifecycle.DEPRECATED,
        alias="claude-sonnet-4-5",
        line="sonnet",
        deprecated_at="2026-05-30T00:00:00Z",
        retires_at="2026-11-30T00:00:00Z",
        replacement="claude-sonnet-4-6",
    ),
    SimModel(
        "claude-3-7-sonnet-20250219",
        "Claude Sonnet 3.7",
        "2025-02-24T00:00:00Z",
        Lifecycle.RETIRED,
        line="sonnet",
        deprecated_at="2025-10-28T00:00:00Z",
        retires_at="2026-02-19T00:00:00Z",
        replacement="claude-sonnet-4-6",
    ),
    SimModel(
        "claude-3-5-haiku-20241022",
        "Claude Haiku 3.5",
        "2024-10-22T00:00:00Z",
        Lifecycle.RETIRED,
        line="haiku",
        max_tokens=8_192,
        deprecated_at="2025-12-19T00:00:00Z",
        retires_at="2026-02-19T00:00:00Z",
        replacement="claude-haiku-4-5",
    ),
    SimModel(
        "claude-3-opus-20240229",
        "Claude Opus 3",
        "2024-02-29T00:00:00Z",
        Lifecycle.RETIRED,
        line="opus",
        max_tokens=4_096,
        deprecated_at="2025-06-30T00:00:00Z",
        retires_at="2026-01-05T00:00:00Z",
        replacement="claude-opus-4-6",
    ),
)
"""The default catalogue, newest first (the order ``GET /v1/models`` lists them in)."""


class Catalogue:
    """Models by id and alias, in listing order, with their lifecycle on the day `today` returns (default: UTC).

    `today` None keeps every model at its declared stage, whatever the date: a cloud (Bedrock, Vertex, Foundry)
    retires models on its own schedule, not on the Anthropic API's dates.
    """

    def __init__(
        self, models: Iterable[SimModel] = DEFAULT_MODELS, today: Callable[[], dt.date] | None = utc_today
    ) -> None:
        self.models: tuple[SimModel, ...] = tuple(models)
        self.today = today
        self._by_id: dict[str, SimModel] = {}
        for model in self.models:
            self._by_id[model.id] = model
            if model.alias:
                self._by_id.setdefault(model.alias, model)

    def __iter__(self) -> Iterator[SimModel]:
        return iter(self.models)

    def get(self, model_id: str) -> SimModel | None:
        """The model named by id or alias, whatever its lifecycle; None if unknown."""
        return self._by_id.get(model_id)

    def lifecycle(self, model: SimModel) -> Lifecycle:
        """`model`'s stage today (its declared stage when the catalogue follows no date)."""
        return model.lifecycle if self.today is None else model.lifecycle_on(self.today())

    def info(self, model: SimModel) -> dict[str, Any]:
        """`model`'s ``ModelInfo`` today."""
        return {**model.info(), "lifecycle": self.lifecycle(model).value}

    def replacement_for(self, model_id: str) -> SimModel | None:
        """A current (active) model to use instead of `model_id`, following replacements; None if none is known."""
        model = self.get(model_id)
        seen: set[str] = set()
        while model is not None and self.lifecycle(model) is not Lifecycle.ACTIVE and model.id not in seen:
            seen.add(model.id)
            model = self.get(model.replacement) if model.replacement else None
        if model is not None and self.lifecycle(model) is Lifecycle.ACTIVE:
            return model
        active = [m for m in self.models if self.lifecycle(m) is Lifecycle.ACTIVE]
        return active[0] if active else None
