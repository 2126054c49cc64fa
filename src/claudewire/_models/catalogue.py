"""Models by id and alias, their stage on a given day, the replacement to name, and the nearest id to a typo.

The one lookup the simulator (what it serves), the doctor (its model advice) and `explain` (what a 404 naming a
model means) share, over `claudewire._models.lineup.LINEUP` by default.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from claudewire._models.lineup import LINEUP
from claudewire._models.spec import ClaudeModel, Lifecycle, utc_today

__all__ = ["LINES", "Catalogue", "distance", "normal_id"]

LINES: tuple[str, ...] = ("haiku", "sonnet", "opus", "fable", "mythos")
"""The model lines (``ModelInfo.line``), cheapest first."""


def normal_id(model_id: str) -> str:
    """`model_id` as the API spells ids: lower case, dots and underscores as dashes (``claude-sonnet-4.5``)."""
    return model_id.strip().lower().replace(".", "-").replace("_", "-")


def distance(a: str, b: str) -> int:
    """Levenshtein distance (small strings: the plain dynamic programme)."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


class Catalogue:
    """Models by id and alias, in listing order, with their lifecycle on the day `today` returns (default: UTC).

    `today` None keeps every model at its declared stage, whatever the date: a cloud (Bedrock, Vertex, Foundry)
    retires models on its own schedule, not on the Anthropic API's dates.
    """

    def __init__(self, models: Iterable[ClaudeModel] = LINEUP, today: Callable[[], dt.date] | None = utc_today) -> None:
        self.models: tuple[ClaudeModel, ...] = tuple(models)
        self.today = today
        self._by_id: dict[str, ClaudeModel] = {}
        for model in self.models:
            self._by_id[model.id] = model
            if model.alias:
                self._by_id.setdefault(model.alias, model)

    def __iter__(self) -> Iterator[ClaudeModel]:
        return iter(self.models)

    def get(self, model_id: str) -> ClaudeModel | None:
        """The model named by id or alias, whatever its lifecycle; None if unknown."""
        return self._by_id.get(model_id)

    def lifecycle(self, model: ClaudeModel) -> Lifecycle:
        """`model`'s stage today (its declared stage when the catalogue follows no date)."""
        return model.lifecycle if self.today is None else model.lifecycle_on(self.today())

    def info(self, model: ClaudeModel) -> dict[str, Any]:
        """`model`'s ``ModelInfo`` today."""
        return {**model.info(), "lifecycle": self.lifecycle(model).value}

    def current(self) -> list[ClaudeModel]:
        """The active models today, newest first: the only ones worth suggesting."""
        return [m for m in self.models if self.lifecycle(m) is Lifecycle.ACTIVE]

    def newest(self, line: str | None) -> ClaudeModel | None:
        """The newest active model of `line` (of the Sonnet line, the middle one, when `line` is None or unknown)."""
        wanted = line if line in LINES else "sonnet"
        return next((m for m in self.current() if m.line == wanted), None)

    def replacement_for(self, model_id: str) -> ClaudeModel | None:
        """A current (active) model to use instead of `model_id`: its replacement, followed while that is no longer
        active, else the newest active model of its line; None if nothing is active."""
        model = start = self.get(model_id)
        seen: set[str] = set()
        while model is not None and self.lifecycle(model) is not Lifecycle.ACTIVE and model.id not in seen:
            seen.add(model.id)
            model = self.get(model.replacement) if model.replacement else None
        if model is not None and self.lifecycle(model) is Lifecycle.ACTIVE:
            return model
        pick = self.newest(start.line if start is not None else None)
        if pick is not None:
            return pick
        current = self.current()
        return current[0] if current else None

    def nearest(self, wanted: str, among: Sequence[ClaudeModel] | None = None) -> tuple[int, ClaudeModel] | None:
        """The model of `among` (default: all) whose id or alias is nearest to `wanted` (dots read as dashes), with
        the edit distance; None when none is close enough to be a typo of it."""
        normal = normal_id(wanted)
        best: tuple[int, ClaudeModel] | None = None
        for model in self.models if among is None else among:
            for name in model.names():
                d = distance(normal, name)
                if best is None or d < best[0]:
                    best = (d, model)
        if best is None or best[0] > max(2, len(normal) // 8):
            return None
        return best
