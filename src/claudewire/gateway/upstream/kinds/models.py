"""Model ids per cloud: the default mapping from the Anthropic API's names, and the per-upstream ``model_map``.

A ``[upstreams.model_map]`` entry wins; otherwise an id already in the cloud's form passes unchanged, an undated
alias of a dated model becomes the dated id, and the cloud's spelling is derived from it:

- bedrock: ``{geo}.anthropic.{dated id}-v1:0`` (a cross-region inference profile; `geo` from the region: ``eu``,
  ``apac`` or ``us``);
- vertex: ``{name}@{YYYYMMDD}`` for a dated id, the id itself otherwise.

Bedrock's CountTokens takes foundation-model ids only: `bedrock_count_model` turns a cross-region inference profile
(``us.anthropic.X``, or its ARN) into the foundation model's id, and has none for an application inference profile
(an opaque ARN).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["DATED", "bedrock_count_model", "bedrock_model_id", "vertex_model_id"]

DATED: Mapping[str, str] = {
    "claude-haiku-4-5": "claude-haiku-4-5-20251001",
    "claude-sonnet-4-5": "claude-sonnet-4-5-20250929",
    "claude-opus-4-5": "claude-opus-4-5-20251101",
    "claude-opus-4-1": "claude-opus-4-1-20250805",
    "claude-sonnet-4-0": "claude-sonnet-4-20250514",
    "claude-opus-4-0": "claude-opus-4-20250514",
    "claude-3-7-sonnet-latest": "claude-3-7-sonnet-20250219",
    "claude-3-5-haiku-latest": "claude-3-5-haiku-20241022",
}
"""Undated aliases of the current dated Claude models (the clouds name models by dated id where one exists)."""

_DATE = re.compile(r"^(?P<name>.+)-(?P<date>20\d{6})$")
_PROFILE = re.compile(r"^(?:[a-z]+(?:-[a-z]+)?\.)?(?P<model>anthropic\..+)$")


def _geo(region: str) -> str:
    if region.startswith("eu-"):
        return "eu"
    if region.startswith("ap-"):
        return "apac"
    return "us"


def bedrock_model_id(model: str, region: str, model_map: Mapping[str, str]) -> str:
    """The Bedrock model id (or inference profile) for the Anthropic model name `model`."""
    if model in model_map:
        return model_map[model]
    if "anthropic." in model or model.startswith("arn:"):
        return model  # already Bedrock's
    return f"{_geo(region)}.anthropic.{DATED.get(model, model)}-v1:0"


def bedrock_count_model(model_id: str) -> str | None:
    """The foundation-model id CountTokens takes for the Bedrock `model_id` (a model id, a cross-region inference
    profile or an ARN of either), or None for an application inference profile, which names no model."""
    tail = model_id.rsplit("/", 1)[-1] if model_id.startswith("arn:") else model_id
    if ":application-inference-profile/" in model_id:
        return None
    found = _PROFILE.match(tail)
    return found["model"] if found else None


def vertex_model_id(model: str, model_map: Mapping[str, str]) -> str:
    """The Vertex AI publisher model id for the Anthropic model name `model`."""
    if model in model_map:
        return model_map[model]
    if "@" in model:
        return model
    match = _DATE.match(DATED.get(model, model))
    return f"{match['name']}@{match['date']}" if match else model
