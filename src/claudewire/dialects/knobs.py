"""The request knobs Chat Completions and Responses share, set on a Messages body the way the model takes them.

Rules (each pinned by a test in tests/dialects/):

- ``max_tokens``: the caller's limit, raised to the route's minimum, lowered to the model's ceiling; absent, the
  target's default (`claudewire.dialects.common.DEFAULT_MAX_TOKENS`).
- Reasoning effort (``reasoning_effort`` / ``reasoning.effort``): on a model with adaptive thinking,
  ``thinking: {type: "adaptive"}`` and ``output_config.effort`` (``minimal`` -> ``low``; a level the model lacks steps
  down to the next one it has), never a budget; on a model with only budgeted thinking, ``enabled`` with a budget
  below ``max_tokens``; ``none`` sends no thinking. No effort value the OpenAI SDKs know is ever a 400.
- Thinking is left off when the API would refuse it: a forced tool choice, or a last assistant turn (a prefill, or a
  tool call awaiting its result) that does not start with a signed thinking block, as a caller replaying a turn
  without its signature sends (the turn is sent as it is, never given an invented thinking block).
- Sampling: dropped wholesale on a model that rejects it; ``temperature`` capped at 1 and dropped with thinking (the API
  takes only 1 then), ``top_p`` dropped beside ``temperature`` (recent models take one of the two) or below 0.95
  with thinking, ``top_k`` dropped with thinking.
- ``tool_choice``: none/auto/required/named -> none/auto/any/tool; ``parallel_tool_calls: false`` ->
  ``disable_parallel_tool_use``; dropped when there are no tools.
- A JSON schema response format -> ``output_config.format`` where the model takes it, else a system instruction; a
  JSON-object format -> a system instruction.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from claudewire.dialects.common import DialectError, ModelTraits, Target

__all__ = [
    "OPENAI_EFFORTS",
    "apply_metadata_user",
    "apply_reasoning",
    "apply_response_format",
    "apply_sampling",
    "custom_tool",
    "function_tool",
    "max_tokens",
    "settle_thinking",
    "tool_choice",
]

log = logging.getLogger(__name__)

OPENAI_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
_LEVELS = ("low", "medium", "high", "xhigh", "max")  # output_config.effort, lowest first
_BUDGETS = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 16384, "xhigh": 32000, "max": 32000}
_MIN_BUDGET = 1024
_JSON_OBJECT_HINT = "Respond with a single JSON object and nothing else: no prose, no code fence."


def _int(value: Any, param: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DialectError(f"{param} must be a positive integer", param=param)
    return value


def max_tokens(requested: Any, target: Target, param: str) -> tuple[int, bool]:
    """The ``max_tokens`` to send and whether the caller set it."""
    explicit = requested is not None
    value = _int(requested, param) if explicit else target.default_max_tokens
    value = max(value, target.min_max_tokens)
    ceiling = target.traits.max_output
    return (min(value, ceiling) if ceiling else value), explicit


def _level(effort: str, traits: ModelTraits) -> str | None:
    """The ``output_config.effort`` for an OpenAI effort: the same level, or the next lower one the model has."""
    wanted = _LEVELS.index("low" if effort == "minimal" else effort)
    for level in reversed(_LEVELS[: wanted + 1]):
        if level in traits.efforts:
            return level
    return None


def apply_reasoning(body: dict[str, Any], effort: Any, target: Target, *, explicit_max: bool, param: str) -> None:
    """Set ``thinking``, ``output_config.effort`` and (for a budget) ``max_tokens`` from a reasoning effort."""
    if effort is not None and effort not in OPENAI_EFFORTS:
        raise DialectError(f"{param} must be one of {', '.join(OPENAI_EFFORTS)}", param=param)
    if effort is None and not target.thinking:
        return
    if effort == "none":
        return
    traits = target.traits
    if traits.adaptive_thinking:
        body["thinking"] = {"type": "adaptive"}
        level = _level(effort, traits) if isinstance(effort, str) else None
        if level is not None:
            body.setdefault("output_config", {})["effort"] = level
        return
    if not traits.budget_thinking:
        return
    budget = _BUDGETS[effort if isinstance(effort, str) else "medium"]
    limit = int(body["max_tokens"])
    if not explicit_max and limit <= budget:
        # The caller set no limit: room for the budget and an answer, as OpenAI's reasoning models have.
        limit = budget + target.default_max_tokens
        if traits.max_output:
            limit = min(limit, traits.max_output)
        body["max_tokens"] = limit
    budget = min(budget, limit - 1)
    if budget < _MIN_BUDGET:
        log.debug("max_tokens %d leaves no room for a thinking budget: thinking left off", limit)
        return
    body["thinking"] = {"type": "enabled", "budget_tokens": budget}


def _starts_with_thinking(message: Mapping[str, Any]) -> bool:
    content = message.get("content")
    return isinstance(content, list) and bool(content) and content[0].get("type") in ("thinking", "redacted_thinking")


def settle_thinking(body: dict[str, Any]) -> None:
    """Leave thinking off where the API would refuse it: a forced tool, or an unsigned last assistant turn."""
    if "thinking" not in body:
        return
    choice = body.get("tool_choice")
    if isinstance(choice, Mapping) and choice.get("type") in ("any", "tool"):
        log.debug("tool_choice forces a tool: thinking left off")
        del body["thinking"]
        return
    messages = body.get("messages") or []
    for at in range(len(messages) - 1, -1, -1):
        message = messages[at]
        if message.get("role") != "assistant":
            continue
        content = message.get("content")
        calls = isinstance(content, list) and any(b.get("type") == "tool_use" for b in content)
        if (at == len(messages) - 1 or calls) and not _starts_with_thinking(message):
            log.debug("the last assistant turn has no signed thinking: thinking left off")
            del body["thinking"]
        return


def _number(value: Any, param: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DialectError(f"{param} must be a number", param=param)
    return float(value)


def apply_sampling(body: dict[str, Any], source: Mapping[str, Any], traits: ModelTraits) -> None:
    """Copy ``temperature``/``top_p``/``top_k`` from the caller's body as far as the model takes them."""
    temperature, top_p, top_k = source.get("temperature"), source.get("top_p"), source.get("top_k")
    if traits.rejects_sampling:
        return
    thinking = "thinking" in body
    if temperature is not None:
        value = _number(temperature, "temperature")
        if not thinking:
            body["temperature"] = min(max(value, 0.0), 1.0)
    if top_p is not None:
        value = _number(top_p, "top_p")
        if "temperature" not in body and (not thinking or value >= 0.95):
            body["top_p"] = min(max(value, 0.0), 1.0)
    if top_k is not None and not thinking:
        body["top_k"] = _int(top_k, "top_k")


def tool_choice(choice: Any, parallel: Any, has_tools: bool, param: str = "tool_choice") -> dict[str, Any] | None:
    """The Messages ``tool_choice`` for an OpenAI one (Anthropic-shaped objects, as Cursor sends, pass through)."""
    if not has_tools:
        return None
    result: dict[str, Any]
    if choice is None or choice == "auto":
        result = {"type": "auto"}
    elif choice == "none":
        return {"type": "none"}
    elif choice == "required":
        result = {"type": "any"}
    elif isinstance(choice, Mapping) and choice.get("type") == "function":
        function = choice.get("function")
        name = function.get("name") if isinstance(function, Mapping) else choice.get("name")
        if not isinstance(name, str) or not name:
            raise DialectError(f"{param}: a function tool choice must name the function", param=param)
        result = {"type": "tool", "name": name}
    elif isinstance(choice, Mapping) and choice.get("type") in ("auto", "any", "tool", "none"):
        result = {k: v for k, v in choice.items() if k in ("type", "name", "disable_parallel_tool_use")}
        if result["type"] == "none":
            return result
    else:
        raise DialectError(f"{param} must be none, auto, required or a named function", param=param)
    if parallel is False:
        result["disable_parallel_tool_use"] = True
    elif parallel is None and choice is None:
        return None  # nothing asked: the API's default is auto
    return result


def function_tool(spec: Mapping[str, Any], extra: Mapping[str, Any], traits: ModelTraits, param: str) -> dict[str, Any]:
    """A Messages tool from an OpenAI function (`spec` holds name/description/parameters/strict; `extra` may hold the
    tool's ``cache_control``, passed through)."""
    name = spec.get("name")
    if not isinstance(name, str) or not name:
        raise DialectError(f"{param}: a function tool needs a name", param=param)
    schema = spec.get("parameters")
    if schema is None:
        schema = {"type": "object", "properties": {}}
    elif not isinstance(schema, Mapping):
        raise DialectError(f"{param}.parameters must be a JSON schema object", param=param)
    tool: dict[str, Any] = {"name": name, "input_schema": dict(schema)}
    description = spec.get("description")
    if isinstance(description, str) and description:
        tool["description"] = description
    if spec.get("strict") is True and traits.structured_outputs:
        tool["strict"] = True
    for source in (spec, extra):
        cache_control = source.get("cache_control")
        if isinstance(cache_control, Mapping):
            tool["cache_control"] = dict(cache_control)
    return tool


def custom_tool(spec: Mapping[str, Any], traits: ModelTraits, param: str) -> dict[str, Any]:
    """A Messages tool for an OpenAI custom (free-form) tool: one string argument, ``input``, its format described.

    Cursor and Codex declare their patch tool this way. The call comes back as a function call whose arguments are
    ``{"input": "..."}``, and a replayed ``custom_tool_call`` is read the same way.
    """
    name = spec.get("name")
    if not isinstance(name, str) or not name:
        raise DialectError(f"{param}: a custom tool needs a name", param=param)
    about = "The tool's whole input, as one string."
    fmt = spec.get("format")
    if isinstance(fmt, Mapping) and fmt.get("type") == "grammar" and isinstance(fmt.get("definition"), str):
        about += f" It must follow this {fmt.get('syntax', '')} grammar:\n{fmt['definition']}"
    schema = {
        "type": "object",
        "properties": {"input": {"type": "string", "description": about}},
        "required": ["input"],
    }
    tool: dict[str, Any] = {"name": name, "input_schema": schema}
    if isinstance(spec.get("description"), str) and spec["description"]:
        tool["description"] = spec["description"]
    if isinstance(spec.get("cache_control"), Mapping):
        tool["cache_control"] = dict(spec["cache_control"])
    return tool


def _system_hint(body: dict[str, Any], text: str) -> None:
    system = body.setdefault("system", [])
    system.append({"type": "text", "text": text})


def apply_response_format(body: dict[str, Any], fmt: Any, traits: ModelTraits, param: str) -> None:
    """Structured output from ``response_format`` (chat) or ``text.format`` (responses; the schema sits flat)."""
    if fmt is None:
        return
    if not isinstance(fmt, Mapping):
        raise DialectError(f"{param} must be an object", param=param)
    kind = fmt.get("type")
    if kind == "text":
        return
    if kind == "json_object":
        _system_hint(body, _JSON_OBJECT_HINT)
        return
    if kind != "json_schema":
        raise DialectError(f"{param}.type must be text, json_object or json_schema", param=f"{param}.type")
    spec = fmt.get("json_schema", fmt)  # chat nests it under json_schema; responses puts it flat
    schema = spec.get("schema") if isinstance(spec, Mapping) else None
    if not isinstance(schema, Mapping):
        raise DialectError(f"{param}: json_schema needs a schema object", param=param)
    if traits.structured_outputs:
        body.setdefault("output_config", {})["format"] = {"type": "json_schema", "schema": dict(schema)}
    else:
        _system_hint(
            body,
            "Respond with a single JSON value matching this JSON schema and nothing else: "
            + json.dumps(schema, separators=(",", ":")),
        )


def apply_metadata_user(body: dict[str, Any], source: Mapping[str, Any]) -> None:
    """``user`` (or its successor ``safety_identifier``) -> ``metadata.user_id``."""
    user = source.get("user") or source.get("safety_identifier")
    if user is None:
        return
    if not isinstance(user, str):
        raise DialectError("user must be a string", param="user")
    body["metadata"] = {"user_id": user[:256]}
