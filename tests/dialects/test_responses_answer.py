"""Messages answer -> Responses ``Response``, each parsed by the openai SDK's own Response model."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openai.types.responses import Response

from claudewire.dialects import DialectError, response_object, responses_answer, responses_request
from tests.dialects.upstream import message, target

ECHO = {"tools": [{"type": "function", "name": "get", "parameters": {"type": "object"}}], "tool_choice": "auto"}


def respond(answer: dict[str, Any], echo: dict[str, Any] | None = None) -> Response:
    """Translate and parse with the SDK's model (strict pydantic validation)."""
    return Response.model_validate(response_object(answer, model="cw-sonnet", created=1700000000, echo=echo or ECHO))


def test_text_becomes_a_message_item_with_output_text() -> None:
    """A text block becomes a message item holding one output_text; output_text reads it."""
    done = respond(message({"type": "text", "text": "Hello"}))
    assert done.output_text == "Hello" and done.status == "completed"
    assert done.id == "resp_01abc" and done.output[0].id == "msg_01abc_0"


def test_tool_use_becomes_function_call_with_call_id_name_arguments() -> None:
    """tool_use becomes a function_call item: call_id is the block id, arguments its input as JSON."""
    done = respond(
        message(
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_01X", "name": "get", "input": {"city": "Oslo"}},
            stop_reason="tool_use",
        )
    )
    call = done.output[1]
    assert call.type == "function_call"
    assert (call.call_id, call.name, json.loads(call.arguments), call.id) == (
        "toolu_01X",
        "get",
        {"city": "Oslo"},
        "fc_01abc_1",
    )


def test_thinking_becomes_reasoning_item_with_sealed_signature() -> None:
    """Thinking becomes a reasoning item: its text as a summary, its signature in encrypted_content."""
    done = respond(
        message({"type": "thinking", "thinking": "plan", "signature": "EqQB"}, {"type": "text", "text": "x"})
    )
    item = done.output[0]
    assert item.type == "reasoning"
    assert [s.text for s in item.summary] == ["plan"] and item.encrypted_content == "EqQB"


def test_reasoning_item_sent_back_replays_signed_thinking() -> None:
    """The reasoning and function_call items sent back as input replay the signed thinking and the same id."""
    done = respond(
        message(
            {"type": "thinking", "thinking": "plan", "signature": "EqQB"},
            {"type": "tool_use", "id": "toolu_01X", "name": "get", "input": {}},
            stop_reason="tool_use",
        )
    )
    items = [item.model_dump(exclude_none=True) for item in done.output]
    body = {
        "model": "m",
        "input": [
            {"role": "user", "content": "go"},
            *items,
            {"type": "function_call_output", "call_id": "toolu_01X", "output": "1"},
        ],
    }
    turns = responses_request(body, target()).body["messages"]
    assert turns[1]["content"] == [
        {"type": "thinking", "thinking": "plan", "signature": "EqQB"},
        {"type": "tool_use", "id": "toolu_01X", "name": "get", "input": {}},
    ]


def test_usage_input_includes_cache_and_reports_cached_tokens() -> None:
    """input_tokens includes cached input; input_tokens_details.cached_tokens is the cache read."""
    usage = respond(
        message({"type": "text", "text": "x"}, cache_read_input_tokens=300, cache_creation_input_tokens=30)
    ).usage
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (340, 20, 360)
    assert usage.input_tokens_details.cached_tokens == 300 and usage.input_tokens_details.cache_write_tokens == 30


@pytest.mark.parametrize(
    ("stop_reason", "status", "reason"),
    [
        ("end_turn", "completed", None),
        ("tool_use", "completed", None),
        ("max_tokens", "incomplete", "max_output_tokens"),
        ("refusal", "incomplete", "content_filter"),
        ("brand_new", "completed", None),
    ],
)
def test_stop_reason_sets_status(stop_reason: str, status: str, reason: str | None) -> None:
    """The stop reason sets the status: a hit limit or a refusal is incomplete with its reason, the rest completed."""
    done = respond(message({"type": "text", "text": "x"}, stop_reason=stop_reason))
    assert done.status == status
    assert (done.incomplete_details.reason if done.incomplete_details else None) == reason


def test_request_fields_echoed() -> None:
    """tools, tool_choice and the request's instructions come back in the Response."""
    done = respond(
        message({"type": "text", "text": "x"}), {**ECHO, "instructions": "Be brief.", "max_output_tokens": 9}
    )
    assert done.instructions == "Be brief." and done.max_output_tokens == 9
    assert [t.name for t in done.tools] == ["get"]  # type: ignore[union-attr]


def test_answer_bytes_and_non_json_is_a_502() -> None:
    """responses_answer reads the upstream's bytes; a non-JSON body is a 502."""
    raw = responses_answer(json.dumps(message({"type": "text", "text": "hi"})).encode(), model="m", created=1)
    assert Response.model_validate_json(raw).output_text == "hi"
    with pytest.raises(DialectError) as caught:
        responses_answer(b"nope", model="m", created=1)
    assert caught.value.status == 502
