"""The official `openai` Python SDK against the gateway's OpenAI ingress, the simulator behind it."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import openai

from claudewire.testing import ToolCall
from tests.conftest import SIM_KEY
from tests.gateway.openai.conftest import WEATHER_TOOL, client, ingress, tapped

HELLO: list[Any] = [{"role": "user", "content": "hello"}]
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
    )
).decode()


def test_chat_plain_answer_reaches_the_sdk_with_the_alias_echoed() -> None:
    """chat.completions.create through the gateway: the simulator's text, finish_reason stop, usage, the alias."""
    with tapped(replies=["Bonjour tout le monde."]) as (tap, gw):
        answer = client(gw).chat.completions.create(model="cw-haiku", messages=HELLO)
        sent = tap.sim.requests[-1]
    assert answer.choices[0].message.content == "Bonjour tout le monde."
    assert answer.choices[0].finish_reason == "stop"
    assert answer.model == "cw-haiku"
    assert answer.usage is not None and answer.usage.completion_tokens > 0 and answer.usage.prompt_tokens > 0
    assert sent.path == "/v1/messages" and tap.bodies[-1]["model"] == "claude-haiku-4-5"
    assert sent.api_key == SIM_KEY  # the bearer went upstream as x-api-key


def test_chat_stream_with_usage_ends_with_one_usage_chunk() -> None:
    """A streamed chat with include_usage: text deltas, finish_reason on the last choice chunk, then the usage."""
    with ingress(replies=["one two three four"]) as (_, gw):
        chunks = list(
            client(gw).chat.completions.create(
                model="claude-haiku-4-5", messages=HELLO, stream=True, stream_options={"include_usage": True}
            )
        )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.split() == ["one", "two", "three", "four"]
    assert chunks[0].choices[0].delta.role == "assistant"
    finishing = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishing == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    assert all(c.usage is None for c in chunks[:-1])


def test_tools_streamed_and_round_tripped() -> None:
    """A streamed tool call arrives with its id and name then its arguments; its result sent back gets the answer."""
    with tapped(replies=[ToolCall("get_weather", {"city": "Paris"}), "Sunny in Paris."]) as (tap, gw):
        api = client(gw)
        stream = api.chat.completions.create(model="cw-haiku", messages=HELLO, tools=[WEATHER_TOOL], stream=True)
        calls: dict[int, dict[str, str]] = {}
        finish = None
        for chunk in stream:
            for choice in chunk.choices:
                finish = choice.finish_reason or finish
                for delta in choice.delta.tool_calls or ():
                    call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
                    call["id"] += delta.id or ""
                    call["name"] += (delta.function.name or "") if delta.function else ""
                    call["arguments"] += (delta.function.arguments or "") if delta.function else ""
        assert finish == "tool_calls" and list(calls) == [0]
        call = calls[0]
        assert call["name"] == "get_weather" and json.loads(call["arguments"]) == {"city": "Paris"}
        follow: list[Any] = [
            *HELLO,
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": call["id"], "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
                ],
            },
            {"role": "tool", "tool_call_id": call["id"], "content": "18C and sunny"},
        ]
        answer = api.chat.completions.create(model="cw-haiku", messages=follow, tools=[WEATHER_TOOL])
        sent = tap.bodies[-1]
    assert answer.choices[0].message.content == "Sunny in Paris."
    assert sent["messages"][1]["content"][0] == {
        "type": "tool_use",
        "id": call["id"],
        "name": "get_weather",
        "input": {},
    }
    assert sent["messages"][2]["content"][0]["tool_use_id"] == call["id"]  # the id came back unchanged


def test_images_reach_the_upstream_as_base64_image_blocks() -> None:
    """A data-URI image_url part becomes a base64 image block with its media type."""
    image = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}
    messages: list[Any] = [{"role": "user", "content": [{"type": "text", "text": "what is this?"}, image]}]
    with tapped() as (tap, gw):
        answer = client(gw).chat.completions.create(model="cw-haiku", messages=messages)
        sent = tap.bodies[-1]
    assert answer.choices[0].message.content
    block = sent["messages"][0]["content"][1]
    assert block == {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}


def test_async_client_chat_and_stream() -> None:
    """The async client: a plain call and a stream, through the same ingress."""

    async def run(base_url: str) -> tuple[str, str]:
        api = openai.AsyncOpenAI(base_url=base_url, api_key=SIM_KEY, max_retries=0)
        plain = await api.chat.completions.create(model="cw-haiku", messages=HELLO)
        parts = [
            c.choices[0].delta.content or ""
            async for c in await api.chat.completions.create(model="cw-haiku", messages=HELLO, stream=True)
            if c.choices
        ]
        await api.close()
        return plain.choices[0].message.content or "", "".join(parts)

    with ingress(replies=["first answer", "second answer"]) as (_, gw):
        plain, streamed = asyncio.run(run(gw.base_url + "/v1"))
    assert (plain, streamed) == ("first answer", "second answer")


def test_responses_plain_streamed_and_function_calls() -> None:
    """responses.create plain and streamed, and a function call with its call_id, through the ingress."""
    replies = ["A plain answer.", "A streamed answer.", ToolCall("get_weather", {"city": "Oslo"})]
    tool = {
        "type": "function",
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
    with ingress(replies=replies) as (_, gw):
        api = client(gw)
        plain = api.responses.create(model="cw-haiku", input="hello", instructions="Be brief.")
        with api.responses.stream(model="cw-haiku", input="hello") as stream:
            kinds = [event.type for event in stream]
            streamed = stream.get_final_response()
        called = api.responses.create(model="cw-haiku", input="weather in Oslo?", tools=[tool])  # type: ignore[list-item]
    assert plain.output_text == "A plain answer." and plain.usage is not None and plain.usage.output_tokens > 0
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert "response.output_text.delta" in kinds
    assert streamed.output_text == "A streamed answer."
    call = called.output[0]
    assert (
        call.type == "function_call" and call.name == "get_weather" and json.loads(call.arguments) == {"city": "Oslo"}
    )
    assert call.call_id.startswith("toolu_")


def test_models_list_shows_aliases_first_then_claude_ids() -> None:
    """models.list: the advertised names (with -thinking where the model thinks) first, then the simulator's ids."""
    with ingress() as (_, gw):
        ids = [m.id for m in client(gw).models.list()]
    assert ids[:2] == ["cw-haiku", "cw-haiku-thinking"]
    assert "cw-opus-fast" in ids and "claude-haiku-4-5-20251001" in ids


def test_thinking_suffix_turns_thinking_on_for_the_same_model() -> None:
    """cw-sonnet-thinking goes to claude-sonnet-5-5 with adaptive thinking; the reasoning effort maps to effort."""
    with tapped() as (tap, gw):
        client(gw).chat.completions.create(model="cw-sonnet-thinking", messages=HELLO)
        client(gw).chat.completions.create(model="cw-sonnet", messages=HELLO, reasoning_effort="minimal")
        first, second = tap.bodies[-2:]
    assert first["model"] == "claude-sonnet-5-5" and first["thinking"] == {"type": "adaptive"}
    assert second["thinking"] == {"type": "adaptive"} and second["output_config"]["effort"] == "low"
