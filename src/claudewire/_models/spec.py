"""What a Claude model is: its lifecycle dates and the request features it takes. Pure data, no I/O.

One `ClaudeModel` per model id. The lifecycle is a function of the date (`ClaudeModel.lifecycle_on`): deprecated from
``deprecated_at``, retired from ``retires_at``, as the API moves a model on those days; `lifecycle` is the stage as
declared, which a cloud (that keeps its own schedule) reads instead of the dates. The capabilities are the ones the
API's rules turn on: which ``thinking.type`` values the model takes, how thinking is turned off, the effort levels,
whether non-default sampling parameters pass, forced ``tool_choice``, mid-conversation ``role: "system"`` turns and
fast mode. `ClaudeModel.info` is the ``ModelInfo`` object ``GET /v1/models`` returns for it.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import Any

__all__ = [
    "EFFORTS",
    "EFFORTS_4_5",
    "EFFORTS_4_6",
    "ClaudeModel",
    "FastMode",
    "Lifecycle",
    "Thinking",
    "ThinkingOff",
    "day_of",
    "utc_today",
]

EFFORTS: tuple[str, ...] = ("low", "medium", "high", "xhigh", "max")
"""Every ``output_config.effort`` level, lowest first (Opus 4.7 and later, the Claude 5 family)."""
EFFORTS_4_6: tuple[str, ...] = ("low", "medium", "high", "max")
"""Opus 4.6 and Sonnet 4.6: ``max`` but not ``xhigh`` (which came with Opus 4.7)."""
EFFORTS_4_5: tuple[str, ...] = ("low", "medium", "high")
"""Opus 4.5, the first model with the effort parameter."""


def utc_today() -> dt.date:
    """Today's date in UTC: the day the API's lifecycle dates are read against."""
    return dt.datetime.now(dt.UTC).date()


def day_of(stamp: str | None) -> dt.date | None:
    """The date of an RFC 3339 stamp (``2026-11-30T00:00:00Z``), None for None."""
    return dt.datetime.fromisoformat(stamp).date() if stamp else None


class Lifecycle(enum.StrEnum):
    """A model's lifecycle stage, as ``ModelInfo.lifecycle`` names it (the docs' "legacy" models are active)."""

    ACTIVE = "active"
    DEPRECATED = "deprecated"
    RETIRED = "retired"


class Thinking(enum.StrEnum):
    """Which ways of thinking a model takes: ``{"type": "enabled", "budget_tokens": N}``, ``{"type": "adaptive"}``."""

    NONE = "none"  # no thinking at all
    BUDGETED = "budgeted"  # extended thinking with a budget only (Haiku 4.5, the 4.5 models)
    ADAPTIVE = "adaptive"  # adaptive only, steered by output_config.effort (Opus 4.7 and later)
    BOTH = "both"  # either (Opus 4.6, Sonnet 4.6, Mythos Preview)

    @property
    def budgeted(self) -> bool:
        """``thinking.type: "enabled"`` (a ``budget_tokens``) is accepted."""
        return self in (Thinking.BUDGETED, Thinking.BOTH)

    @property
    def adaptive(self) -> bool:
        """``thinking.type: "adaptive"`` is accepted."""
        return self in (Thinking.ADAPTIVE, Thinking.BOTH)


class ThinkingOff(enum.StrEnum):
    """How thinking is turned off on a model, if it can be."""

    DISABLED = "disabled"  # {"type": "disabled"}
    BETWEEN_TOOLS = "between_tools"  # {"type": "between_tools"} only (Sonnet 5.5): "disabled" is refused
    NEVER = "never"  # thinking is always on (Opus 5.5, the Fable and Mythos lines)


class FastMode(enum.StrEnum):
    """``speed: "fast"`` support."""

    NONE = "none"
    BETA = "beta"  # with the fast-mode-2026-02-01 beta (research preview on Opus 5, deprecated on Opus 4.8)
    GA = "ga"  # no beta header needed (Opus 5.5, Fable 5.2, Mythos 5.2)


@dataclass(frozen=True, slots=True)
class ClaudeModel:
    """One model: id, lifecycle dates (RFC 3339 strings), limits and the request features it takes.

    `alias` is an undated id that also resolves to it; `replacement` the model the deprecation notice recommends.
    The capability defaults are the permissive ones (a model built for a test takes everything); the real lineup
    (`claudewire._models.lineup`) spells each one out. `off_effort_cap` is the highest effort allowed with thinking
    turned off (None: any). `sampling` False means a non-default ``temperature``, or any ``top_p`` / ``top_k``, is
    refused with ``anthropic-version: 2023-06-01`` ("`temperature` is deprecated for this model.").
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
    thinking: Thinking = Thinking.BOTH
    thinking_off: ThinkingOff = ThinkingOff.DISABLED
    off_effort_cap: str | None = None
    efforts: tuple[str, ...] = EFFORTS
    sampling: bool = True
    forced_tool_choice: bool = True
    mid_conversation_system: bool = True
    fast_mode: FastMode = FastMode.NONE

    def lifecycle_on(self, day: dt.date) -> Lifecycle:
        """The stage on `day`: retired from the ``retires_at`` day on, deprecated from ``deprecated_at``."""
        retires, deprecated = day_of(self.retires_at), day_of(self.deprecated_at)
        if self.lifecycle is Lifecycle.RETIRED or (retires is not None and day >= retires):
            return Lifecycle.RETIRED
        if self.lifecycle is Lifecycle.DEPRECATED or (deprecated is not None and day >= deprecated):
            return Lifecycle.DEPRECATED
        return Lifecycle.ACTIVE

    def names(self) -> tuple[str, ...]:
        """The id and, if it has one, the alias: every name the API resolves to this model."""
        return (self.id, self.alias) if self.alias else (self.id,)

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
            "capabilities": self.capabilities(),
        }

    def capabilities(self) -> dict[str, Any]:
        """``ModelInfo.capabilities``: every key the SDK's ``ModelCapabilities`` names is present.

        Thinking and effort are this model's; the rest (batch, citations, PDF and image input, structured outputs,
        server tools, context management) is reported as supported, which the current lineup all is.
        """
        yes = {"supported": True}
        effort: dict[str, Any] = {"supported": bool(self.efforts)}
        effort.update({level: {"supported": level in self.efforts} for level in EFFORTS})
        thinks = self.thinking is not Thinking.NONE
        types = {
            "adaptive": {"supported": self.thinking.adaptive},
            "between_tools": {"supported": self.thinking_off is ThinkingOff.BETWEEN_TOOLS},
            # "True on a model that does not support thinking" (the SDK's ThinkingTypes)
            "disabled": {"supported": not thinks or self.thinking_off is ThinkingOff.DISABLED},
            "enabled": {"supported": self.thinking.budgeted},
        }
        return {
            "batch": yes,
            "citations": yes,
            "code_execution": yes,
            "context_management": {
                "supported": True,
                "clear_thinking_20251015": yes,
                "clear_tool_uses_20250919": yes,
                "compact_20260112": yes,
            },
            "effort": effort,
            "image_input": yes,
            "pdf_input": yes,
            "server_tools": {"supported": True, "code_execution": yes, "web_search": yes},
            "structured_outputs": yes,
            "thinking": {"supported": thinks, "types": types},
        }
