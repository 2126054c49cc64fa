"""``GET /v1/models`` and ``/cursor/models``: one handler, the list each SDK reads, of the models the caller may use."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx2
import openai
import pytest

from claudewire.gateway.downstream.clients import ClientSpec
from claudewire.gateway.openai.settings import OpenAISettings
from claudewire.gateway.upstream.specs import UpstreamSpec
from claudewire.testing import run_sim
from tests.conftest import SIM_KEY
from tests.gateway.openai.conftest import ALIASES, client, ingress
from tests.gateway.test_failover import pool_gateway

TOKEN = "cw-haiku-only-client-token-01"
BEARER = {"authorization": f"Bearer {SIM_KEY}"}


def test_the_anthropic_sdk_gets_the_anthropic_list_and_the_openai_sdk_the_openai_list() -> None:
    """Chosen by headers: the Anthropic SDK pages through Claude ids only; the OpenAI SDK gets aliases first."""
    with ingress() as (sim, gw):
        direct = [m.id for m in anthropic.Anthropic(base_url=sim.base_url, api_key=SIM_KEY).models.list()]
        via = anthropic.Anthropic(base_url=gw.base_url, api_key=SIM_KEY, max_retries=0)
        anthropic_ids = [m.id for m in via.models.list()]
        openai_ids = [m.id for m in client(gw).models.list()]
    assert anthropic_ids == direct  # paged by the SDK's own limit and after_id, every id once
    assert openai_ids[: len(ALIASES)] == ["cw-haiku", "cw-haiku-thinking", "cw-sonnet"]
    assert openai_ids[len(openai_ids) - len(direct) :] == direct


def test_the_openai_shaped_list_is_also_read_by_the_anthropic_sdk() -> None:
    """One body both SDKs accept: every entry of the OpenAI-shaped list is a valid Anthropic ModelInfo too."""
    with ingress() as (_, gw):
        body = httpx2.get(gw.base_url + "/v1/models", headers=BEARER).json()
    assert body["object"] == "list" and body["has_more"] is False
    for entry in body["data"]:
        info = anthropic.types.ModelInfo.model_validate(entry)
        assert info.id == entry["id"] and entry["object"] == "model" and entry["owned_by"] == "anthropic"
        openai.types.Model.model_validate(entry)


def test_limit_1000_as_claude_code_asks_returns_every_model_on_one_page() -> None:
    """?limit=1000 gives the whole list (has_more false); ?limit=2 pages with after_id like the API."""
    headers = {"x-api-key": SIM_KEY, "anthropic-version": "2023-06-01"}
    with ingress() as (_, gw):
        whole = httpx2.get(gw.base_url + "/v1/models?limit=1000", headers=headers).json()
        first = httpx2.get(gw.base_url + "/v1/models?limit=2", headers=headers).json()
        after = httpx2.get(gw.base_url + f"/v1/models?limit=2&after_id={first['last_id']}", headers=headers).json()
    ids = [m["id"] for m in whole["data"]]
    assert whole["has_more"] is False and len(ids) > 4 and "cw-haiku" not in ids
    assert [m["id"] for m in first["data"]] == ids[:2] and first["has_more"] is True
    assert [m["id"] for m in after["data"]] == ids[2:4]


def test_a_client_sees_only_the_models_it_may_use() -> None:
    """A [[clients]] entry limited to claude-haiku-4-5: both lists show only haiku and the aliases onto it."""
    spec = ClientSpec.from_mapping({"name": "haiku-only", "token": TOKEN, "models": ["claude-haiku-4-5"]}, {})
    overrides = {"clients": (spec,), "upstream_key": "sk-ant-api03-held-000000"}
    with ingress(gateway=overrides) as (_, gw):
        openai_ids = [m.id for m in client(gw, api_key=TOKEN).models.list()]
        anthropic_ids = [m.id for m in anthropic.Anthropic(base_url=gw.base_url, api_key=TOKEN).models.list()]
        refused = httpx2.get(gw.base_url + "/v1/models", headers={"authorization": "Bearer cw-wrong"})
    assert openai_ids == ["cw-haiku", "cw-haiku-thinking", "claude-haiku-4-5-20251001"]
    assert anthropic_ids == ["claude-haiku-4-5-20251001"]
    assert refused.status_code == 401 and refused.json()["error"]["type"] == "authentication_error"


def test_only_models_the_upstreams_serve_are_listed() -> None:
    """Every upstream lists its models: the list keeps those (by id or alias) and the aliases onto them."""
    settings = OpenAISettings(models={"cw-haiku": "claude-haiku-4-5", "cw-sonnet": "claude-sonnet-5-5"})
    with run_sim(seed=0) as sim:
        specs = (UpstreamSpec("a", sim.base_url, models=("claude-sonnet-5-5", "claude-haiku-4-5")),)
        with pool_gateway(*specs, openai=settings) as gw:
            ids = [m.id for m in client(gw).models.list()]
    assert ids == [
        "cw-haiku",
        "cw-haiku-thinking",
        "cw-sonnet",
        "cw-sonnet-thinking",
        "claude-sonnet-5-5",
        "claude-haiku-4-5-20251001",
    ]


def test_cursor_models_lists_only_the_advertised_names() -> None:
    """/cursor/models shows the aliases (never a built-in Claude name Cursor would route itself)."""
    with ingress() as (_, gw):
        body = httpx2.get(gw.base_url + "/cursor/models", headers=BEARER).json()
        bare = httpx2.get(gw.base_url + "/cursor/models", headers=BEARER)
    ids = [m["id"] for m in body["data"]]
    assert ids == [
        "cw-haiku",
        "cw-haiku-thinking",
        "cw-sonnet",
        "cw-sonnet-thinking",
        "cw-opus",
        "cw-opus-thinking",
        "cw-opus-fast",
    ]
    assert bare.status_code == 200


@pytest.mark.parametrize("path", ["/v1/models", "/cursor/models"])
def test_without_aliases_the_claude_ids_are_listed(path: str) -> None:
    """No [openai] models: both lists show the upstream's Claude ids."""
    with ingress(gateway={"openai": OpenAISettings()}) as (_, gw):
        ids: list[Any] = [m["id"] for m in httpx2.get(gw.base_url + path, headers=BEARER).json()["data"]]
    assert ids and all(i.startswith("claude-") for i in ids)


def test_a_model_list_error_is_read_by_both_sdks() -> None:
    """A wrong token on /v1/models without Anthropic headers: OpenAI's envelope that also says type: error."""
    spec = ClientSpec.from_mapping({"name": "haiku-only", "token": TOKEN}, {})
    with ingress(gateway={"clients": (spec,), "upstream_key": "sk-ant-api03-held-000000"}) as (_, gw):
        answer = httpx2.get(gw.base_url + "/v1/models", headers={"authorization": "Bearer cw-wrong"})
    body = answer.json()
    assert answer.status_code == 401 and body["type"] == "error"
    assert body["error"]["type"] == "authentication_error" and "param" in body["error"]
