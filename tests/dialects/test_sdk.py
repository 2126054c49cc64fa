"""The official openai Python SDK (and the anthropic one for /v1/models) reading what the translators write.

Each client gets an ``http_client`` whose transport (the SDK's own injection point, no patching) hands the request
body to the translators, plays a canned Messages answer or stream through them, and returns their bytes. So each
test drives the real client end to end: its request encoding, its response and stream parsing, its stream helpers
that accumulate tool calls and Response snapshots, and its error classes. The gateway wiring (routes, auth, the call
flow) is tested apart, against the simulator.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import anthropic
import httpx2
import openai
import pytest

from claudewire.dialects import (
    ChatStream,
    DialectError,
    ResponsesStream,
    chat_answer,
    chat_request,
    dialect_error,
    from_anthropic,
    models_list,
    responses_answer,
    responses_request,
)
from tests.dialects.upstream import Event, answer, message, sse, target, text_block, thinking_block, tool_block

Upstream = Callable[[dict[str, Any]], list[Event] | dict[str, Any] | tuple[int, dict[str, Any]]]
"""Given the translated Messages body: a stream's events, a JSON answer, or an error (status, body)."""

UPSTREAM_MODELS = {
    "data": [
        {
            "type": "model",
            "id": "claude-sonnet-4-5",
            "display_name": "Claude Sonnet 4.5",
            "created_at": "2025-09-29T00:00:00Z",
        }
    ],
    "has_more": False,
    "first_id": "claude-sonnet-4-5",
    "last_id": "claude-sonnet-4-5",
}


def handler(upstream: Upstream, seen: list[dict[str, Any]]) -> Callable[[httpx2.Request], httpx2.Response]:
    """A transport handler that translates like the gateway will; `seen` collects the Messages bodies sent."""

    def handle(request: httpx2.Request) -> httpx2.Response:
        path = request.url.path
        if path.endswith("/models"):
            return httpx2.Response(200, json=models_list(UPSTREAM_MODELS, {"cw-sonnet": "claude-sonnet-4-5"}))
        body = json.loads(request.content)
        chat = path.endswith("/chat/completions")
        try:
            translated = (chat_request if chat else responses_request)(body, target())
        except DialectError as exc:
            error = dialect_error(exc)
            return httpx2.Response(error.status, content=error.body())
        seen.append(translated.body)
        result = upstream(translated.body)
        if isinstance(result, tuple):
            error = from_anthropic(*result)
            return httpx2.Response(error.status, content=error.body())
        model, created = translated.reply_model, 1700000000
        if isinstance(result, dict):
            raw = json.dumps(result).encode()
            if chat:
                out = chat_answer(raw, model=model, created=created)
            else:
                out = responses_answer(raw, model=model, created=created, echo=translated.echo)
            return httpx2.Response(200, content=out, headers={"content-type": "application/json"})
        stream: ChatStream | ResponsesStream
        if chat:
            stream = ChatStream(model=model, created=created, include_usage=translated.include_usage)
        else:
            stream = ResponsesStream(model=model, created=created, echo=translated.echo)
        out = stream.feed(sse(result)) + stream.close()
        return httpx2.Response(200, content=out, headers={"content-type": "text/event-stream"})

    return handle


def client(upstream: Upstream, seen: list[dict[str, Any]] | None = None) -> openai.OpenAI:
    """An openai client whose requests go through the translators."""
    transport = httpx2.MockTransport(handler(upstream, [] if seen is None else seen))
    return openai.OpenAI(
        api_key="sk-test",
        base_url="http://gateway.test/v1",
        max_retries=0,
        http_client=httpx2.Client(transport=transport),
    )


HELLO = [{"role": "user", "content": "hi"}]
TOOLS = [
    {"type": "function", "function": {"name": "get", "parameters": {"type": "object", "properties": {"c": {}}}}},
    {"type": "function", "function": {"name": "now", "parameters": {"type": "object"}}},
]


def test_chat_create_plain() -> None:
    """chat.completions.create reads a translated answer: content, finish_reason, usage."""
    done = client(lambda _: message({"type": "text", "text": "Hello"})).chat.completions.create(
        model="cw-sonnet", messages=HELLO
    )
    assert done.choices[0].message.content == "Hello" and done.choices[0].finish_reason == "stop"
    assert done.model == "cw-sonnet" and done.usage is not None and done.usage.total_tokens == 30


def test_chat_stream_with_usage() -> None:
    """A streamed chat call iterates the chunks; the last one carries the usage, after every choice chunk."""
    chunks = list(
        client(lambda _: answer(text_block(0, "Hel", "lo"), cache_read_input_tokens=5)).chat.completions.create(
            model="cw-sonnet", messages=HELLO, stream=True, stream_options={"include_usage": True}
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens_details is not None
    assert chunks[-1].usage.prompt_tokens_details.cached_tokens == 5


def test_chat_stream_helper_accumulates_several_tool_calls() -> None:
    """The SDK's stream helper accumulates every streamed tool call into the final completion."""
    events = answer(
        text_block(0, "Checking both."),
        tool_block(1, "toolu_a", "get", '{"c":', '"Oslo"}'),
        tool_block(2, "toolu_b", "now"),
        stop_reason="tool_use",
    )
    with client(lambda _: events).chat.completions.stream(model="cw-sonnet", messages=HELLO, tools=TOOLS) as stream:
        final = stream.get_final_completion()
    calls = final.choices[0].message.tool_calls or []
    dumped = [c.model_dump() for c in calls]
    assert [(c["id"], c["function"]["name"], c["function"]["arguments"]) for c in dumped] == [
        ("toolu_a", "get", '{"c":"Oslo"}'),
        ("toolu_b", "now", "{}"),
    ]
    assert final.choices[0].message.content == "Checking both." and final.choices[0].finish_reason == "tool_calls"


def test_chat_tool_round_trip_keeps_ids() -> None:
    """A tool call answered and sent back reaches the upstream as tool_use/tool_result with the same id."""
    seen: list[dict[str, Any]] = []
    replies = iter(
        [
            message({"type": "tool_use", "id": "toolu_01X", "name": "get", "input": {"c": 1}}, stop_reason="tool_use"),
            message({"type": "text", "text": "Done."}),
        ]
    )
    api = client(lambda _: next(replies), seen)
    first = api.chat.completions.create(model="cw-sonnet", messages=HELLO, tools=TOOLS)
    call = (first.choices[0].message.tool_calls or [])[0]
    history = [*HELLO, first.choices[0].message.model_dump(exclude_none=True)]
    history.append({"role": "tool", "tool_call_id": call.id, "content": "cold"})
    second = api.chat.completions.create(model="cw-sonnet", messages=history, tools=TOOLS)  # type: ignore[arg-type]
    assert second.choices[0].message.content == "Done."
    assert seen[1]["messages"][1]["content"][0]["id"] == "toolu_01X"
    assert seen[1]["messages"][2]["content"][0]["tool_use_id"] == "toolu_01X"


def test_chat_image_part_reaches_the_upstream_as_an_image_block() -> None:
    """An image_url part sent by the SDK arrives upstream as an image block."""
    seen: list[dict[str, Any]] = []
    part = {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
    client(lambda _: message({"type": "text", "text": "a cat"}), seen).chat.completions.create(
        model="cw-sonnet", messages=[{"role": "user", "content": [{"type": "text", "text": "what?"}, part]}]
    )
    assert seen[0]["messages"][0]["content"][1] == {
        "type": "image",
        "source": {"type": "url", "url": "https://example.com/a.png"},
    }


def test_chat_mid_stream_error_raises_api_error() -> None:
    """An upstream error mid-stream surfaces as openai.APIError carrying the Anthropic type and message."""
    error: Event = ("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    stream = client(lambda _: [*answer(text_block(0, "par"))[:3], error]).chat.completions.create(
        model="cw-sonnet", messages=HELLO, stream=True
    )
    with pytest.raises(openai.APIError) as caught:
        list(stream)
    assert caught.value.message == "Overloaded"
    assert isinstance(caught.value.body, dict) and caught.value.body["type"] == "overloaded_error"


@pytest.mark.parametrize(
    ("status", "kind", "error_class"),
    [
        (400, "invalid_request_error", openai.BadRequestError),
        (401, "authentication_error", openai.AuthenticationError),
        (403, "permission_error", openai.PermissionDeniedError),
        (404, "not_found_error", openai.NotFoundError),
        (429, "rate_limit_error", openai.RateLimitError),
        (500, "api_error", openai.InternalServerError),
        (529, "overloaded_error", openai.InternalServerError),
    ],
)
def test_upstream_errors_raise_the_sdk_error_class(status: int, kind: str, error_class: type[Exception]) -> None:
    """An upstream error raises the SDK's class for its status, keeping the Anthropic type and message."""
    body = {"type": "error", "error": {"type": kind, "message": f"upstream says {kind}"}}
    with pytest.raises(error_class) as caught:
        client(lambda _: (status, body)).chat.completions.create(model="cw-sonnet", messages=HELLO)
    error = caught.value
    assert isinstance(error, openai.APIStatusError) and error.status_code == status
    assert error.type == kind and f"upstream says {kind}" in error.message


def test_refused_body_raises_bad_request_naming_the_param() -> None:
    """A body the translator refuses (n=2) raises BadRequestError with the param named."""
    with pytest.raises(openai.BadRequestError) as caught:
        client(lambda _: message()).chat.completions.create(model="cw-sonnet", messages=HELLO, n=2)
    assert caught.value.param == "n" and caught.value.type == "invalid_request_error"


def test_responses_create_with_function_call() -> None:
    """responses.create reads text and function calls from a translated Response."""
    done = client(
        lambda _: message(
            {"type": "text", "text": "Let me look."},
            {"type": "tool_use", "id": "toolu_01X", "name": "get", "input": {"c": "Oslo"}},
            stop_reason="tool_use",
        )
    ).responses.create(
        model="cw-sonnet", input="weather?", tools=[{"type": "function", "name": "get", "parameters": {}}]
    )
    assert done.output_text == "Let me look."
    call = done.output[1]
    assert call.type == "function_call" and call.call_id == "toolu_01X" and json.loads(call.arguments) == {"c": "Oslo"}


def test_responses_stream_helper_builds_the_final_response() -> None:
    """The SDK's responses.stream helper accepts the event sequence and builds the final Response from it."""
    events = answer(
        thinking_block(0, "plan"),
        text_block(1, "On it."),
        tool_block(2, "toolu_a", "get", '{"c":1}'),
        tool_block(3, "toolu_b", "get", "{}"),
        stop_reason="tool_use",
    )
    with client(lambda _: events).responses.stream(model="cw-sonnet", input="go") as stream:
        texts = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert texts == ["On it."] and final.output_text == "On it."
    assert [o.type for o in final.output] == ["reasoning", "message", "function_call", "function_call"]
    assert [(o.call_id, o.arguments) for o in final.output[2:]] == [("toolu_a", '{"c":1}'), ("toolu_b", "{}")]  # type: ignore[union-attr]
    assert final.usage is not None and final.usage.output_tokens == 20


def test_responses_function_call_round_trip_keeps_call_id() -> None:
    """A function call sent back with its output reaches the upstream with the same call id."""
    seen: list[dict[str, Any]] = []
    replies = iter(
        [
            message({"type": "tool_use", "id": "toolu_01X", "name": "get", "input": {}}, stop_reason="tool_use"),
            message({"type": "text", "text": "Cold."}),
        ]
    )
    api = client(lambda _: next(replies), seen)
    first = api.responses.create(model="cw-sonnet", input="weather?")
    call = first.output[0]
    assert call.type == "function_call"
    items = [{"role": "user", "content": "weather?"}, call.model_dump(exclude_none=True)]
    items.append({"type": "function_call_output", "call_id": call.call_id, "output": "cold"})
    assert api.responses.create(model="cw-sonnet", input=items).output_text == "Cold."  # type: ignore[arg-type]
    assert seen[1]["messages"][2]["content"][0]["tool_use_id"] == "toolu_01X"


def test_responses_previous_response_id_is_a_bad_request() -> None:
    """previous_response_id raises BadRequestError: the gateway keeps no responses."""
    with pytest.raises(openai.BadRequestError, match="keeps no responses"):
        client(lambda _: message()).responses.create(model="cw-sonnet", input="hi", previous_response_id="resp_1")


def test_models_list_read_by_both_sdks() -> None:
    """The models body is read by the openai SDK's models.list and by the anthropic SDK's models.list."""
    transport = httpx2.MockTransport(handler(lambda _: message(), []))
    ids = [m.id for m in client(lambda _: message()).models.list()]
    assert ids == ["cw-sonnet", "claude-sonnet-4-5"]
    claude = anthropic.Anthropic(
        api_key="sk-ant-test", base_url="http://gateway.test", http_client=httpx2.Client(transport=transport)
    )
    infos = list(claude.models.list())
    assert [(m.id, m.display_name) for m in infos] == [
        ("cw-sonnet", "Claude Sonnet 4.5"),
        ("claude-sonnet-4-5", "Claude Sonnet 4.5"),
    ]


def test_async_client_streams_chat() -> None:
    """The async client streams a translated chat answer too."""

    async def main() -> str:
        transport = httpx2.MockTransport(handler(lambda _: answer(text_block(0, "a", "b")), []))
        api = openai.AsyncOpenAI(
            api_key="sk-test", base_url="http://gateway.test/v1", http_client=httpx2.AsyncClient(transport=transport)
        )
        stream = await api.chat.completions.create(model="cw-sonnet", messages=HELLO, stream=True)
        return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

    assert asyncio.run(main()) == "ab"
