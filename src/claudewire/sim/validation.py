"""The shape checks of a ``POST /v1/messages`` body, as strict as the API and no stricter. Pure functions.

The simulator stands in for the API in front of real clients (Claude Code's CLI, the SDKs), so a check here that
the API does not make breaks a client that works in production. The rules:

- a malformed request (a wrong type, a missing required field, an empty content) gets the API's own 400 wording,
  ``<location>: <problem>`` with the location dotted as the API dots it (``messages.1.content.0.text``);
- what the API accepts passes: current roles (``system`` after the first message: whether the model takes it, and
  where, is `claudewire.sim.rules`' to judge), every current content block type, current request fields;
- an unknown but well-formed field or block type passes: the API grows faster than any copy of its rules.

What depends on the model or on ``anthropic-version`` (thinking modes, effort, sampling, forced tool choice,
mid-conversation system turns) is `claudewire.sim.rules`, run after these.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["BodyError", "betas_of", "check_body"]

_TEXT_FIELDS: dict[str, tuple[str, ...]] = {
    # block type -> fields that must be present (the API's "Field required" when one is missing)
    "text": ("text",),
    "image": ("source",),
    "document": ("source",),
    "search_result": ("source", "title", "content"),
    "tool_use": ("id", "name", "input"),
    "server_tool_use": ("id", "name", "input"),
    "mcp_tool_use": ("id", "name", "server_name", "input"),
    "tool_result": ("tool_use_id",),
    "mcp_tool_result": ("tool_use_id",),
    "web_search_tool_result": ("tool_use_id", "content"),
    "web_fetch_tool_result": ("tool_use_id", "content"),
    "code_execution_tool_result": ("tool_use_id", "content"),
    "bash_code_execution_tool_result": ("tool_use_id", "content"),
    "text_editor_code_execution_tool_result": ("tool_use_id", "content"),
    "tool_search_tool_result": ("tool_use_id", "content"),
    "thinking": ("thinking", "signature"),
    "redacted_thinking": ("data",),
    "container_upload": ("file_id",),
}
"""Current content block types and their required fields; other well-formed types pass unchecked."""

_ROLES = ("user", "assistant")
_EMPTY = "{}: all messages must have non-empty content except for the optional final assistant message"


class BodyError(ValueError):
    """A request body the API rejects with 400 ``invalid_request_error``; the message is the API's wording."""


def _require(block: Mapping[str, Any], fields: Sequence[str], where: str) -> None:
    for name in fields:
        if name not in block:
            raise BodyError(f"{where}.{name}: Field required")


def _check_block(block: Any, where: str) -> None:
    if not isinstance(block, Mapping):
        raise BodyError(f"{where}: Input should be a valid dictionary or object to extract fields from")
    kind = block.get("type")
    if kind is None:
        raise BodyError(f"{where}.type: Field required")
    if not isinstance(kind, str):
        raise BodyError(f"{where}.type: Input should be a valid string")
    _require(block, _TEXT_FIELDS.get(kind, ()), where)
    if kind == "text":
        if not isinstance(block["text"], str):
            raise BodyError(f"{where}.text: Input should be a valid string")
        if not block["text"]:
            raise BodyError("messages: text content blocks must be non-empty")
    elif kind in ("tool_use", "server_tool_use") and not isinstance(block["input"], Mapping):
        raise BodyError(f"{where}.input: Input should be a valid dictionary")
    elif kind == "tool_result":
        content = block.get("content")
        if isinstance(content, list):
            for j, inner in enumerate(content):
                _check_block(inner, f"{where}.content.{j}")
        elif content is not None and not isinstance(content, str):
            raise BodyError(f"{where}.content: Input should be a valid list")
    cache = block.get("cache_control")
    if cache is not None and (not isinstance(cache, Mapping) or "type" not in cache):
        raise BodyError(f"{where}.cache_control.type: Field required")


def _check_content(content: Any, where: str, last_assistant: bool) -> None:
    if isinstance(content, str):
        if not content and not last_assistant:
            raise BodyError(_EMPTY.format(where.rsplit(".", 1)[0]))
        return
    if not isinstance(content, list):
        raise BodyError(f"{where}: Input should be a valid list")
    if not content and not last_assistant:
        raise BodyError(_EMPTY.format(where.rsplit(".", 1)[0]))
    for j, block in enumerate(content):
        _check_block(block, f"{where}.{j}")


def _check_messages(messages: Any) -> None:
    if messages is None:
        raise BodyError("messages: Field required")
    if not isinstance(messages, list):
        raise BodyError("messages: Input should be a valid list")
    if not messages:
        raise BodyError("messages: at least one message is required")
    for i, message in enumerate(messages):
        where = f"messages.{i}"
        if not isinstance(message, Mapping):
            raise BodyError(f"{where}: Input should be a valid dictionary or object to extract fields from")
        role = message.get("role")
        if role is None:
            raise BodyError(f"{where}.role: Field required")
        if role not in _ROLES and not (role == "system" and i > 0):
            # the API's wording: "system" is a turn between others, never the first one (that is the top-level field)
            raise BodyError(f"{where}.role: Input should be 'user' or 'assistant'")
        if "content" not in message:
            raise BodyError(f"{where}.content: Field required")
        last_assistant = i == len(messages) - 1 and role == "assistant"
        _check_content(message["content"], f"{where}.content", last_assistant)


def _check_number(body: Mapping[str, Any], name: str, low: float, high: float | None) -> None:
    value = body.get(name)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BodyError(f"{name}: Input should be a valid number")
    if value < low:
        raise BodyError(f"{name}: Input should be greater than or equal to {low:g}")
    if high is not None and value > high:
        raise BodyError(f"{name}: Input should be less than or equal to {high:g}")


def _check_system(system: Any) -> None:
    if system is None or isinstance(system, str):
        return
    if not isinstance(system, list):
        raise BodyError("system: Input should be a valid string")
    for j, block in enumerate(system):
        _check_block(block, f"system.{j}")
        if block.get("type") != "text":
            raise BodyError(f"system.{j}.type: Input should be 'text'")


def _check_tools(tools: Any, tool_choice: Any) -> None:
    if tools is not None:
        if not isinstance(tools, list):
            raise BodyError("tools: Input should be a valid list")
        for j, tool in enumerate(tools):
            if not isinstance(tool, Mapping):
                raise BodyError(f"tools.{j}: Input should be a valid dictionary or object to extract fields from")
            if "type" in tool and tool.get("type") != "custom":
                _require(tool, ("name",), f"tools.{j}")  # a server tool (web_search_20250305 ...): typed, named
                continue
            _require(tool, ("name", "input_schema"), f"tools.{j}.custom")
            if not isinstance(tool["input_schema"], Mapping):
                raise BodyError(f"tools.{j}.custom.input_schema: Input should be a valid dictionary")
    if tool_choice is not None:
        if not isinstance(tool_choice, Mapping) or "type" not in tool_choice:
            raise BodyError("tool_choice.type: Field required")
        kind = tool_choice["type"]
        if kind not in ("auto", "any", "tool", "none"):
            raise BodyError(
                f"tool_choice: Input tag '{kind}' found using 'type' does not match any of the expected tags: "
                "'auto', 'any', 'tool', 'none'"
            )
        if kind == "tool":
            _require(tool_choice, ("name",), "tool_choice.tool")


def _check_thinking(thinking: Any, max_tokens: int) -> None:
    if thinking is None:
        return
    if not isinstance(thinking, Mapping) or "type" not in thinking:
        raise BodyError("thinking.type: Field required")
    kind = thinking["type"]
    if kind not in ("enabled", "disabled", "between_tools", "adaptive"):
        raise BodyError(
            f"thinking: Input tag '{kind}' found using 'type' does not match any of the expected tags: "
            "'enabled', 'disabled', 'between_tools', 'adaptive'"
        )
    if kind == "enabled":
        budget = thinking.get("budget_tokens")
        if budget is None:
            raise BodyError("thinking.enabled.budget_tokens: Field required")
        if not isinstance(budget, int) or isinstance(budget, bool):
            raise BodyError("thinking.enabled.budget_tokens: Input should be a valid integer")
        if budget < 1024:
            raise BodyError("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
        if budget >= max_tokens:
            raise BodyError("`max_tokens` must be greater than `thinking.budget_tokens`.")


def check_body(body: Mapping[str, Any], max_tokens: int, betas: Sequence[str] = ()) -> None:
    """Raise `BodyError` with the API's wording if the API would reject `body`'s shape.

    `max_tokens` is the request's own (already checked) value; `betas` are the ``anthropic-beta`` values (no shape
    check needs one today: mid-conversation system turns are judged by the model, in `claudewire.sim.rules`).
    Fields not named here are not looked at.
    """
    _check_messages(body.get("messages"))
    _check_system(body.get("system"))
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise BodyError("stream: Input should be a valid boolean")
    _check_number(body, "temperature", 0, 1)
    _check_number(body, "top_p", 0, 1)
    _check_number(body, "top_k", 0, None)
    stops = body.get("stop_sequences")
    if stops is not None and (not isinstance(stops, list) or not all(isinstance(s, str) for s in stops)):
        raise BodyError("stop_sequences: Input should be a valid list of strings")
    metadata = body.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, Mapping):
            raise BodyError("metadata: Input should be a valid dictionary")
        user_id = metadata.get("user_id")
        if user_id is not None and not isinstance(user_id, str):
            raise BodyError("metadata.user_id: Input should be a valid string")
    _check_tools(body.get("tools"), body.get("tool_choice"))
    _check_thinking(body.get("thinking"), max_tokens)


def betas_of(header: str | None) -> tuple[str, ...]:
    """The values of a comma-separated ``anthropic-beta`` header."""
    return tuple(b.strip() for b in (header or "").split(",") if b.strip())
