"""The model list in OpenAI's shape, and the advertised names (``[openai] models``) resolved to Claude ids.

`models_list` turns an Anthropic ``GET /v1/models`` body into one body both SDKs read: OpenAI's
``{"object": "list", "data": [{"id", "object": "model", "created", "owned_by"}]}`` whose entries also keep every
field of Anthropic's model info (``type``, ``display_name``, ``created_at``, ``lifecycle`` ...), with ``has_more``,
``first_id`` and ``last_id`` beside ``data`` (each SDK ignores the other's fields). Advertised aliases are listed
first, so Cursor offers names that cannot collide with its built-in ones. The list is one page (``has_more`` false):
the caller fetches the upstream's whole list (``?limit=1000``) first.

`resolve_model` maps a requested name to the Claude id: an exact alias wins; else the suffixes ``-thinking``
(adaptive thinking on) and ``-fast`` (fast mode where the model has it) are taken off, in either order, and the rest
is looked up as an alias or used as a Claude id.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ResolvedModel", "models_list", "resolve_model"]

_SUFFIXES = ("-thinking", "-fast")


@dataclass(frozen=True, slots=True)
class ResolvedModel:
    """A requested model name resolved: the Claude id to call and what its suffixes asked for."""

    requested: str
    model: str
    thinking: bool = False
    fast: bool = False


def resolve_model(name: str, aliases: Mapping[str, str]) -> ResolvedModel:
    """The Claude id and suffix wishes for `name`, given the advertised-name -> Claude-id map."""
    if name in aliases:
        return ResolvedModel(name, aliases[name])
    base, thinking, fast = name, False, False
    for _ in _SUFFIXES:
        if base.endswith("-thinking") and not thinking:
            base, thinking = base.removesuffix("-thinking"), True
        elif base.endswith("-fast") and not fast:
            base, fast = base.removesuffix("-fast"), True
    if not base:
        return ResolvedModel(name, name)
    return ResolvedModel(name, aliases.get(base, base), thinking, fast)


def _epoch(stamp: Any) -> int:
    if not isinstance(stamp, str):
        return 0
    try:
        moment = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return 0
    return int(moment.replace(tzinfo=moment.tzinfo or dt.UTC).timestamp())


def _entry(id: str, source: Mapping[str, Any]) -> dict[str, Any]:
    """The upstream's model info under `id` (every field it has, for the Anthropic SDK) plus OpenAI's fields."""
    created_at = source.get("created_at") or "1970-01-01T00:00:00Z"
    entry = dict(source)
    entry.update(id=id, type="model", display_name=str(source.get("display_name") or id), created_at=created_at)
    entry.setdefault("lifecycle", "active")
    entry.update(object="model", created=_epoch(created_at), owned_by="anthropic")
    return entry


def models_list(
    upstream: Mapping[str, Any],
    aliases: Mapping[str, str] | None = None,
    *,
    variants: Iterable[str] = (),
    include_claude_ids: bool = True,
) -> dict[str, Any]:
    """The list both SDKs read: `aliases` first (plus each alias with every suffix in `variants`, e.g.
    ``("-thinking",)``), then the upstream's models unless `include_claude_ids` is False."""
    models = [m for m in upstream.get("data") or () if isinstance(m, Mapping) and isinstance(m.get("id"), str)]
    by_id = {m["id"]: m for m in models}
    data: list[dict[str, Any]] = []
    for alias, target in (aliases or {}).items():
        source = by_id.get(target, {"display_name": f"{alias} ({target})"})
        data.extend(_entry(alias + suffix, source) for suffix in ("", *variants))
    if include_claude_ids:
        data.extend(_entry(m["id"], m) for m in models)
    return {
        "object": "list",
        "data": data,
        "has_more": False,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }
