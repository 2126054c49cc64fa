"""Chat Completions request -> Messages request: one test per translation rule of issue 20.

Every translated body is also run through the simulator's shape checks (`claudewire.sim.validation.check_body`, as
strict as the API), so a rule cannot pass by producing a body the API would refuse.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from claudewire.dialects import DEFAULT_MAX_TOKENS, DialectError, MessagesRequest, ModelTraits, chat_request
from claudewire.sim.validation import check_body
from tests.dialects.upstream import ADAPTIVE, BUDGET, target

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


def translate(body: dict[str, Any], **kw: Any) -> MessagesRequest:
    """Translate with the default target and check the result is a body the API takes."""
    traits = kw.pop("traits", BUDGET)
    request = chat_request({"model": "claude-sonnet-4-5", **body}, target(traits, **kw))
    check_body(request.body, request.body["max_tokens"])
    json.loads(request.encode())
    return request


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


HELLO = [user("hello")]


def test_system_and_developer_hoisted_in_order() -> None:
    """System and developer messages, wherever they stand, become the system blocks in their order."""
    body = translate(
        {
            "messages": [
                {"role": "system", "content": "first"},
                user("hi"),
                {"role": "developer", "content": [{"type": "text", "text": "second"}]},
                {"role": "assistant", "content": "yo"},
                user("again"),
            ]
        }
    ).body
    assert body["system"] == [{"type": "text", "text": "first"}, {"type": "text", "text": "second"}]
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]


def test_text_parts_become_text_blocks_and_empty_text_is_dropped() -> None:
    """Text parts become text blocks; an empty text part is left out (the API refuses empty text blocks)."""
    body = translate({"messages": [user([{"type": "text", "text": "a"}, {"type": "text", "text": ""}])]}).body
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "a"}]}]


def test_data_uri_image_becomes_base64_block_with_media_type() -> None:
    """An image_url data URI becomes a base64 image block carrying its media type."""
    part = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}", "detail": "high"}}
    block = translate({"messages": [user([part])]}).body["messages"][0]["content"][0]
    assert block == {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}


def test_http_image_becomes_url_block() -> None:
    """An http(s) image URL becomes a URL image block."""
    part = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
    block = translate({"messages": [user([part])]}).body["messages"][0]["content"][0]
    assert block == {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}}


def test_unsupported_image_type_is_a_400_naming_the_part() -> None:
    """A data URI of a type the API cannot read is refused, naming the part."""
    part = {"type": "image_url", "image_url": {"url": "data:image/tiff;base64,AAAA"}}
    with pytest.raises(DialectError) as caught:
        translate({"messages": [user([part])]})
    assert caught.value.param == "messages[0].content[0]" and "image/tiff" in caught.value.message


def test_pdf_file_becomes_document_block() -> None:
    """A file part with PDF data becomes a base64 document block titled with the file name."""
    part = {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "a.pdf"}}
    block = translate({"messages": [user([part])]}).body["messages"][0]["content"][0]
    assert block == {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="},
        "title": "a.pdf",
    }


def test_file_id_is_a_clear_400() -> None:
    """An uploaded file id (no data) is refused: the gateway has no file store."""
    with pytest.raises(DialectError, match="file ids are not supported"):
        translate({"messages": [user([{"type": "file", "file": {"file_id": "file-123"}}])]})


def test_cache_control_passed_through_on_parts_system_and_tools() -> None:
    """cache_control on content parts, system parts and tools is passed through unchanged."""
    ephemeral = {"type": "ephemeral", "ttl": "1h"}
    body = translate(
        {
            "messages": [
                {"role": "system", "content": [{"type": "text", "text": "sys", "cache_control": ephemeral}]},
                user([{"type": "text", "text": "long prefix", "cache_control": {"type": "ephemeral"}}]),
            ],
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}, "cache_control": ephemeral}],
        }
    ).body
    assert body["system"][0]["cache_control"] == ephemeral
    assert body["messages"][0]["content"][0]["cache_control"] == {"type": "ephemeral"}
    assert body["tools"][0]["cache_control"] == ephemeral


def test_cache_control_never_injected() -> None:
    """Without cache_control in the request, none appears anywhere in the translated body."""
    request = translate(
        {
            "messages": [{"role": "system", "content": "sys"}, *HELLO],
            "tools": [{"type": "function", "function": {"name": "f"}}],
        }
    )
    assert b"cache_control" not in request.encode()


def test_assistant_tool_calls_become_tool_use_with_same_ids_and_parsed_input() -> None:
    """Assistant tool_calls become tool_use blocks with the same ids and the arguments parsed into input."""
    calls = [
        {"id": "toolu_01A", "type": "function", "function": {"name": "get", "arguments": '{"city": "Paris"}'}},
        {"id": "call_b", "type": "function", "function": {"name": "now", "arguments": ""}},
    ]
    body = translate(
        {
            "messages": [
                *HELLO,
                {"role": "assistant", "content": "Let me look.", "tool_calls": calls},
                {"role": "tool", "tool_call_id": "toolu_01A", "content": "sunny"},
                {"role": "tool", "tool_call_id": "call_b", "content": "noon"},
            ]
        }
    ).body
    assistant = body["messages"][1]["content"]
    assert assistant[0] == {"type": "text", "text": "Let me look."}
    assert assistant[1] == {"type": "tool_use", "id": "toolu_01A", "name": "get", "input": {"city": "Paris"}}
    assert assistant[2] == {"type": "tool_use", "id": "call_b", "name": "now", "input": {}}


def test_consecutive_tool_messages_become_one_user_turn_in_order() -> None:
    """Consecutive tool messages become one user turn of tool_result blocks, in their order."""
    calls = [{"id": f"c{i}", "type": "function", "function": {"name": "f", "arguments": "{}"}} for i in range(3)]
    body = translate(
        {
            "messages": [
                *HELLO,
                {"role": "assistant", "content": None, "tool_calls": calls},
                *({"role": "tool", "tool_call_id": f"c{i}", "content": f"r{i}"} for i in range(3)),
                user("thanks"),
            ]
        }
    ).body
    assert len(body["messages"]) == 3
    results = body["messages"][2]["content"]
    assert [b["tool_use_id"] for b in results[:3]] == ["c0", "c1", "c2"]
    assert results[0]["content"] == [{"type": "text", "text": "r0"}]
    assert results[3] == {"type": "text", "text": "thanks"}


def test_tool_ids_the_api_refuses_are_rewritten_alike_on_both_sides() -> None:
    """A tool id with characters the API refuses is rewritten the same way in the call and in its result."""
    call = {"id": "call:1.x", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    body = translate(
        {
            "messages": [
                *HELLO,
                {"role": "assistant", "tool_calls": [call]},
                {"role": "tool", "tool_call_id": "call:1.x", "content": "ok"},
            ]
        }
    ).body
    assert body["messages"][1]["content"][0]["id"] == body["messages"][2]["content"][0]["tool_use_id"] == "call_1_x"


def test_invalid_tool_arguments_are_a_400_naming_them() -> None:
    """Tool call arguments that are not a JSON object are refused, naming the field."""
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{not json"}}
    with pytest.raises(DialectError) as caught:
        translate({"messages": [*HELLO, {"role": "assistant", "tool_calls": [call]}]})
    assert caught.value.param == "messages[1].tool_calls[0].function.arguments"


def test_function_tools_become_input_schema_tools() -> None:
    """Function tools become {name, description, input_schema}; a tool without parameters gets an empty object."""
    schema = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}
    body = translate(
        {
            "messages": HELLO,
            "tools": [
                {"type": "function", "function": {"name": "search", "description": "Find", "parameters": schema}},
                {"type": "function", "function": {"name": "noop"}},
            ],
        }
    ).body
    assert body["tools"] == [
        {"name": "search", "input_schema": schema, "description": "Find"},
        {"name": "noop", "input_schema": {"type": "object", "properties": {}}},
    ]


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("none", {"type": "none"}),
        ("auto", {"type": "auto"}),
        ("required", {"type": "any"}),
        ({"type": "function", "function": {"name": "f"}}, {"type": "tool", "name": "f"}),
    ],
)
def test_tool_choice_maps_none_auto_required_named(choice: Any, expected: dict[str, Any]) -> None:
    """tool_choice none/auto/required/named becomes none/auto/any/tool."""
    tools = [{"type": "function", "function": {"name": "f"}}]
    assert translate({"messages": HELLO, "tools": tools, "tool_choice": choice}).body["tool_choice"] == expected


def test_parallel_tool_calls_false_disables_parallel_tool_use() -> None:
    """parallel_tool_calls: false becomes disable_parallel_tool_use on the tool choice."""
    tools = [{"type": "function", "function": {"name": "f"}}]
    body = translate({"messages": HELLO, "tools": tools, "parallel_tool_calls": False}).body
    assert body["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}


def test_tool_choice_without_tools_is_dropped() -> None:
    """A tool_choice with no tools is left out (the API refuses it)."""
    assert "tool_choice" not in translate({"messages": HELLO, "tool_choice": "required"}).body


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
def test_max_tokens_from_either_field(field: str) -> None:
    """max_tokens and max_completion_tokens both become max_tokens."""
    assert translate({"messages": HELLO, field: 321}).body["max_tokens"] == 321


def test_max_tokens_default_when_absent_and_capped_by_the_model() -> None:
    """Without a limit the documented default is sent; a limit above the model's ceiling is lowered to it."""
    assert translate({"messages": HELLO}).body["max_tokens"] == DEFAULT_MAX_TOKENS
    assert translate({"messages": HELLO, "max_tokens": 10**6}).body["max_tokens"] == BUDGET.max_output


def test_route_minimum_raises_a_low_max_tokens() -> None:
    """A route's minimum max_tokens raises the low limit a caller (Cursor) sends."""
    assert translate({"messages": HELLO, "max_tokens": 256}, min_max_tokens=4096).body["max_tokens"] == 4096


def test_stop_becomes_stop_sequences() -> None:
    """stop (a string or a list) becomes stop_sequences; whitespace-only ones are left out."""
    assert translate({"messages": HELLO, "stop": "END"}).body["stop_sequences"] == ["END"]
    assert translate({"messages": HELLO, "stop": ["a", "\n", "b"]}).body["stop_sequences"] == ["a", "b"]


def test_json_schema_response_format_becomes_output_config_format() -> None:
    """response_format json_schema becomes output_config.format where the model takes structured outputs."""
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": False}
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema, "strict": True}}
    body = translate({"messages": HELLO, "response_format": fmt}).body
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": schema}}


def test_json_schema_without_structured_outputs_becomes_a_system_instruction() -> None:
    """On a model without structured outputs the schema is asked for in a system instruction instead."""
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}
    traits = ModelTraits(structured_outputs=False)
    body = translate({"messages": HELLO, "response_format": fmt}, traits=traits).body
    assert "output_config" not in body and '{"type":"object"}' in body["system"][-1]["text"]


def test_n_above_one_is_a_clear_400() -> None:
    """n > 1 is refused with a 400 naming n."""
    with pytest.raises(DialectError) as caught:
        translate({"messages": HELLO, "n": 2})
    assert caught.value.status == 400 and caught.value.param == "n"
    assert translate({"messages": HELLO, "n": 1}).body["messages"]


def test_user_becomes_metadata_user_id() -> None:
    """user becomes metadata.user_id."""
    assert translate({"messages": HELLO, "user": "u-42"}).body["metadata"] == {"user_id": "u-42"}


def test_reasoning_effort_on_adaptive_model_is_adaptive_and_never_a_budget() -> None:
    """reasoning_effort on an adaptive-thinking model gives adaptive thinking and an effort, never a budget."""
    for effort, level in [("low", "low"), ("medium", "medium"), ("high", "high"), ("xhigh", "high")]:
        body = translate({"messages": HELLO, "reasoning_effort": effort}, traits=ADAPTIVE).body
        assert body["thinking"] == {"type": "adaptive"}
        assert body["output_config"]["effort"] == level
        assert "budget_tokens" not in json.dumps(body)


def test_reasoning_effort_on_budget_model_is_enabled_with_a_budget_below_max_tokens() -> None:
    """reasoning_effort on a budget-only model gives enabled thinking with a budget below max_tokens."""
    body = translate({"messages": HELLO, "reasoning_effort": "high"}).body
    assert body["thinking"]["type"] == "enabled"
    assert 1024 <= body["thinking"]["budget_tokens"] < body["max_tokens"] <= BUDGET.max_output
    small = translate({"messages": HELLO, "reasoning_effort": "high", "max_tokens": 3000}).body
    assert small["max_tokens"] == 3000 and small["thinking"]["budget_tokens"] < 3000


@pytest.mark.parametrize("traits", [ADAPTIVE, BUDGET])
def test_minimal_and_none_map_down_and_are_never_a_400(traits: ModelTraits) -> None:
    """minimal maps to the lowest thinking, none to no thinking, on either kind of model."""
    minimal = translate({"messages": HELLO, "reasoning_effort": "minimal"}, traits=traits).body
    assert minimal["thinking"]["type"] in ("adaptive", "enabled")
    assert minimal.get("output_config", {}).get("effort", "low") == "low"
    assert minimal["thinking"].get("budget_tokens", 1024) == 1024
    assert "thinking" not in translate({"messages": HELLO, "reasoning_effort": "none"}, traits=traits).body


def test_thinking_alias_turns_thinking_on_without_an_effort() -> None:
    """The -thinking alias suffix turns thinking on when the body names no effort."""
    assert translate({"messages": HELLO}, traits=ADAPTIVE, thinking=True).body["thinking"] == {"type": "adaptive"}
    assert "thinking" not in translate({"messages": HELLO}, traits=ADAPTIVE).body


def test_sampling_dropped_on_a_model_that_rejects_it() -> None:
    """temperature, top_p and top_k are dropped for a model that rejects sampling parameters."""
    body = translate({"messages": HELLO, "temperature": 0.2, "top_p": 0.5, "top_k": 5}, traits=ADAPTIVE).body
    assert not {"temperature", "top_p", "top_k"} & body.keys()


def test_temperature_capped_at_one_and_top_p_dropped_beside_it() -> None:
    """temperature above 1 (OpenAI's range is 0-2) is capped at 1; top_p is dropped beside a temperature."""
    body = translate({"messages": HELLO, "temperature": 1.7, "top_p": 0.9}).body
    assert body["temperature"] == 1.0 and "top_p" not in body
    assert translate({"messages": HELLO, "top_p": 0.9}).body["top_p"] == 0.9


def test_sampling_the_api_refuses_with_thinking_is_dropped() -> None:
    """With thinking on, temperature and top_k are dropped and a top_p below 0.95 too."""
    body = translate({"messages": HELLO, "reasoning_effort": "low", "temperature": 0.3, "top_k": 3}).body
    assert "thinking" in body and not {"temperature", "top_k"} & body.keys()


def test_forced_tool_choice_leaves_thinking_off() -> None:
    """A forced tool choice leaves thinking off (the API refuses thinking with a forced tool)."""
    tools = [{"type": "function", "function": {"name": "f"}}]
    body = translate({"messages": HELLO, "tools": tools, "tool_choice": "required", "reasoning_effort": "high"}).body
    assert "thinking" not in body and body["tool_choice"] == {"type": "any"}


def test_replayed_turn_without_signed_thinking_is_sent_without_thinking() -> None:
    """An assistant tool turn replayed with reasoning_content but no signature is sent as it is, thinking off."""
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    messages = [
        *HELLO,
        {"role": "assistant", "content": None, "reasoning_content": "I should call f", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "done"},
    ]
    body = translate({"messages": messages, "reasoning_effort": "high"}, traits=ADAPTIVE).body
    assert "thinking" not in body
    assert body["messages"][1]["content"] == [{"type": "tool_use", "id": "c1", "name": "f", "input": {}}]
    assert "I should call f" not in json.dumps(body)


def test_replayed_signed_thinking_leads_the_turn_and_keeps_thinking_on() -> None:
    """An assistant turn replayed with its signed thinking_blocks sends them first and keeps thinking on."""
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    signed = {"type": "thinking", "thinking": "I should call f", "signature": "EqQBsig"}
    messages = [
        *HELLO,
        {"role": "assistant", "content": None, "thinking_blocks": [signed], "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "done"},
    ]
    body = translate({"messages": messages, "reasoning_effort": "high"}, traits=ADAPTIVE).body
    assert body["thinking"] == {"type": "adaptive"}
    assert body["messages"][1]["content"][0] == signed


def test_final_assistant_prefill_loses_trailing_whitespace() -> None:
    """A final assistant message (a prefill) is sent without trailing whitespace (the API refuses it)."""
    body = translate({"messages": [*HELLO, {"role": "assistant", "content": "Sure: \n"}]}).body
    assert body["messages"][-1] == {"role": "assistant", "content": [{"type": "text", "text": "Sure:"}]}


def test_stream_and_include_usage() -> None:
    """stream and stream_options.include_usage are carried to the request and the answer translator."""
    request = translate({"messages": HELLO, "stream": True, "stream_options": {"include_usage": True}})
    assert request.body["stream"] is True and request.stream and request.include_usage
    plain = translate({"messages": HELLO})
    assert "stream" not in plain.body and not plain.stream and not plain.include_usage


def test_model_is_the_target_and_the_requested_name_is_echoed() -> None:
    """The body calls the target's Claude id; the answer echoes the name the caller asked for."""
    request = chat_request({"model": "cw-sonnet", "messages": HELLO}, target())
    assert request.body["model"] == "claude-sonnet-4-5" and request.reply_model == "cw-sonnet"


def test_fast_alias_sets_speed_and_its_beta_where_the_model_has_it() -> None:
    """The -fast suffix sends speed: fast and its beta on a model with fast mode, and nothing elsewhere."""
    fast = translate({"messages": HELLO}, traits=ModelTraits(fast_mode=True), fast=True)
    assert fast.body["speed"] == "fast" and fast.betas == ("fast-mode-2026-02-01",)
    slow = translate({"messages": HELLO}, fast=True)
    assert "speed" not in slow.body and slow.betas == ()


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "function", "content": "x"}]}, "messages[0].role"),
        ({"messages": [user([{"type": "input_audio", "input_audio": {}}])]}, "messages[0].content[0]"),
        ({"messages": HELLO, "tools": [{"type": "web_search"}]}, "tools[0]"),
        ({"messages": HELLO, "reasoning_effort": "extreme"}, "reasoning_effort"),
        ({"messages": HELLO, "max_tokens": 0}, "max_tokens"),
    ],
)
def test_bad_bodies_are_400s_naming_the_field(body: dict[str, Any], param: str) -> None:
    """A body the translator cannot take is a DialectError (400) naming the offending field."""
    with pytest.raises(DialectError) as caught:
        translate(body)
    assert caught.value.status == 400 and caught.value.param == param
