"""Responses request -> Messages request: one test per rule, each body checked by the simulator's API rules."""

from __future__ import annotations

from typing import Any

import pytest

from claudewire.dialects import DialectError, MessagesRequest, responses_request
from claudewire.sim.validation import check_body
from tests.dialects.upstream import ADAPTIVE, BUDGET, target


def translate(body: dict[str, Any], **kw: Any) -> MessagesRequest:
    """Translate with the default target and check the result is a body the API takes."""
    traits = kw.pop("traits", BUDGET)
    request = responses_request({"model": "cw-sonnet", **body}, target(traits, **kw))
    check_body(request.body, request.body["max_tokens"])
    return request


def test_string_input_is_one_user_message() -> None:
    """A string input becomes one user message."""
    assert translate({"input": "hi"}).body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "hi"}]}
    ]


def test_message_items_with_input_and_output_text() -> None:
    """Message items (input_text, output_text parts, or a plain string) become user and assistant turns."""
    body = translate(
        {
            "input": [
                {"role": "user", "content": [{"type": "input_text", "text": "q1"}]},
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "a1"}]},
                {"role": "user", "content": "q2"},
            ]
        }
    ).body
    assert [(m["role"], m["content"][0]["text"]) for m in body["messages"]] == [
        ("user", "q1"),
        ("assistant", "a1"),
        ("user", "q2"),
    ]


def test_instructions_and_system_messages_become_system() -> None:
    """instructions lead the system blocks, then system and developer messages in their order."""
    body = translate(
        {
            "instructions": "Be brief.",
            "input": [{"role": "developer", "content": "Use tools."}, {"role": "user", "content": "hi"}],
        }
    ).body
    assert body["system"] == [{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Use tools."}]


def test_input_image_and_file_become_image_and_document() -> None:
    """input_image (data URI or URL) and input_file (PDF data) become image and document blocks."""
    parts = [
        {"type": "input_image", "image_url": "https://example.com/a.jpg"},
        {"type": "input_image", "image_url": "data:image/jpeg;base64,/9j/"},
        {"type": "input_file", "filename": "r.pdf", "file_data": "data:application/pdf;base64,JVBERi0="},
    ]
    content = translate({"input": [{"role": "user", "content": parts}]}).body["messages"][0]["content"]
    assert [b["type"] for b in content] == ["image", "image", "document"]
    assert content[0]["source"] == {"type": "url", "url": "https://example.com/a.jpg"}
    assert content[1]["source"]["media_type"] == "image/jpeg"


def test_function_call_and_output_keep_the_call_id() -> None:
    """function_call -> tool_use and function_call_output -> tool_result, both keyed by the same call_id."""
    body = translate(
        {
            "input": [
                {"role": "user", "content": "weather?"},
                {"type": "function_call", "call_id": "toolu_01A", "name": "get", "arguments": '{"c":"Oslo"}'},
                {"type": "function_call", "call_id": "toolu_01B", "name": "get", "arguments": '{"c":"Rome"}'},
                {"type": "function_call_output", "call_id": "toolu_01A", "output": "cold"},
                {"type": "function_call_output", "call_id": "toolu_01B", "output": "warm"},
            ]
        }
    ).body
    assert body["messages"][1] == {
        "role": "assistant",
        "content": [
            {"type": "tool_use", "id": "toolu_01A", "name": "get", "input": {"c": "Oslo"}},
            {"type": "tool_use", "id": "toolu_01B", "name": "get", "input": {"c": "Rome"}},
        ],
    }
    results = body["messages"][2]["content"]
    assert [(r["tool_use_id"], r["content"][0]["text"]) for r in results] == [
        ("toolu_01A", "cold"),
        ("toolu_01B", "warm"),
    ]


def test_signed_reasoning_item_replays_as_thinking_and_unsigned_is_dropped() -> None:
    """A reasoning item with encrypted_content replays as the signed thinking block; one without it is dropped."""
    call = {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"}
    result = {"type": "function_call_output", "call_id": "c1", "output": "ok"}
    signed = {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [{"type": "summary_text", "text": "plan"}],
        "encrypted_content": "EqQBsig",
    }
    body = translate(
        {"input": [{"role": "user", "content": "go"}, signed, call, result], "reasoning": {"effort": "high"}},
        traits=ADAPTIVE,
    ).body
    assert body["messages"][1]["content"][0] == {"type": "thinking", "thinking": "plan", "signature": "EqQBsig"}
    assert body["thinking"] == {"type": "adaptive"}
    unsigned = {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "plan"}]}
    body = translate(
        {"input": [{"role": "user", "content": "go"}, unsigned, call, result], "reasoning": {"effort": "high"}},
        traits=ADAPTIVE,
    ).body
    assert body["messages"][1]["content"] == [{"type": "tool_use", "id": "c1", "name": "f", "input": {}}]
    assert "thinking" not in body


def test_redacted_reasoning_item_replays_as_redacted_thinking() -> None:
    """A reasoning item sealing redacted thinking replays as the redacted_thinking block."""
    item = {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "cw-redacted:opaque"}
    body = translate({"input": [{"role": "user", "content": "go"}, item, {"role": "assistant", "content": "x"}]}).body
    assert body["messages"][1]["content"][0] == {"type": "redacted_thinking", "data": "opaque"}


def test_max_output_tokens_becomes_max_tokens() -> None:
    """max_output_tokens becomes max_tokens."""
    assert translate({"input": "hi", "max_output_tokens": 777}).body["max_tokens"] == 777


def test_function_tools_and_tool_choice() -> None:
    """Flat function tools become Messages tools; tool_choice and parallel_tool_calls map as in chat."""
    body = translate(
        {
            "input": "hi",
            "tools": [{"type": "function", "name": "f", "description": "F", "parameters": {"type": "object"}}],
            "tool_choice": {"type": "function", "name": "f"},
            "parallel_tool_calls": False,
        }
    ).body
    assert body["tools"] == [{"name": "f", "input_schema": {"type": "object"}, "description": "F"}]
    assert body["tool_choice"] == {"type": "tool", "name": "f", "disable_parallel_tool_use": True}


def test_custom_tool_becomes_a_one_string_tool_and_its_call_replays() -> None:
    """A custom (free-form) tool becomes a tool taking one string, and a replayed custom_tool_call wraps its input."""
    tool = {"type": "custom", "name": "ApplyPatch", "format": {"type": "grammar", "syntax": "lark", "definition": "s"}}
    body = translate(
        {
            "input": [
                {"role": "user", "content": "patch it"},
                {"type": "custom_tool_call", "call_id": "c1", "name": "ApplyPatch", "input": "*** Begin"},
                {"type": "custom_tool_call_output", "call_id": "c1", "output": "done"},
            ],
            "tools": [tool],
        }
    ).body
    assert body["tools"][0]["input_schema"]["required"] == ["input"]
    assert "lark grammar" in body["tools"][0]["input_schema"]["properties"]["input"]["description"]
    assert body["messages"][1]["content"][0]["input"] == {"input": "*** Begin"}
    assert body["messages"][2]["content"][0]["tool_use_id"] == "c1"


def test_reasoning_effort_by_model_generation() -> None:
    """reasoning.effort is adaptive thinking with an effort on adaptive models and a budget on budget-only ones."""
    adaptive = translate({"input": "hi", "reasoning": {"effort": "medium"}}, traits=ADAPTIVE).body
    assert adaptive["thinking"] == {"type": "adaptive"} and adaptive["output_config"]["effort"] == "medium"
    budget = translate({"input": "hi", "reasoning": {"effort": "medium"}}).body
    assert budget["thinking"]["type"] == "enabled" and budget["thinking"]["budget_tokens"] < budget["max_tokens"]


def test_text_format_json_schema_becomes_output_config_format() -> None:
    """text.format json_schema (flat, as Responses writes it) becomes output_config.format."""
    schema = {"type": "object", "properties": {}, "additionalProperties": False}
    fmt = {"type": "json_schema", "name": "x", "schema": schema, "strict": True}
    body = translate({"input": "hi", "text": {"format": fmt}}).body
    assert body["output_config"]["format"] == {"type": "json_schema", "schema": schema}


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"previous_response_id": "resp_1"}, "previous_response_id"),
        ({"store": True}, "store"),
        ({"conversation": "c"}, "conversation"),
    ],
)
def test_stateful_fields_are_a_clear_400(extra: dict[str, Any], param: str) -> None:
    """previous_response_id, conversation and store: true are refused: the gateway keeps no responses."""
    with pytest.raises(DialectError) as caught:
        translate({"input": "hi", **extra})
    assert caught.value.param == param and "keeps no responses" in caught.value.message


def test_store_false_or_absent_is_fine() -> None:
    """store: false (Codex sends it) or no store at all is accepted."""
    assert translate({"input": "hi", "store": False}).body["messages"]
    assert translate({"input": "hi"}).body["messages"]


def test_reasoning_item_reference_dropped_other_references_refused() -> None:
    """An item_reference to a reasoning item is dropped; any other reference needs storage and is a 400."""
    body = translate({"input": [{"role": "user", "content": "a"}, {"type": "item_reference", "id": "rs_9"}]}).body
    assert len(body["messages"]) == 1
    with pytest.raises(DialectError, match="item references"):
        translate({"input": [{"type": "item_reference", "id": "msg_9"}]})


def test_unsupported_tool_and_item_types_are_400s() -> None:
    """Unknown tool types and unknown input items are refused, naming them."""
    with pytest.raises(DialectError) as caught:
        translate({"input": "hi", "tools": [{"type": "made_up_tool"}]})
    assert caught.value.param == "tools[0]"
    with pytest.raises(DialectError) as caught:
        translate({"input": [{"type": "computer_call", "call_id": "c"}]})
    assert caught.value.param == "input[0]"


def test_hosted_tools_are_left_out_and_namespaces_flattened() -> None:
    """Codex CLI's tools: web_search (run by OpenAI's servers) is left out, a namespace's tools are offered by name."""
    fn = {"type": "function", "name": "close_agent", "parameters": {"type": "object", "properties": {}}}
    tools = [
        {"type": "web_search", "external_web_access": True},
        {"type": "namespace", "name": "agents", "tools": [fn]},
    ]
    body = translate({"input": "hi", "tools": tools}).body
    assert [t["name"] for t in body["tools"]] == ["close_agent"]


def test_echo_holds_what_the_response_repeats() -> None:
    """The request's tools, tool_choice, instructions and limits are kept to be repeated in the Response."""
    tools = [{"type": "function", "name": "f", "parameters": {"type": "object"}}]
    request = translate({"input": "hi", "tools": tools, "instructions": "x", "max_output_tokens": 50})
    assert request.echo["tools"] == tools and request.echo["tool_choice"] == "auto"
    assert request.echo["instructions"] == "x" and request.echo["max_output_tokens"] == 50
    assert request.reply_model == "cw-sonnet" and request.body["model"] == "claude-sonnet-4-5"
