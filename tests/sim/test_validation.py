"""The simulator's request checks: what the API accepts passes, what it rejects gets the API's 400 wording."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from claudewire.sim import SimServer
from claudewire.sim.validation import BodyError, betas_of, check_body
from tests.conftest import SIM_KEY, SIM_MODEL

CLAUDE_CODE_BETAS = betas_of(
    "claude-code-20250219,context-1m-2025-08-07,interleaved-thinking-2025-05-14,context-management-2025-06-27,"
    "prompt-caching-scope-2026-01-05,mid-conversation-system-2026-04-07,effort-2025-11-24"
)

CLAUDE_CODE_BODY: dict[str, Any] = {
    # the shape Claude Code 2.1.197 sends with its default model (captured from `claude -p`), texts shortened
    "model": "claude-opus-4-8",
    "max_tokens": 64000,
    "stream": True,
    "thinking": {"type": "adaptive"},
    "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
    "output_config": {"effort": "high"},
    "metadata": {"user_id": '{"device_id":"abc","session_id":"s"}'},
    "system": [
        {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.197"},
        {"type": "text", "text": "You are a Claude agent.", "cache_control": {"type": "ephemeral"}},
    ],
    "tools": [{"name": "Bash", "description": "run", "input_schema": {"type": "object", "properties": {}}}],
    "messages": [
        {"role": "user", "content": [{"type": "text", "text": "say pong", "cache_control": {"type": "ephemeral"}}]},
        {"role": "system", "content": "Available agent types for the Agent tool: ..."},
    ],
}


def _error(body: dict[str, Any], betas: tuple[str, ...] = ()) -> str:
    with pytest.raises(BodyError) as info:
        check_body(body, int(body.get("max_tokens", 1024)), betas)
    return str(info.value)


def test_claude_codes_default_model_request_passes() -> None:
    """Claude Code's default-model body (mid-conversation system message, adaptive thinking, its betas) is valid."""
    check_body(CLAUDE_CODE_BODY, 64000, CLAUDE_CODE_BETAS)


def test_a_system_turn_is_never_the_first_message() -> None:
    """role system as the first message gets the API's wording (the top-level field is where that goes)."""
    first = {**CLAUDE_CODE_BODY, "messages": [{"role": "system", "content": "x"}]}
    assert _error(first, CLAUDE_CODE_BETAS) == "messages.0.role: Input should be 'user' or 'assistant'"


def test_current_block_types_and_unknown_well_formed_parts_pass() -> None:
    """Thinking, tool use/result, documents, server tool results, an unknown block type and unknown fields pass."""
    body = {
        "model": SIM_MODEL,
        "max_tokens": 2048,
        "future_field": {"anything": [1, 2]},
        "service_tier": "auto",
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "tool_choice": {"type": "auto"},
        "tools": [{"type": "web_search_20250305", "name": "web_search"}],
        "messages": [
            {"role": "user", "content": [{"type": "document", "source": {"type": "text", "data": "d"}}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hm", "signature": "sig"},
                    {"type": "redacted_thinking", "data": "xyz"},
                    {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"q": "x"}},
                    {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []},
                    {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "ok"}]},
                    {"type": "block_type_from_the_future", "payload": 1},
                ],
            },
            {"role": "assistant", "content": ""},  # an empty final assistant turn (prefill) is allowed
        ],
    }
    check_body(body, 2048, ())


@pytest.mark.parametrize(
    ("body", "wording"),
    [
        ({"messages": "hi"}, "messages: Input should be a valid list"),
        ({"messages": [{"content": "x"}]}, "messages.0.role: Field required"),
        ({"messages": [{"role": "user"}]}, "messages.0.content: Field required"),
        (
            {"messages": [{"role": "user", "content": ""}]},
            "messages.0: all messages must have non-empty content except for the optional final assistant message",
        ),
        ({"messages": [{"role": "user", "content": [{"type": "text"}]}]}, "messages.0.content.0.text: Field required"),
        ({"messages": [{"role": "user", "content": [{"text": "x"}]}]}, "messages.0.content.0.type: Field required"),
        (
            {"messages": [{"role": "user", "content": [{"type": "tool_use", "id": "t", "name": "f"}]}]},
            "messages.0.content.0.input: Field required",
        ),
        ({"temperature": 1.5}, "temperature: Input should be less than or equal to 1"),
        ({"tools": [{"name": "f"}]}, "tools.0.custom.input_schema: Field required"),
        ({"tool_choice": {"type": "tool"}}, "tool_choice.tool.name: Field required"),
        (
            {"thinking": {"type": "enabled", "budget_tokens": 100}},
            "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024",
        ),
        ({"stream": "yes"}, "stream: Input should be a valid boolean"),
        ({"system": [{"type": "image", "source": {}}]}, "system.0.type: Input should be 'text'"),
    ],
)
def test_malformed_requests_get_the_apis_wording(body: dict[str, Any], wording: str) -> None:
    """Each malformed part is named by its dotted location with the API's own message."""
    full = {"model": SIM_MODEL, "max_tokens": 1024, "messages": [{"role": "user", "content": "x"}], **body}
    assert _error(full) == wording


@pytest.mark.parametrize(
    "beta",
    ["", ",".join(CLAUDE_CODE_BETAS), "mid-conversation-tool-changes-2026-07-01"],
    ids=["no-beta", "claude-code-2.1.197", "claude-code-2.1.332"],
)
def test_a_mid_conversation_system_turn_needs_no_beta(sim: SimServer, beta: str) -> None:
    """Over HTTP Claude Code's default-model body is 200 whatever betas it names: the model takes system turns
    (Claude Code 2.1.332 names only mid-conversation-tool-changes-2026-07-01 and used to get 400 messages.1.role)."""
    body = {**CLAUDE_CODE_BODY, "stream": False, "tools": []}
    headers = {"x-api-key": SIM_KEY, "anthropic-version": "2023-06-01", **({"anthropic-beta": beta} if beta else {})}
    for model in ("claude-opus-4-8", "claude-opus-5-5"):
        answer = httpx2.post(f"{sim.base_url}/v1/messages", json={**body, "model": model}, headers=headers, timeout=10)
        assert answer.status_code == 200, answer.text
