"""The simulator's catalogue follows the real lineup: every model the installed SDK names, with its limits."""

from __future__ import annotations

import datetime as dt
from typing import Literal, get_args, get_origin

import anthropic
import httpx2
import pytest
from anthropic.types.model_param import ModelParam

from claudewire._models import LINEUP, Catalogue, Lifecycle, Thinking
from claudewire.sim import SimServer
from claudewire.testing import run_sim
from tests.conftest import SIM_KEY

TODAY = dt.date(2026, 12, 7)
HELLO = [{"role": "user", "content": "Hello"}]


def _sdk_model_names() -> list[str]:
    """The model ids the installed SDK's ``ModelParam`` spells out (its Literal's arguments)."""
    literals = [arg for arg in get_args(ModelParam) if get_origin(arg) is Literal]
    return [name for literal in literals for name in get_args(literal)]


def test_the_simulator_knows_every_model_the_installed_sdk_names() -> None:
    """A model the installed official SDK names and the simulator does not know turns this red (the next SDK
    release adds models: update claudewire._models.lineup from the models overview and deprecations pages)."""
    names = _sdk_model_names()
    assert len(names) >= 20, names  # the SDK still spells its models out as a Literal
    unknown = [name for name in names if Catalogue().get(name) is None]
    assert not unknown, f"the installed anthropic SDK names models the simulator does not know: {unknown}"


def test_the_lineup_is_consistent() -> None:
    """Ids and aliases are unique, the listing is newest first, every replacement is in the lineup, and every model
    no longer active carries a lifecycle date."""
    names = [name for model in LINEUP for name in model.names()]
    assert len(names) == len(set(names))
    created = [model.created_at for model in LINEUP]
    assert created == sorted(created, reverse=True)
    catalogue = Catalogue(today=lambda: TODAY)
    for model in LINEUP:
        assert model.replacement is None or catalogue.get(model.replacement) is not None, model.id
        if model.lifecycle_on(TODAY) is not Lifecycle.ACTIVE:
            assert model.deprecated_at or model.retires_at, model.id


def test_todays_lineup() -> None:
    """On 2026-12-07 the Claude 5 family is current, Opus 4.5 is deprecated (retiring 2027-01-22), Sonnet 4.5 is
    retired, and the models the rest of the suite uses (Sonnet 4.6, Haiku 4.5, Opus 4.6) are still current."""
    catalogue = Catalogue(today=lambda: TODAY)
    current = {m.id for m in catalogue.current()}
    assert {"claude-opus-5-5", "claude-sonnet-5-5", "claude-haiku-5-5", "claude-fable-5-2"} <= current
    assert {"claude-sonnet-4-6", "claude-haiku-4-5-20251001", "claude-opus-4-6", "claude-opus-4-8"} <= current
    opus45, sonnet45 = catalogue.get("claude-opus-4-5"), catalogue.get("claude-sonnet-4-5")
    assert opus45 is not None and catalogue.lifecycle(opus45) is Lifecycle.DEPRECATED
    assert opus45.retires_at == "2027-01-22T00:00:00Z"
    assert sonnet45 is not None and catalogue.lifecycle(sonnet45) is Lifecycle.RETIRED
    assert catalogue.replacement_for("claude-opus-4-5").id == "claude-opus-5-5"  # type: ignore[union-attr]


def test_the_sdk_reads_each_models_capabilities(sim: SimServer) -> None:
    """GET /v1/models lists every model with the capabilities object the SDK types: Opus 5.5 thinks adaptively and
    always (no "enabled", no "disabled"), Sonnet 5.5 turns thinking off with between_tools, Haiku 4.5 has no effort."""
    c = anthropic.Anthropic(base_url=sim.base_url, api_key=SIM_KEY, max_retries=0)
    listed = {m.id: m for m in c.models.list(limit=1000)}
    assert set(listed) == {m.id for m in LINEUP}
    opus = listed["claude-opus-5-5"].capabilities
    assert opus is not None and opus.thinking.types.adaptive.supported
    assert not opus.thinking.types.enabled.supported and not opus.thinking.types.disabled.supported
    assert opus.effort.xhigh is not None and opus.effort.xhigh.supported and opus.effort.max.supported
    sonnet = listed["claude-sonnet-5-5"].capabilities
    assert sonnet is not None and sonnet.thinking.types.between_tools.supported
    haiku = listed["claude-haiku-4-5-20251001"].capabilities
    assert haiku is not None and not haiku.effort.supported and haiku.thinking.types.enabled.supported
    assert listed["claude-sonnet-4-6"].max_tokens == 128_000 and listed["claude-opus-5-5"].max_input_tokens == 1_000_000


def _current_or_unknown(name: str) -> bool:
    model = Catalogue().get(name)
    return model is None or Catalogue().lifecycle(model) is Lifecycle.ACTIVE


@pytest.mark.parametrize("model", [m for m in _sdk_model_names() if _current_or_unknown(m)])
def test_every_model_the_sdk_names_answers(sim: SimServer, model: str) -> None:
    """Each current model the SDK names answers a plain request through the SDK, Claude Code 2.1.332's default
    model claude-opus-5-5 included (the deprecated ones, which the SDK warns about, are left out)."""
    c = anthropic.Anthropic(base_url=sim.base_url, api_key=SIM_KEY, max_retries=0)
    reply = c.messages.create(model=model, max_tokens=16, messages=HELLO)  # type: ignore[arg-type]
    assert reply.stop_reason == "end_turn" and reply.content


@pytest.mark.parametrize(
    ("model", "limit"),
    [("claude-sonnet-4-6", 128_000), ("claude-opus-5-5", 128_000), ("claude-haiku-4-5", 64_000),
     ("claude-opus-4-5", 64_000)],
)  # fmt: skip
def test_max_tokens_limits_are_the_apis(model: str, limit: int) -> None:
    """max_tokens up to the model's documented max output passes (the Vercel AI SDK and langchain-anthropic send
    128000 for claude-sonnet-4-6); one more is the API's 400 naming the limit."""
    headers = {"x-api-key": SIM_KEY, "anthropic-version": "2023-06-01"}
    with run_sim(seed=0, today=TODAY) as sim:
        url = f"{sim.base_url}/v1/messages"
        ok = httpx2.post(url, json={"model": model, "max_tokens": limit, "messages": HELLO}, headers=headers)
        over = httpx2.post(url, json={"model": model, "max_tokens": limit + 1, "messages": HELLO}, headers=headers)
    assert ok.status_code == 200, ok.text
    assert over.status_code == 400
    assert over.json()["error"]["message"].startswith(f"max_tokens: {limit + 1} > {limit}, which is the maximum")


def test_thinking_modes_are_spelled_out_for_the_newest_models() -> None:
    """Opus 5, Sonnet 5 and Fable 5 think adaptively only; Opus 4.6 and Sonnet 4.6 take both; the 4.5 models a
    budget only."""
    catalogue = Catalogue()
    for model_id in ("claude-opus-5", "claude-sonnet-5", "claude-fable-5", "claude-opus-5-5", "claude-opus-4-7"):
        assert catalogue.get(model_id).thinking is Thinking.ADAPTIVE, model_id  # type: ignore[union-attr]
    for model_id in ("claude-opus-4-6", "claude-sonnet-4-6", "claude-mythos-preview"):
        assert catalogue.get(model_id).thinking is Thinking.BOTH, model_id  # type: ignore[union-attr]
    for model_id in ("claude-haiku-4-5", "claude-opus-4-5", "claude-sonnet-4-5"):
        assert catalogue.get(model_id).thinking is Thinking.BUDGETED, model_id  # type: ignore[union-attr]
