"""Model advice from the catalogue: same tier, did-you-mean, retired aliases, and retirement dates against today."""

from __future__ import annotations

import datetime as dt

import pytest

from claudewire.doctor import Status, run
from claudewire.doctor.models import did_you_mean, listed, same_tier
from claudewire.sim import SimServer
from claudewire.sim.catalogue import DEFAULT_MODELS
from tests.doctor.conftest import settings_for

LISTING = {"data": [m.info() for m in DEFAULT_MODELS]}


@pytest.mark.parametrize(
    ("wanted", "meant"),
    [
        ("claude-sonet-4-5", "claude-sonnet-4-5-20250929"),
        ("claude-sonnet-4.5", "claude-sonnet-4-5-20250929"),
        ("claude-opus-4.8", "claude-opus-4-8"),
        ("claude-haiku-45", "claude-haiku-4-5-20251001"),
    ],
)
def test_did_you_mean_finds_near_misses(wanted: str, meant: str) -> None:
    """A typo or a dotted version finds the listed model by edit distance."""
    near = did_you_mean(listed(LISTING), wanted)
    assert near is not None and near.id == meant


def test_did_you_mean_stays_quiet_for_far_ids() -> None:
    """An id far from every listed one gets no suggestion."""
    assert did_you_mean(listed(LISTING), "gpt-4o") is None


@pytest.mark.parametrize(
    ("model", "tier_pick"),
    [("claude-3-5-haiku-20241022", "claude-haiku-4-5-20251001"), ("claude-3-opus-20240229", "claude-opus-4-8"),
     ("claude-2.1", "claude-sonnet-4-6"), ("gpt-4o", "claude-sonnet-4-6")],
)  # fmt: skip
def test_advice_stays_in_the_tier(model: str, tier_pick: str) -> None:
    """A Haiku is replaced by a Haiku, an Opus by an Opus; an id without a tier gets the middle tier, not Opus."""
    pick = same_tier(listed(LISTING), model)
    assert pick is not None and pick.id == tier_pick


@pytest.mark.parametrize(
    ("model", "words", "fix"),
    [
        ("claude-sonet-4-5", "did you mean claude-sonnet-4-5-20250929", "--model claude-sonnet-4-5-20250929"),
        ("gpt-4o", "not a Claude model", "claude-sonnet-4-6"),
        ("claude-2.1", "is retired (since 2025-07-21)", "claude-sonnet-4-6"),
        ("claude-3-5-sonnet-latest", "is retired", "claude-sonnet-4-6"),
        ("claude-haiku-9", "does not exist", "claude-haiku-4-5"),
    ],
)
def test_the_model_check_advises_from_the_catalogue(sim: SimServer, model: str, words: str, fix: str) -> None:
    """Unknown ids get a did-you-mean, a foreign id is named so, retired aliases are retired with a successor."""
    check = run(settings_for(sim.base_url, model=model)).get("model")
    assert check.status is Status.FAIL
    assert words in check.detail
    assert fix in (check.fix or "")
    assert "claude-opus" not in (check.fix or "")  # never the most expensive model by default


def test_a_retirement_date_in_the_past_is_retired_not_upcoming(sim: SimServer) -> None:
    """A deprecated model whose retirement date has passed (claude-sonnet-4-5, 2026-11-30) fails, not "retires on"."""
    check = run(settings_for(sim.base_url, model="claude-sonnet-4-5")).get("model")
    if dt.date.today() < dt.date(2026, 11, 30):
        pytest.skip("runs on or after the retirement date")
    assert check.status is Status.FAIL
    assert "reached its retirement date on 2026-11-30" in check.detail
    assert "retires on" not in check.detail
    assert "claude-sonnet-4-6" in (check.fix or "")
