"""The model list in OpenAI's shape and the advertised names resolved to Claude ids."""

from __future__ import annotations

from anthropic.types import ModelInfo
from openai.types import Model

from claudewire.dialects import ResolvedModel, models_list, resolve_model
from claudewire.sim.catalogue import DEFAULT_MODELS

UPSTREAM = {
    "data": [
        {
            "type": "model",
            "id": "claude-sonnet-5-5",
            "display_name": "Claude Sonnet 5.5",
            "created_at": "2026-09-01T00:00:00Z",
        },
        {
            "type": "model",
            "id": "claude-haiku-4-5-20251001",
            "display_name": "Claude Haiku 4.5",
            "created_at": "2025-10-01T00:00:00Z",
        },
    ],
    "has_more": False,
}
ALIASES = {"cw-sonnet": "claude-sonnet-5-5"}


def test_every_entry_parses_as_both_sdks_models() -> None:
    """Each entry is an OpenAI Model and an Anthropic ModelInfo at once."""
    body = models_list(UPSTREAM, ALIASES)
    assert body["object"] == "list"
    for entry in body["data"]:
        Model.model_validate(entry)
        ModelInfo.model_validate(entry)
    assert body["first_id"] == "cw-sonnet" and body["last_id"] == "claude-haiku-4-5-20251001"


def test_simulator_catalogue_list_parses_as_both_sdks_models() -> None:
    """The list built from the simulator's /v1/models body (the API's full model info) parses in both SDKs."""
    upstream = {"data": [m.info() for m in DEFAULT_MODELS], "has_more": False}
    body = models_list(upstream, {"cw-opus": DEFAULT_MODELS[0].id}, variants=("-thinking", "-fast"))
    for entry in body["data"]:
        Model.model_validate(entry)
        ModelInfo.model_validate(entry)
    assert [m["id"] for m in body["data"][:3]] == ["cw-opus", "cw-opus-thinking", "cw-opus-fast"]
    assert body["data"][0]["max_tokens"] == DEFAULT_MODELS[0].max_tokens


def test_aliases_listed_first_with_their_target_details() -> None:
    """Aliases come first, with the created time and display name of the model they name."""
    first = Model.model_validate(models_list(UPSTREAM, ALIASES)["data"][0])
    assert (first.id, first.owned_by, first.created) == ("cw-sonnet", "anthropic", 1788220800)


def test_suffix_variants_and_aliases_only() -> None:
    """Variants list each alias with its suffixes; include_claude_ids=False lists the aliases alone."""
    body = models_list(UPSTREAM, ALIASES, variants=("-thinking",), include_claude_ids=False)
    assert [m["id"] for m in body["data"]] == ["cw-sonnet", "cw-sonnet-thinking"]


def test_alias_resolves_to_its_claude_id() -> None:
    """An advertised name resolves to its Claude id."""
    assert resolve_model("cw-sonnet", ALIASES) == ResolvedModel("cw-sonnet", "claude-sonnet-5-5")


def test_thinking_and_fast_suffixes_in_either_order() -> None:
    """-thinking and -fast resolve onto the same model, in either order, and say what they asked for."""
    assert resolve_model("cw-sonnet-thinking", ALIASES) == ResolvedModel(
        "cw-sonnet-thinking", "claude-sonnet-5-5", True
    )
    both = resolve_model("cw-sonnet-fast-thinking", ALIASES)
    assert (both.model, both.thinking, both.fast) == ("claude-sonnet-5-5", True, True)
    assert resolve_model("cw-sonnet-thinking-fast", ALIASES).fast


def test_claude_ids_pass_through_with_suffixes() -> None:
    """A Claude id (not an alias) is used as it is, its suffixes read the same way."""
    assert resolve_model("claude-opus-4-7", ALIASES) == ResolvedModel("claude-opus-4-7", "claude-opus-4-7")
    assert resolve_model("claude-opus-4-7-thinking", ALIASES).model == "claude-opus-4-7"


def test_exact_alias_wins_over_suffix_reading() -> None:
    """An alias that itself ends in a suffix is taken as it is."""
    aliases = {"cw-opus-fast": "claude-opus-4-8"}
    assert resolve_model("cw-opus-fast", aliases) == ResolvedModel("cw-opus-fast", "claude-opus-4-8")
