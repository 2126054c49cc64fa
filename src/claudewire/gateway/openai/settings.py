"""The ``[openai]`` section of claudewire.toml, and the model traits the translators are given.

    [openai]
    default_max_tokens = 8192                # max_tokens when a body names none
    [openai.models]                          # advertised names -> Claude ids (listed first by /v1/models)
    "cw-sonnet" = "claude-sonnet-5-5"        # cw-sonnet-thinking and cw-sonnet-fast resolve onto it too
    [openai.min_max_tokens]                  # a floor for max_tokens per route: chat, responses, cursor, azure
    cursor = 8192

`traits_for` builds a model's `ModelTraits` from the shared catalogue (`claudewire._models`): adaptive or budgeted
thinking, sampling refused, max output, fast mode, the effort levels; a model the catalogue does not know gets the
traits its generation implies (`claudewire.dialects.guess_traits`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from claudewire._models import Catalogue, FastMode
from claudewire.dialects import DEFAULT_MAX_TOKENS, ModelTraits, guess_traits

__all__ = ["ROUTE_NAMES", "OpenAISettings", "traits_for"]

ROUTE_NAMES = ("chat", "responses", "cursor", "azure")
"""The routes a ``min_max_tokens`` floor can name."""

_ALIAS_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}\Z")
_CATALOGUE = Catalogue(today=None)


@dataclass(frozen=True, slots=True)
class OpenAISettings:
    """What the OpenAI-compatible ingress is told: `models` (advertised name -> Claude id), a `min_max_tokens`
    floor per route name (`ROUTE_NAMES`), and `default_max_tokens` for a body that names no limit."""

    models: Mapping[str, str] = field(default_factory=dict)
    min_max_tokens: Mapping[str, int] = field(default_factory=dict)
    default_max_tokens: int = DEFAULT_MAX_TOKENS

    def __post_init__(self) -> None:
        for alias, target in self.models.items():
            if not isinstance(alias, str) or not _ALIAS_RE.match(alias):
                raise ValueError(f"[openai] models: {alias!r} is not a model name (letters, digits, . _ : / -)")
            if not isinstance(target, str) or not target.strip():
                raise ValueError(f"[openai] models.{alias}: the Claude model id it stands for, e.g. claude-sonnet-5-5")
        for route, floor in self.min_max_tokens.items():
            if route not in ROUTE_NAMES:
                raise ValueError(f"[openai] min_max_tokens: unknown route {route!r}; known: {', '.join(ROUTE_NAMES)}")
            if isinstance(floor, bool) or not isinstance(floor, int) or floor < 0:
                raise ValueError(f"[openai] min_max_tokens.{route}: a whole number >= 0, got {floor!r}")
        limit = self.default_max_tokens
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"[openai] default_max_tokens: a whole number >= 1, got {limit!r}")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> OpenAISettings:
        """From the parsed ``[openai]`` table; ValueError names an unknown or bad field."""
        if not isinstance(data, Mapping):
            raise ValueError("[openai] must be a table")
        unknown = set(data) - {"models", "min_max_tokens", "default_max_tokens"}
        if unknown:
            raise ValueError(
                f"unknown [openai] setting(s): {', '.join(sorted(unknown))}; known: default_max_tokens, "
                "min_max_tokens, models"
            )
        models = data.get("models", {})
        floors = data.get("min_max_tokens", {})
        if not isinstance(models, Mapping) or not isinstance(floors, Mapping):
            raise ValueError("[openai] models and min_max_tokens are tables")
        return cls(dict(models), dict(floors), data.get("default_max_tokens", DEFAULT_MAX_TOKENS))

    def floor(self, route: str) -> int:
        """The ``max_tokens`` floor of route `route` (0: none)."""
        return self.min_max_tokens.get(route, 0)


@functools.lru_cache(maxsize=256)
def traits_for(model: str) -> ModelTraits:
    """What the translators must know of `model`: from the catalogue when it knows it, else guessed from the id."""
    known = _CATALOGUE.get(model)
    guessed = guess_traits(model, max_output=known.max_tokens if known is not None else None)
    if known is None:
        return guessed
    return ModelTraits(
        adaptive_thinking=known.thinking.adaptive,
        budget_thinking=known.thinking.budgeted,
        rejects_sampling=not known.sampling,
        max_output=known.max_tokens,
        fast_mode=known.fast_mode is not FastMode.NONE,
        structured_outputs=guessed.structured_outputs,
        efforts=known.efforts,
    )
