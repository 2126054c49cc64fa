"""Model advice from the catalogue: same line, did-you-mean (current models only), retired ids, and retirement dates
against today."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from claudewire.doctor import CheckResult, Status, run
from claudewire.doctor.api import ApiProbe, check_model, make_client, probe_api
from claudewire.doctor.models import did_you_mean, listed, looks_retired, retired_model, same_tier
from claudewire.sim import SimServer
from claudewire.sim.catalogue import DEFAULT_MODELS
from claudewire.testing import run_sim
from tests.doctor.conftest import settings_for

EVE, DAY = dt.date(2026, 11, 29), dt.date(2026, 11, 30)  # claude-sonnet-4-5 retires on 2026-11-30
LISTING = {"data": [m.info(dt.date(2026, 12, 2)) for m in DEFAULT_MODELS]}


@pytest.mark.parametrize(
    ("wanted", "meant"),
    [
        ("claude-sonet-5-5", "claude-sonnet-5-5"),
        ("claude-sonnet-5.5", "claude-sonnet-5-5"),
        ("claude-opus-4.8", "claude-opus-4-8"),
        ("claude-haiku-45", "claude-haiku-4-5-20251001"),
    ],
)
def test_did_you_mean_finds_near_misses(wanted: str, meant: str) -> None:
    """A typo or a dotted version finds the listed model by edit distance."""
    near = did_you_mean(listed(LISTING), wanted)
    assert near is not None and near.id == meant


@pytest.mark.parametrize(("wanted", "old"), [("claude-sonet-4-5", "claude-sonnet-4-5-20250929"),
                                              ("claude-opus-4.5", "claude-opus-4-5-20251101")])  # fmt: skip
def test_did_you_mean_never_suggests_a_deprecated_or_retired_model(wanted: str, old: str) -> None:
    """A typo of retired Sonnet 4.5 or deprecated Opus 4.5 is not answered with them: did-you-mean offers a current
    model only, and the advice names the near miss as retired or deprecated instead."""
    models = listed(LISTING)
    near = did_you_mean(models, wanted)
    assert near is None or (near.lifecycle == "active" and near.id != old)
    looks = looks_retired(models, wanted, dt.date(2026, 12, 2))
    assert looks is not None and looks.id == old


def test_without_a_listing_the_catalogue_stands_in() -> None:
    """With no GET /v1/models answer the catalogue's current models are the candidates, and a retired id the listing
    no longer shows is still known, with its date."""
    near = did_you_mean([], "claude-sonet-5-5", dt.date(2026, 12, 7))
    assert near is not None and near.id == "claude-sonnet-5-5"
    record = retired_model("claude-2.1", dt.date(2026, 12, 7))
    assert record is not None and record.retires_at is not None and record.retires_at.startswith("2025-07-21")
    assert retired_model("claude-opus-4-5", dt.date(2026, 12, 7)) is None  # deprecated, not retired


def test_did_you_mean_stays_quiet_for_far_ids() -> None:
    """An id far from every listed one gets no suggestion."""
    assert did_you_mean(listed(LISTING), "gpt-4o") is None


@pytest.mark.parametrize(
    ("model", "tier_pick"),
    [("claude-3-5-haiku-20241022", "claude-haiku-5-5"), ("claude-3-opus-20240229", "claude-opus-5-5"),
     ("claude-2.1", "claude-sonnet-5-5"), ("gpt-4o", "claude-sonnet-5-5"),
     ("claude-mythos-preview", "claude-mythos-5-2"), ("claude-fable-5", "claude-fable-5-2")],
)  # fmt: skip
def test_advice_stays_in_the_tier(model: str, tier_pick: str) -> None:
    """A Haiku is replaced by a Haiku, an Opus by an Opus, a Mythos by a Mythos; an id without a line gets the middle
    line (Sonnet), not Opus or Fable."""
    pick = same_tier(listed(LISTING), model)
    assert pick is not None and pick.id == tier_pick


@pytest.mark.parametrize(
    ("model", "words", "fix"),
    [
        # the near miss is retired (since 2026-11-30): named as such, the fix names its successor, never the retired id
        (
            "claude-sonet-4-5",
            "it looks like claude-sonnet-4-5-20250929 (retired since 2026-11-30)",
            'set model="claude-sonnet-5-5"',
        ),
        (
            "claude-sonnet-5.5",
            "did you mean claude-sonnet-5-5?",
            'Use claude-sonnet-5-5: set model="claude-sonnet-5-5"',
        ),
        ("gpt-4o", "not a Claude model", "claude-sonnet-5-5"),
        ("claude-2.1", "is retired (since 2025-07-21)", "claude-sonnet-5-5"),
        ("claude-3-5-sonnet-latest", "is retired", "claude-sonnet-5-5"),
        ("claude-haiku-9", "does not exist", "claude-haiku-5-5"),
    ],
)
def test_the_model_check_advises_from_the_catalogue(sim: SimServer, model: str, words: str, fix: str) -> None:
    """Unknown ids get a did-you-mean (a current model), a foreign id is named so, retired ids and near misses of
    them are retired with a successor."""
    check = run(settings_for(sim.base_url, model=model)).get("model")
    assert check.status is Status.FAIL
    assert words in check.detail
    assert fix in (check.fix or "")
    assert "claude-opus" not in (check.fix or "")  # never the most expensive model by default
    assert "--model" not in (check.fix or "")  # the SDK's own model= argument, not a doctor flag


def test_a_lagging_api_past_the_retirement_date_is_retired_not_upcoming() -> None:
    """An API still listing claude-sonnet-4-5 as deprecated after its date (a simulator pinned to the eve, a doctor
    on a later day) fails, saying it reached its retirement date, not "retires on"."""
    with run_sim(seed=0, today=EVE) as sim:
        check = _model_check(sim, "claude-sonnet-4-5", dt.date(2026, 12, 2))
    assert check.status is Status.FAIL
    assert "reached its retirement date on 2026-11-30 (2 days ago)" in check.detail
    assert "retires on" not in check.detail
    assert "claude-sonnet-5-5" in (check.fix or "")


@pytest.mark.parametrize("day", [EVE, DAY])
def test_the_doctor_and_the_simulator_agree_either_side_of_the_retirement_day(day: dt.date) -> None:
    """On the same day, the doctor's model check says what the simulator serves: deprecated and "retires on
    2026-11-30" (warn) on the eve, retired since 2026-11-30 (fail, use claude-sonnet-5-5) from the day on."""
    with run_sim(seed=0, today=day) as sim:
        check = _model_check(sim, "claude-sonnet-4-5", day)
        listing = sim.catalogue.info(sim.catalogue.get("claude-sonnet-4-5"))  # type: ignore[arg-type]
    if day == EVE:
        assert listing["lifecycle"] == "deprecated"
        assert check.status is Status.WARN
        assert "is deprecated and retires on 2026-11-30" in check.detail
    else:
        assert listing["lifecycle"] == "retired"
        assert check.status is Status.FAIL
        assert "is retired (since 2026-11-30)" in check.detail and "retires on" not in check.detail
    assert "claude-sonnet-5-5" in (check.fix or "")


def test_the_default_run_today_calls_claude_sonnet_4_5_retired(sim: SimServer) -> None:
    """The README's path (simulator and doctor on today's date, on or after 2026-11-30): retired, with its successor."""
    check = run(settings_for(sim.base_url, model="claude-sonnet-4-5")).get("model")
    assert check.status is Status.FAIL
    assert "is retired (since 2026-11-30)" in check.detail
    assert "claude-sonnet-5-5" in (check.fix or "")


def _model_check(sim: SimServer, model: str, today: dt.date) -> CheckResult:
    """The doctor's model check against `sim`, judged on `today`."""
    settings = settings_for(sim.base_url, model=model)

    async def probe() -> ApiProbe:
        client = make_client(settings)
        try:
            return await probe_api(client, settings)
        finally:
            await client.close()

    return check_model(asyncio.run(probe()), settings, today)
