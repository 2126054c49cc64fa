"""Messages answer -> chat.completion, every result parsed by the openai SDK's own ChatCompletion model."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openai.types.chat import ChatCompletion

from claudewire.dialects import DialectError, chat_answer, chat_completion, chat_request
from tests.dialects.upstream import message, target


def complete(answer: dict[str, Any]) -> ChatCompletion:
    """Translate and parse with the SDK's model (strict pydantic validation)."""
    return ChatCompletion.model_validate(chat_completion(answer, model="cw-sonnet", created=1700000000))


def test_text_blocks_join_into_content() -> None:
    """Text blocks join into message.content; id, model and created are set."""
    done = complete(message({"type": "text", "text": "Hello "}, {"type": "text", "text": "world"}))
    assert done.choices[0].message.content == "Hello world"
    assert (done.id, done.model, done.created, done.object) == ("msg_01abc", "cw-sonnet", 1700000000, "chat.completion")


def test_tool_use_becomes_tool_calls_with_same_id_and_json_arguments() -> None:
    """tool_use blocks become tool_calls: the block id is the call id, the input the arguments JSON."""
    done = complete(
        message(
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_01X", "name": "get", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "toolu_01Y", "name": "now", "input": {}},
            stop_reason="tool_use",
        )
    )
    reply = done.choices[0].message
    assert reply.content == "Checking."
    assert reply.tool_calls is not None
    dumped = [c.model_dump() for c in reply.tool_calls]
    assert [(c["id"], c["function"]["name"], json.loads(c["function"]["arguments"])) for c in dumped] == [
        ("toolu_01X", "get", {"city": "Paris"}),
        ("toolu_01Y", "now", {}),
    ]
    assert done.choices[0].finish_reason == "tool_calls"


def test_content_is_null_beside_tool_calls_without_text() -> None:
    """An answer of tool calls only has content null, as OpenAI writes it."""
    done = complete(message({"type": "tool_use", "id": "t", "name": "f", "input": {}}, stop_reason="tool_use"))
    assert done.choices[0].message.content is None


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("something_new", "stop"),
        (None, "stop"),
    ],
)
def test_stop_reasons_map_and_unknown_is_stop(stop_reason: Any, finish: str) -> None:
    """Each stop reason maps to its finish_reason; an unknown or missing one is stop, never an error."""
    assert complete(message({"type": "text", "text": "x"}, stop_reason=stop_reason)).choices[0].finish_reason == finish


def test_usage_counts_cache_in_prompt_tokens_and_reports_cached_tokens() -> None:
    """prompt_tokens = input + cache read + cache creation; cached_tokens = cache read; creation kept as extension."""
    done = complete(
        message(
            {"type": "text", "text": "x"},
            input_tokens=7,
            output_tokens=11,
            cache_read_input_tokens=1000,
            cache_creation_input_tokens=200,
        )
    )
    usage = done.usage
    assert usage is not None and usage.prompt_tokens_details is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (1207, 11, 1218)
    assert usage.prompt_tokens_details.cached_tokens == 1000
    assert usage.prompt_tokens_details.cache_write_tokens == 200
    extra = usage.model_dump()
    assert extra["cache_creation_input_tokens"] == 200 and extra["cache_read_input_tokens"] == 1000


def test_reasoning_tokens_reported_when_known() -> None:
    """Thinking tokens, when the upstream counts them, are completion_tokens_details.reasoning_tokens."""
    answer = message({"type": "text", "text": "x"})
    answer["usage"]["output_tokens_details"] = {"thinking_tokens": 9}
    usage = complete(answer).usage
    assert usage is not None and usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 9


def test_thinking_becomes_reasoning_content_and_signed_blocks() -> None:
    """Thinking text is reasoning_content; the signed blocks ride along as thinking_blocks."""
    done = complete(
        message(
            {"type": "thinking", "thinking": "Let me think.", "signature": "EqQB"},
            {"type": "redacted_thinking", "data": "opaque"},
            {"type": "text", "text": "42"},
        )
    )
    extra = done.choices[0].message.model_dump()
    assert extra["reasoning_content"] == "Let me think."
    assert extra["thinking_blocks"] == [
        {"type": "thinking", "thinking": "Let me think.", "signature": "EqQB"},
        {"type": "redacted_thinking", "data": "opaque"},
    ]
    assert done.choices[0].message.content == "42"


def test_answer_replayed_by_the_caller_keeps_ids_and_signed_thinking() -> None:
    """A caller sending the answer's message back (plus the tool result) gets the same ids and signed thinking."""
    done = complete(
        message(
            {"type": "thinking", "thinking": "hmm", "signature": "EqQB"},
            {"type": "tool_use", "id": "toolu_01X", "name": "get", "input": {"q": 1}},
            stop_reason="tool_use",
        )
    )
    replayed = done.choices[0].message.model_dump(exclude_none=True)
    body = {
        "model": "x",
        "messages": [
            {"role": "user", "content": "go"},
            replayed,
            {"role": "tool", "tool_call_id": "toolu_01X", "content": "1"},
        ],
    }
    turns = chat_request(body, target()).body["messages"]
    assert turns[1]["content"] == [
        {"type": "thinking", "thinking": "hmm", "signature": "EqQB"},
        {"type": "tool_use", "id": "toolu_01X", "name": "get", "input": {"q": 1}},
    ]
    assert turns[2]["content"][0]["tool_use_id"] == "toolu_01X"


def test_refusal_sets_refusal_text() -> None:
    """A refusal stop sets message.refusal as well as finish_reason content_filter."""
    done = complete(message({"type": "text", "text": "I can't help with that."}, stop_reason="refusal"))
    assert done.choices[0].message.refusal == "I can't help with that."


def test_chat_answer_from_bytes_and_a_non_json_body_is_a_502() -> None:
    """chat_answer reads the upstream's bytes; a body that is not JSON is a 502 api_error."""
    raw = chat_answer(json.dumps(message({"type": "text", "text": "hi"})).encode(), model="m", created=1)
    assert ChatCompletion.model_validate_json(raw).choices[0].message.content == "hi"
    with pytest.raises(DialectError) as caught:
        chat_answer(b"<html>", model="m", created=1)
    assert caught.value.status == 502 and caught.value.error_type == "api_error"
