"""Python libraries built on OpenAI's format through the ingress: LangChain's ChatOpenAI (with bind_tools) and LiteLLM
used as a client library (``openai/<model>`` with ``api_base``)."""

from __future__ import annotations

import pytest

from claudewire.testing import ToolCall
from tests.conftest import SIM_KEY
from tests.gateway.openai.conftest import WEATHER_TOOL, ingress


def test_langchain_chat_openai_invokes_streams_and_binds_tools() -> None:
    """ChatOpenAI at <gateway>/v1: invoke, stream, and a bound tool's call with its arguments."""
    langchain_openai = pytest.importorskip("langchain_openai", reason="pip install langchain-openai (test extra)")
    replies = ["langchain says hi", "streamed by langchain", ToolCall("get_weather", {"city": "Rome"})]
    with ingress(replies=replies) as (_, gw):
        model = langchain_openai.ChatOpenAI(
            model="cw-haiku", base_url=gw.base_url + "/v1", api_key=SIM_KEY, max_retries=0
        )
        said = model.invoke("hello")
        streamed = "".join(str(chunk.content) for chunk in model.stream("hello"))
        called = model.bind_tools([WEATHER_TOOL]).invoke("weather in Rome?")
    assert said.content == "langchain says hi"
    assert streamed == "streamed by langchain"
    assert [(c["name"], c["args"]) for c in called.tool_calls] == [("get_weather", {"city": "Rome"})]
    assert called.tool_calls[0]["id"].startswith("toolu_")


def test_litellm_as_a_client_library(monkeypatch: pytest.MonkeyPatch) -> None:
    """litellm.completion(model="openai/cw-haiku", api_base=<gateway>/v1): plain, streamed and a tool call."""
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network fetch of its price list at import
    litellm = pytest.importorskip("litellm", reason="LiteLLM is heavy and optional: pip install litellm")
    replies = ["litellm says hi", "streamed by litellm", ToolCall("get_weather", {"city": "Lima"})]
    with ingress(replies=replies) as (_, gw):
        common = {"model": "openai/cw-haiku", "api_base": gw.base_url + "/v1", "api_key": SIM_KEY}
        said = litellm.completion(messages=[{"role": "user", "content": "hello"}], **common)
        parts = litellm.completion(messages=[{"role": "user", "content": "hello"}], stream=True, **common)
        streamed = "".join(p.choices[0].delta.content or "" for p in parts if p.choices)
        called = litellm.completion(
            messages=[{"role": "user", "content": "weather in Lima?"}], tools=[WEATHER_TOOL], **common
        )
    assert said.choices[0].message.content == "litellm says hi"
    assert streamed == "streamed by litellm"
    call = called.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather" and call.function.arguments == '{"city":"Lima"}'
