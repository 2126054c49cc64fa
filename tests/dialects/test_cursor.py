"""Cursor's mix: chat- or Responses-shaped bodies on /chat/completions, answered as Chat Completions.

The fixtures follow the bodies shown in public threads: agent mode posts a Responses body (``input`` items, an empty
``messages`` list beside them, flat function tools, a custom ApplyPatch tool, ``reasoning``, ``stream_options``);
ask mode posts a chat body with Anthropic-style system blocks, an object ``tool_choice`` and ``cache_control``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from openai.types.chat import ChatCompletionChunk

from claudewire.dialects import ChatStream, cursor_request, is_responses_shaped
from claudewire.sim.validation import check_body
from tests.dialects.upstream import ADAPTIVE, answer, chunks, sse, target, text_block, tool_block

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return body


def test_agent_body_with_input_is_read_as_responses() -> None:
    """Agent mode's Responses-shaped body (input beside an empty messages list) is translated item by item."""
    body = fixture("cursor_agent.json")
    assert is_responses_shaped(body)
    request = cursor_request(body, target(ADAPTIVE, thinking=True))
    check_body(request.body, request.body["max_tokens"])
    turns = request.body["messages"]
    assert request.body["system"] == [{"type": "text", "text": "You are a coding agent in Cursor."}]
    assert [t["role"] for t in turns] == ["user", "assistant", "user", "assistant", "user"]
    assert turns[1]["content"][0]["id"] == "toolu_01ReadFile"
    assert turns[3]["content"][0]["input"] == {"input": "*** Begin Patch\n*** End Patch"}
    assert [t["name"] for t in request.body["tools"]] == ["read_file", "ApplyPatch"]
    assert "thinking" not in request.body  # the replayed tool turn carries no signed thinking


def test_agent_body_is_answered_as_chat_with_usage() -> None:
    """The agent body's stream is answered as chat.completion.chunk events with the usage it asked for."""
    request = cursor_request(fixture("cursor_agent.json"), target())
    assert request.stream and request.include_usage and request.reply_model == "cw-sonnet-thinking"
    stream = ChatStream(model=request.reply_model, created=1, include_usage=request.include_usage)
    out = stream.feed(sse(answer(text_block(0, "Patched."), tool_block(1, "toolu_2", "read_file", "{}"))))
    got = [ChatCompletionChunk.model_validate(c) for c in chunks(out)]
    assert all(c.object == "chat.completion.chunk" for c in got)
    assert got[-1].usage is not None and out.endswith(b"data: [DONE]\n\n")


def test_ask_body_with_anthropic_style_blocks_is_read_as_chat() -> None:
    """Ask mode's chat body keeps its system blocks, cache_control and object tool_choice."""
    body = fixture("cursor_ask.json")
    assert not is_responses_shaped(body)
    request = cursor_request(body, target())
    check_body(request.body, request.body["max_tokens"])
    assert request.body["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert request.body["messages"][0]["content"][0]["cache_control"] == {"type": "ephemeral"}
    assert request.body["tools"][0]["cache_control"] == {"type": "ephemeral"}
    assert request.body["tool_choice"] == {"type": "auto"}
    assert request.body["temperature"] == 0 and request.include_usage


def test_low_cursor_max_tokens_raised_by_the_route_minimum() -> None:
    """Cursor's low max_tokens is raised to the route's minimum."""
    assert cursor_request(fixture("cursor_ask.json"), target(min_max_tokens=8192)).body["max_tokens"] == 8192


def test_chat_body_may_carry_flat_function_tools() -> None:
    """A chat body with Responses-style flat function tools (as Cursor sends) is taken."""
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"type": "function", "name": "lookup", "parameters": {"type": "object"}}],
        "tool_choice": {"type": "function", "name": "lookup"},
    }
    request = cursor_request(body, target())
    assert request.body["tools"][0]["name"] == "lookup"
    assert request.body["tool_choice"] == {"type": "tool", "name": "lookup"}
