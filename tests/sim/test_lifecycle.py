"""A model's lifecycle is a function of the date: deprecated from deprecated_at, retired from retires_at."""

from __future__ import annotations

import datetime as dt

import anthropic
import pytest

from claudewire.sim import Catalogue, Lifecycle, SimModel
from claudewire.sim.catalogue import utc_today
from claudewire.testing import run_sim
from tests.conftest import SIM_KEY

HELLO = [{"role": "user", "content": "Hello"}]
EVE, DAY = dt.date(2026, 11, 29), dt.date(2026, 11, 30)  # claude-sonnet-4-5 retires on 2026-11-30


def test_the_stage_moves_on_the_dates() -> None:
    """claude-sonnet-4-5 is deprecated the day before its retires_at and retired on it; an active model's
    deprecated_at makes it deprecated that day; a declared retirement holds whatever the date."""
    sonnet = Catalogue().get("claude-sonnet-4-5")
    assert sonnet is not None
    assert sonnet.lifecycle_on(EVE) is Lifecycle.DEPRECATED
    assert sonnet.lifecycle_on(DAY) is Lifecycle.RETIRED
    model = SimModel("claude-x-1", "X 1", "2026-01-01T00:00:00Z", deprecated_at="2026-06-01T00:00:00Z")
    assert model.lifecycle_on(dt.date(2026, 5, 31)) is Lifecycle.ACTIVE
    assert model.lifecycle_on(dt.date(2026, 6, 1)) is Lifecycle.DEPRECATED
    opus3 = Catalogue().get("claude-3-opus-20240229")
    assert opus3 is not None and opus3.lifecycle_on(dt.date(2020, 1, 1)) is Lifecycle.RETIRED


def test_replacement_follows_the_date() -> None:
    """A replacement that has itself retired by the day is followed to its own successor."""
    a = SimModel(
        "claude-a-1",
        "A",
        "2025-01-01T00:00:00Z",
        Lifecycle.DEPRECATED,
        replacement="claude-b-1",
        deprecated_at="2026-01-01T00:00:00Z",
        retires_at="2026-06-01T00:00:00Z",
    )
    b = SimModel(
        "claude-b-1",
        "B",
        "2025-06-01T00:00:00Z",
        replacement="claude-c-1",
        deprecated_at="2026-06-01T00:00:00Z",
        retires_at="2026-12-01T00:00:00Z",
    )
    c = SimModel("claude-c-1", "C", "2026-01-01T00:00:00Z")
    assert Catalogue((c, b, a), today=lambda: dt.date(2026, 5, 1)).replacement_for("claude-a-1") == b
    assert Catalogue((c, b, a), today=lambda: dt.date(2026, 12, 1)).replacement_for("claude-a-1") == c
    assert Catalogue(today=lambda: EVE).replacement_for("claude-sonnet-4-5").id == "claude-sonnet-5-5"  # type: ignore[union-attr]


@pytest.mark.parametrize(("today", "stage"), [(EVE, "deprecated"), (DAY, "retired")])
def test_either_side_of_the_retirement_day_through_the_sdk(today: dt.date, stage: str) -> None:
    """GET /v1/models and /v1/models/{id} show the day's stage; on and after the day messages and count_tokens
    naming the model answer 404 not_found_error, as for any retired model, and the day before they succeed."""
    with run_sim(seed=0, today=today) as sim:
        c = anthropic.Anthropic(base_url=sim.base_url, api_key=SIM_KEY, max_retries=0)
        assert c.models.retrieve("claude-sonnet-4-5").lifecycle == stage
        listed = {m.id: m.lifecycle for m in c.models.list(limit=1000)}
        assert listed["claude-sonnet-4-5-20250929"] == stage
        assert listed["claude-haiku-4-5-20251001"] == "active"
        if stage == "deprecated":
            reply = c.messages.create(model="claude-sonnet-4-5", max_tokens=16, messages=HELLO)  # type: ignore[arg-type]
            assert reply.stop_reason == "end_turn" and reply.content
            return
        with pytest.raises(anthropic.NotFoundError) as info:
            c.messages.create(model="claude-sonnet-4-5", max_tokens=16, messages=HELLO)  # type: ignore[arg-type]
        assert info.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
        assert "claude-sonnet-4-5" in info.value.message
        with pytest.raises(anthropic.NotFoundError):
            c.messages.count_tokens(model="claude-sonnet-4-5-20250929", messages=HELLO)  # type: ignore[arg-type]


def test_by_default_the_simulator_judges_on_todays_date() -> None:
    """With no date pinned the simulator reads the UTC date: from 2026-11-30 on, claude-sonnet-4-5 is retired."""
    assert utc_today() >= DAY  # the date only moves forward: this holds on every day the test can run
    with run_sim(seed=0) as sim:
        c = anthropic.Anthropic(base_url=sim.base_url, api_key=SIM_KEY, max_retries=0)
        assert c.models.retrieve("claude-sonnet-4-5").lifecycle == "retired"
        with pytest.raises(anthropic.NotFoundError):
            c.messages.create(model="claude-sonnet-4-5", max_tokens=16, messages=HELLO)  # type: ignore[arg-type]


@pytest.mark.parametrize("api", ["bedrock", "vertex", "foundry"])
def test_a_cloud_dialect_keeps_its_own_lifecycle(api: str) -> None:
    """A cloud retires models on its own schedule: on the API's retirement day a cloud dialect still serves
    claude-sonnet-4-5 (Claude Code's default Bedrock model), while the Anthropic dialect has retired it."""
    with run_sim(seed=0, today=DAY, api=api) as cloud, run_sim(seed=0, today=DAY) as anthropic_api:
        sonnet = cloud.catalogue.get("claude-sonnet-4-5")
        assert sonnet is not None
        assert cloud.catalogue.lifecycle(sonnet) is Lifecycle.DEPRECATED
        assert anthropic_api.catalogue.lifecycle(sonnet) is Lifecycle.RETIRED
