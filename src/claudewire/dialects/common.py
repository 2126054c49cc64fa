"""What every dialect shares: the traits of the model the caller supplies, where a call goes, the translated request.

A translator knows nothing of the model catalogue: the gateway builds a `ModelTraits` from it (or from
`claudewire.dialects.traits.guess_traits` when the catalogue does not know the model) and hands it in with the
`Target`. A request translator returns a `MessagesRequest`: the Messages body to send, the ``anthropic-beta`` values it
needs, and what the answer translators must know (stream or not, usage chunk or not, the model name to echo).

A body a translator cannot take raises `DialectError`: a 400 the gateway writes in the caller's dialect
(`claudewire.dialects.errors.dialect_error_body`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "DialectError",
    "MessagesRequest",
    "ModelTraits",
    "Target",
    "dumps",
    "objects",
    "upstream_message",
]

DEFAULT_MAX_TOKENS = 8192
"""``max_tokens`` sent when the caller names no limit (the Messages API requires one). OpenAI's absent limit means
"up to the model's maximum", but the API counts ``max_tokens`` against the output-tokens-per-minute limit when a call
starts, so a model-sized default would throttle a busy key; 8192 answers any chat turn. Capped at the model's
`ModelTraits.max_output`; a route's `Target.min_max_tokens` raises it."""


@dataclass(frozen=True, slots=True)
class ModelTraits:
    """What the translators must know about the model a call is served by.

    `adaptive_thinking`: takes ``thinking: {type: "adaptive"}`` and ``output_config.effort`` (4.6 and later, 5.x).
    `budget_thinking`: takes ``thinking: {type: "enabled", budget_tokens}`` (used only without adaptive thinking).
    `rejects_sampling`: answers ``temperature``/``top_p``/``top_k`` with a 400 (4.7+, API version 2026-10-21).
    `max_output`: the model's ``max_tokens`` ceiling, or None when unknown (a larger request is lowered to it).
    `fast_mode`: takes ``speed: "fast"`` (the ``-fast`` alias suffix); `structured_outputs`: takes
    ``output_config.format``; `efforts`: the ``output_config.effort`` levels it accepts, lowest first.
    """

    adaptive_thinking: bool = False
    budget_thinking: bool = True
    rejects_sampling: bool = False
    max_output: int | None = None
    fast_mode: bool = False
    structured_outputs: bool = True
    efforts: tuple[str, ...] = ("low", "medium", "high", "max")


@dataclass(frozen=True, slots=True)
class Target:
    """Where a translated call goes: the Claude model id to send, its traits, and the route's and alias's wishes.

    `thinking` (the ``-thinking`` alias suffix) turns thinking on when the body does not ask for a reasoning effort;
    `fast` (the ``-fast`` suffix) asks for fast mode where the model has it; `min_max_tokens` is a per-route floor
    for ``max_tokens`` (Cursor sends a low one); `default_max_tokens` is used when the body names no limit.
    """

    model: str
    traits: ModelTraits = field(default_factory=ModelTraits)
    thinking: bool = False
    fast: bool = False
    min_max_tokens: int = 0
    default_max_tokens: int = DEFAULT_MAX_TOKENS


@dataclass(frozen=True, slots=True)
class MessagesRequest:
    """A caller's request translated into a Messages request.

    `body` is the JSON-ready Messages body; `betas` the ``anthropic-beta`` values it needs; `stream` and
    `include_usage` tell the answer translator what to write; `reply_model` is the model name the caller asked for,
    echoed in the answer; `echo` holds the request fields a Responses ``Response`` object repeats (empty for chat).
    """

    body: dict[str, Any]
    stream: bool
    include_usage: bool
    reply_model: str
    betas: tuple[str, ...] = ()
    echo: Mapping[str, Any] = field(default_factory=dict)

    def encode(self) -> bytes:
        """The body as compact UTF-8 JSON, ready to send upstream."""
        return dumps(self.body)


class DialectError(ValueError):
    """A request body the translator cannot take: a 400 in the caller's dialect, naming the offending `param`."""

    def __init__(
        self, message: str, *, param: str | None = None, status: int = 400, error_type: str = "invalid_request_error"
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.status = status
        self.error_type = error_type


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON (non-ASCII kept as is: shorter, and what the upstream sends too)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def objects(values: list[Any], param: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Each item of a JSON list with the param naming it (``param[i]``); an item that is not an object is a 400."""
    for i, value in enumerate(values):
        where = f"{param}[{i}]"
        if not isinstance(value, Mapping):
            raise DialectError(f"{where} must be an object", param=where)
        yield where, value


def upstream_message(body: bytes) -> dict[str, Any]:
    """The upstream's Messages answer parsed from its JSON bytes (a body that is not a JSON object is a 502)."""
    try:
        message = json.loads(body)
    except ValueError as exc:
        raise DialectError("the upstream answer is not JSON", status=502, error_type="api_error") from exc
    if not isinstance(message, dict):
        raise DialectError("the upstream answer is not a message object", status=502, error_type="api_error")
    return message
