"""An OpenAI client served by a cloud upstream (Bedrock): translated twice, once per side, on the same call flow."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from claudewire.gateway import GatewayConfig, GatewayThread
from claudewire.gateway.openai.settings import OpenAISettings
from claudewire.gateway.upstream.specs import upstreams_from_list
from claudewire.sim import SimServer
from claudewire.testing import FastClock, run_sim
from tests.gateway.conftest import ROOMY
from tests.gateway.openai.conftest import client

pytest.importorskip("botocore", reason="the bedrock kind needs botocore: pip install 'claudewire[bedrock]'")

AKID, SECRET = "AKIDEXAMPLEOPENAI000", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
HELLO: list[Any] = [{"role": "user", "content": "hello"}]


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Static AWS credentials for the standard chain, and no profile or metadata lookups."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", AKID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@contextlib.contextmanager
def bedrock(**sim: Any) -> Iterator[tuple[SimServer, GatewayThread]]:
    """A Bedrock simulator (SigV4 checked) as the gateway's only upstream, with a model_map entry."""
    with run_sim(api="bedrock", seed=0, aws_access_key_id=AKID, aws_secret_access_key=SECRET, **sim) as server:
        table = {
            "name": "bedrock",
            "kind": "bedrock",
            "url": server.base_url,
            "region": "us-east-1",
            "model_map": {"claude-haiku-4-5": "us.anthropic.claude-haiku-4-5-20251001-v1:0"},
        }
        config = GatewayConfig(
            upstreams=upstreams_from_list([table]),
            port=0,
            policy=ROOMY,
            access_log=None,
            openai=OpenAISettings(models={"cw-haiku": "claude-haiku-4-5"}),
        )
        with GatewayThread(config, clock=FastClock()) as gw:
            yield server, gw


def test_chat_plain_and_streamed_through_bedrock() -> None:
    """The OpenAI SDK gets chat answers (JSON and SSE) from a Bedrock upstream, through the model_map."""
    with bedrock(replies=["From Bedrock.", "Streamed from Bedrock."]) as (server, gw):
        api = client(gw)
        plain = api.chat.completions.create(model="cw-haiku", messages=HELLO)
        parts = [
            c.choices[0].delta.content or ""
            for c in api.chat.completions.create(model="cw-haiku", messages=HELLO, stream=True)
            if c.choices
        ]
        paths = [r.path for r in server.requests]
    assert plain.choices[0].message.content == "From Bedrock."
    assert "".join(parts) == "Streamed from Bedrock."
    assert any("us.anthropic.claude-haiku-4-5-20251001-v1:0" in p for p in paths)


def test_models_list_without_an_upstream_that_lists_comes_from_the_catalogue() -> None:
    """Only a cloud upstream: the list is the catalogue's, with the model_map names under their Anthropic names."""
    with bedrock() as (server, gw):
        ids = [m.id for m in client(gw).models.list()]
        assert server.stats.total == 0  # asked of nobody
    assert ids[:2] == ["cw-haiku", "cw-haiku-thinking"]
    assert "claude-haiku-4-5-20251001" in ids and "claude-sonnet-5-5" in ids
    assert not any(i.startswith("us.") for i in ids)
