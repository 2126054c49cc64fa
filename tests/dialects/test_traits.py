"""The fallback guess of a model's traits from its id."""

from __future__ import annotations

import pytest

from claudewire.dialects import guess_traits
from claudewire.dialects.traits import generation


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("claude-opus-4-7", ("opus", 4, 7)),
        ("claude-sonnet-4-5-20250929", ("sonnet", 4, 5)),
        ("claude-sonnet-4-20250514", ("sonnet", 4, 0)),
        ("claude-3-7-sonnet-20250219", ("sonnet", 3, 7)),
        ("us.anthropic.claude-sonnet-4-6-v1:0", ("sonnet", 4, 6)),
        ("claude-opus-4-1@20250805", ("opus", 4, 1)),
        ("gpt-4o", None),
    ],
)
def test_generation_read_from_ids(model: str, expected: tuple[str, int, int] | None) -> None:
    """The family and version are read from first-party, dated, old-style, Bedrock and Vertex ids."""
    assert generation(model) == expected


def test_adaptive_from_4_6_and_budget_before() -> None:
    """Adaptive thinking from 4.6 (and 5.x), budgeted thinking from 3.7 up to 4.6, none after."""
    assert guess_traits("claude-sonnet-4-6").adaptive_thinking
    assert guess_traits("claude-sonnet-5-5").adaptive_thinking
    assert not guess_traits("claude-opus-4-7").budget_thinking
    haiku = guess_traits("claude-haiku-4-5")
    assert haiku.budget_thinking and not haiku.adaptive_thinking


def test_sampling_refused_from_4_7() -> None:
    """Sampling parameters are refused from 4.7 on and taken before."""
    assert guess_traits("claude-opus-4-7").rejects_sampling
    assert not guess_traits("claude-sonnet-4-6").rejects_sampling


def test_unknown_id_asks_for_nothing_the_api_could_refuse() -> None:
    """An unreadable id gets no thinking and no structured outputs."""
    traits = guess_traits("mystery-model")
    assert not (traits.adaptive_thinking or traits.budget_thinking or traits.structured_outputs)
