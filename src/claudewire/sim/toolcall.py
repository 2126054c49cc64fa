"""Which tool the simulated model calls, and with what input: calls an agent loop can run and then finish.

Pure functions over a Messages request body. The rules, in order:

- no client tool offered, or ``tool_choice: {"type": "none"}``: no call;
- ``tool_choice`` ``any`` / ``tool`` forces a call, as the API does;
- otherwise a call only on a fresh turn: walking back from the last message over user turns (a tool result is often
  followed by folded user text such as Claude Code's ``<system-reminder>`` block), a ``tool_result`` means the tool
  already answered and the model replies in text (so an agent's loop ends after one round trip);
- the tool called is the one ``tool_choice`` names, else the one the latest user text names (tagged blocks such as
  ``<system-reminder>`` or ``<task-notification>`` excluded: a harness wrote those, not the user), else, on the
  conversation's first turn only, the first client tool. A later turn naming no tool gets text: an agent harness
  adds user turns of its own (Claude Code reports a finished background agent in one), and calling a tool on each
  of them would never end (the loop issue 22 measured through a Bedrock upstream);
- its input fills the schema's required properties (every property when the schema names none) with values of the
  declared type, nested objects and arrays included, honouring ``const``/``enum``/``default``/``examples``, bounds and
  common string formats.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["choose_tool", "sample_input"]

_TAGGED = re.compile(r"<([A-Za-z][\w-]*)\b[^>]*>.*?</\1\s*>", re.DOTALL)  # <system-reminder>…</system-reminder>
_MAX_DEPTH = 6  # nested schemas deeper than this get an empty value: a recursive $ref must not recurse forever

# Anthropic-defined client tools carry no input_schema: the input their executors expect, harmless when run
_BUILTIN_INPUTS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("bash_", {"command": "echo example"}),
    ("text_editor_", {"command": "view", "path": "."}),
    ("computer_", {"action": "screenshot"}),
    ("memory_", {"command": "view", "path": "/memories"}),
)

_FORMATS: dict[str, str] = {
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "email": "user@example.com",
    "date": "2026-01-01",
    "date-time": "2026-01-01T00:00:00Z",
    "time": "00:00:00Z",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "ipv4": "127.0.0.1",
    "hostname": "example.com",
}


def _builtin_input(tool: Mapping[str, Any]) -> dict[str, Any] | None:
    kind = tool.get("type")
    if not isinstance(kind, str):
        return None
    for prefix, sample in _BUILTIN_INPUTS:
        if kind.startswith(prefix):
            return dict(sample)
    return None


def _client_tools(tools: Any) -> list[Mapping[str, Any]]:
    """Tools the caller runs: custom tools (with an input_schema) and Anthropic-defined client tools."""
    if not isinstance(tools, list):
        return []
    out: list[Mapping[str, Any]] = []
    for tool in tools:
        if not isinstance(tool, Mapping) or not isinstance(tool.get("name"), str):
            continue
        if isinstance(tool.get("input_schema"), Mapping) or _builtin_input(tool) is not None:
            out.append(tool)
    return out


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    return "\n".join(
        str(block.get("text", "")) for block in content if isinstance(block, Mapping) and block.get("type") == "text"
    )


def _has_tool_result(content: Any) -> bool:
    return isinstance(content, list) and any(
        isinstance(block, Mapping) and block.get("type") == "tool_result" for block in content
    )


@dataclass(frozen=True, slots=True)
class _Turn:
    """The latest user turn: every message after the last assistant message (system turns skipped)."""

    answered: bool  # a tool_result is in it: the tool the model called has answered
    first: bool  # no assistant message before it: the conversation's opening turn
    text: str  # its text, tagged blocks a harness adds (<system-reminder> …) removed


def _latest_turn(messages: Sequence[Any]) -> _Turn:
    answered = False
    first = True
    texts: list[str] = []
    for message in reversed(messages):
        if not isinstance(message, Mapping):
            continue
        role = message.get("role")
        if role == "assistant":
            first = False
            break
        if role != "user":
            continue
        content = message.get("content")
        answered = answered or _has_tool_result(content)
        texts.append(_text_of(content))
    return _Turn(answered, first, _TAGGED.sub(" ", "\n".join(reversed(texts))))


def _named_in(text: str, tools: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The tool whose name the text mentions first (whole word, any case); the longer name wins a tie."""
    best: tuple[int, int, Mapping[str, Any]] | None = None
    for tool in tools:
        name = str(tool["name"])
        found = re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text, re.IGNORECASE)
        if found is None:
            continue
        rank = (found.start(), -len(name))
        if best is None or rank < best[:2]:
            best = (rank[0], rank[1], tool)
    return best[2] if best is not None else None


def choose_tool(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The tool the simulated model calls for this request body, or None when it answers in text."""
    tools = _client_tools(body.get("tools"))
    if not tools:
        return None
    choice = body.get("tool_choice")
    choice_type = choice.get("type") if isinstance(choice, Mapping) else None
    if choice_type == "none":
        return None
    messages = body.get("messages")
    turn = _latest_turn(messages if isinstance(messages, list) else [])
    if choice_type == "tool" and isinstance(choice, Mapping):
        wanted = choice.get("name")
        return next((t for t in tools if t["name"] == wanted), None)
    forced = choice_type == "any"
    if turn.answered and not forced:
        return None  # the tool already answered: reply in text, so the agent's loop ends
    named = _named_in(turn.text, tools)
    if named is not None:
        return named
    return tools[0] if turn.first or forced else None


def sample_input(tool: Mapping[str, Any]) -> dict[str, Any]:
    """An input for `tool` that its input_schema accepts (or that an Anthropic-defined tool's executor expects)."""
    builtin = _builtin_input(tool)
    if builtin is not None and not isinstance(tool.get("input_schema"), Mapping):
        return builtin
    schema = tool.get("input_schema")
    value = _value(schema, schema, 0) if isinstance(schema, Mapping) else {}
    return value if isinstance(value, dict) else {}


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    """Follow a local ``$ref`` (``#/$defs/X``, ``#/definitions/X``); anything else stays as it is."""
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return schema
    node: Any = root
    for part in ref[2:].split("/"):
        node = node.get(part.replace("~1", "/").replace("~0", "~")) if isinstance(node, Mapping) else None
    return node if isinstance(node, Mapping) else {}


def _type_of(schema: Mapping[str, Any]) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if isinstance(kind, str):
        return kind
    if "properties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    return None


def _value(schema: Any, root: Mapping[str, Any], depth: int) -> Any:
    if not isinstance(schema, Mapping):
        return "example"
    schema = _resolve(schema, root)
    for key in ("const", "default"):
        if key in schema:
            return schema[key]
    for key in ("enum", "examples"):
        listed = schema.get(key)
        if isinstance(listed, list) and listed:
            return listed[0]
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            usable = [o for o in options if not (isinstance(o, Mapping) and o.get("type") == "null")]
            return _value((usable or options)[0], root, depth + 1)
    parts = schema.get("allOf")
    if isinstance(parts, list) and parts:
        merged: dict[str, Any] = {}
        for part in parts:
            if isinstance(part, Mapping):
                merged.update(_resolve(part, root))
        return _value(merged, root, depth + 1)
    kind = _type_of(schema)
    if kind == "object":
        return _object(schema, root, depth)
    if kind == "array":
        return _array(schema, root, depth)
    if kind in ("integer", "number"):
        return _number(schema, kind == "integer")
    if kind == "boolean":
        return False  # the cautious value: flags such as "run in background" or "force" stay off
    if kind == "null":
        return None
    return _string(schema)


def _object(schema: Mapping[str, Any], root: Mapping[str, Any], depth: int) -> dict[str, Any]:
    props = schema.get("properties")
    if not isinstance(props, Mapping) or depth >= _MAX_DEPTH:
        return {}
    required = schema.get("required")
    names = [str(n) for n in required if n in props] if isinstance(required, list) else [str(n) for n in props]
    return {name: _value(props[name], root, depth + 1) for name in names}


def _array(schema: Mapping[str, Any], root: Mapping[str, Any], depth: int) -> list[Any]:
    least = schema.get("minItems")
    count = least if isinstance(least, int) and not isinstance(least, bool) and least > 0 else 0
    if count == 0 or depth >= _MAX_DEPTH:
        return []
    return [_value(schema.get("items", {}), root, depth + 1) for _ in range(min(count, 8))]


def _bound(schema: Mapping[str, Any], key: str) -> float | None:
    value = schema.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _number(schema: Mapping[str, Any], integer: bool) -> int | float:
    low, high = _bound(schema, "minimum"), _bound(schema, "maximum")
    low_x, high_x = _bound(schema, "exclusiveMinimum"), _bound(schema, "exclusiveMaximum")
    step = 1.0 if integer else 0.5
    value = 1.0
    if low is not None:
        value = max(value, low)
    if low_x is not None and value <= low_x:
        value = low_x + step
    if high is not None:
        value = min(value, high)
    if high_x is not None and value >= high_x:
        value = high_x - step
    if integer:
        whole = math.ceil(value)
        return math.floor(high) if high is not None and whole > high else whole
    return value


def _string(schema: Mapping[str, Any]) -> str:
    fmt = schema.get("format")
    text = _FORMATS.get(fmt, "example") if isinstance(fmt, str) else "example"
    least, most = schema.get("minLength"), schema.get("maxLength")
    if isinstance(least, int) and len(text) < least:
        text = text + "x" * (least - len(text))
    if isinstance(most, int) and most >= 0:
        text = text[:most]
    return text
