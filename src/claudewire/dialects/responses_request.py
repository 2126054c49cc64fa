"""OpenAI Responses request body -> Messages request body.

The gateway is stateless: it keeps no responses, so ``previous_response_id``, ``conversation`` and ``store: true``
are refused with a 400 that says to send the whole conversation in ``input`` (``store`` absent or false is fine:
nothing is stored either way). An ``item_reference`` to a reasoning item (as the Vercel AI SDK sends) is dropped:
unsigned reasoning is never replayed; any other reference is a 400.

Rules (each pinned by a test in tests/dialects/test_responses_request.py):

- ``input``: a string (one user message) or items: messages (``input_text``, ``input_image``, ``input_file``,
  ``output_text``, ``refusal`` parts), ``function_call`` -> an assistant ``tool_use`` (``call_id`` is the id),
  ``function_call_output`` -> a user ``tool_result`` (consecutive ones in one turn), ``reasoning`` with
  ``encrypted_content`` (as `claudewire.dialects.responses_response` writes it) -> the signed thinking block again.
- ``instructions`` and system/developer messages -> ``system``; ``max_output_tokens`` -> ``max_tokens``;
  function, custom and namespace (flattened) tools -> Messages tools; tools OpenAI's servers run (``web_search``,
  ``file_search`` ... `HOSTED_TOOLS`) are left out; any other type is a 400; ``tool_choice``, ``parallel_tool_calls``,
  ``reasoning.effort``, ``text.format``, sampling and ``user`` as `claudewire.dialects.knobs` says.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from claudewire.dialects import knobs
from claudewire.dialects.blocks import content_blocks, document_block, image_block, text_block
from claudewire.dialects.chat_request import (
    add_turn,
    finish_request,
    parse_arguments,
    reply_model,
    set_stream,
    strip_prefill,
    tool_id,
    tool_result,
)
from claudewire.dialects.common import DialectError, MessagesRequest, Target, objects

__all__ = ["REDACTED_PREFIX", "convert_input", "refuse_state", "responses_request"]

REDACTED_PREFIX = "cw-redacted:"
"""How a reasoning item's ``encrypted_content`` marks a redacted thinking block (the rest is its ``data``); any other
value is a thinking block's signature."""

HOSTED_TOOLS = (
    "web_search",
    "file_search",
    "code_interpreter",
    "image_generation",
    "computer_use",
    "local_shell",
    "mcp",
    "tool_search",
)
"""Tool types (prefixes) OpenAI's servers run: left out of the translated request, never a 400."""
log = logging.getLogger(__name__)

_ECHOED = ("instructions", "max_output_tokens", "metadata", "reasoning", "temperature", "text", "top_p", "user")


def _parts(content: Any, param: str) -> list[dict[str, Any]]:
    return content_blocks(content, param, _part_block)


def _part_block(part: Mapping[str, Any], where: str) -> dict[str, Any] | None:
    kind = part.get("type")
    if kind in ("input_text", "output_text", "text"):
        return text_block(part.get("text"), part, where)
    if kind == "refusal":
        return text_block(part.get("refusal"), part, where)
    if kind == "input_image":
        if part.get("image_url") is None and part.get("file_id") is not None:
            raise DialectError(f"{where}: uploaded file ids are not supported; send image_url", param=where)
        return image_block(part.get("image_url"), part, where)
    if kind == "input_file":
        return document_block(
            data=part.get("file_data"), url=part.get("file_url"), filename=part.get("filename"), part=part, param=where
        )
    raise DialectError(f"{where}: content part type {kind!r} is not supported", param=where)


def _reasoning(item: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The signed thinking block a reasoning item carries, or nothing (unsigned reasoning is never replayed)."""
    sealed = item.get("encrypted_content")
    if not isinstance(sealed, str) or not sealed:
        return []
    if sealed.startswith(REDACTED_PREFIX):
        return [{"type": "redacted_thinking", "data": sealed[len(REDACTED_PREFIX) :]}]
    texts = [s.get("text", "") for s in item.get("summary") or () if isinstance(s, Mapping)]
    return [{"type": "thinking", "thinking": "".join(t for t in texts if isinstance(t, str)), "signature": sealed}]


def convert_input(value: Any, *, param: str = "input") -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The system blocks and Messages turns of a Responses ``input``."""
    if isinstance(value, str):
        return [], [{"role": "user", "content": [{"type": "text", "text": value}]}]
    if not isinstance(value, list) or not value:
        raise DialectError(f"{param} must be a string or a non-empty list of items", param=param)
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for where, item in objects(value, param):
        kind = item.get("type") or ("message" if "role" in item else None)
        if kind == "message":
            role = item.get("role")
            blocks = _parts(item.get("content"), f"{where}.content")
            if role in ("system", "developer"):
                if any(b["type"] != "text" for b in blocks):
                    raise DialectError(f"{where}: a {role} message may hold only text", param=where)
                system.extend(blocks)
            elif role in ("user", "assistant"):
                add_turn(turns, role, blocks)
            else:
                raise DialectError(f"{where}.role {role!r} is not supported", param=f"{where}.role")
        elif kind in ("function_call", "custom_tool_call"):
            name = item.get("name")
            if not isinstance(name, str) or not name:
                raise DialectError(f"{where}.name must be a non-empty string", param=f"{where}.name")
            call: dict[str, Any] = {"type": "tool_use", "id": tool_id(item.get("call_id"), f"{where}.call_id")}
            call["name"] = name
            if kind == "function_call":
                call["input"] = parse_arguments(item.get("arguments"), f"{where}.arguments")
            else:  # a custom tool's raw input, as `knobs.custom_tool` declared it
                raw = item.get("input")
                call["input"] = {"input": raw if isinstance(raw, str) else ""}
            add_turn(turns, "assistant", [call])
        elif kind in ("function_call_output", "custom_tool_call_output"):
            call_id = tool_id(item.get("call_id"), where)
            add_turn(turns, "user", [tool_result(call_id, _parts(item.get("output") or "", f"{where}.output"))])
        elif kind == "reasoning":
            add_turn(turns, "assistant", _reasoning(item))
        elif kind == "item_reference" and str(item.get("id", "")).startswith("rs_"):
            continue
        elif kind == "item_reference":
            raise DialectError(f"{where}: item references need stored responses; send the item itself", param=where)
        else:
            raise DialectError(f"{where}: input item type {kind!r} is not supported", param=where)
    strip_prefill(turns)
    return system, turns


def _tools(tools: Any, target: Target, param: str = "tools") -> list[dict[str, Any]]:
    if not isinstance(tools, list):
        raise DialectError(f"{param} must be a list", param=param)
    out: list[dict[str, Any]] = []
    for j, tool in enumerate(tools):
        kind = tool.get("type") if isinstance(tool, Mapping) else None
        where = f"{param}[{j}]"
        if kind == "function":
            out.append(knobs.function_tool(tool, tool, target.traits, where))
        elif kind == "custom":
            out.append(knobs.custom_tool(tool, target.traits, where))
        elif kind == "namespace":  # a group of tools (Codex CLI's sub-agent tools): its members, by their names
            out.extend(_tools(tool.get("tools"), target, f"{where}.tools"))
        elif isinstance(kind, str) and kind.startswith(HOSTED_TOOLS):
            # a tool OpenAI's servers run (Codex CLI always offers web_search): nothing here can run it, so the model
            # is not offered it; a 400 would make such a client unusable
            log.debug("%s: OpenAI-hosted tool %r left out (no Messages equivalent runs it)", where, kind)
        else:
            raise DialectError(
                f"{where}: tool type {kind!r} is not supported (function, custom and namespace tools)", param=where
            )
    return out


def refuse_state(body: Mapping[str, Any]) -> None:
    """A 400 for the fields that need stored responses (the gateway is stateless)."""
    for field in ("previous_response_id", "conversation"):
        if body.get(field) is not None:
            raise DialectError(
                f"{field} is not supported: this gateway keeps no responses; send the whole conversation in input",
                param=field,
            )
    if body.get("store") is True:
        raise DialectError(
            "store: true is not supported: this gateway keeps no responses; send store: false", param="store"
        )


def responses_request(body: Mapping[str, Any], target: Target) -> MessagesRequest:
    """Translate a Responses body into the Messages request for `target` (raises `DialectError`)."""
    if not isinstance(body, Mapping):
        raise DialectError("the request body must be a JSON object")
    refuse_state(body)
    system, turns = convert_input(body.get("input"))
    instructions = body.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise DialectError("instructions must be a string", param="instructions")
    if instructions:
        system.insert(0, {"type": "text", "text": instructions})
    value, explicit = knobs.max_tokens(body.get("max_output_tokens"), target, "max_output_tokens")
    out: dict[str, Any] = {"model": target.model, "max_tokens": value, "messages": turns}
    if system:
        out["system"] = system
    if body.get("tools"):
        out["tools"] = _tools(body["tools"], target)
    choice = knobs.tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls"), bool(out.get("tools")))
    if choice is not None:
        out["tool_choice"] = choice
    text = body.get("text")
    if text is not None and not isinstance(text, Mapping):
        raise DialectError("text must be an object", param="text")
    knobs.apply_response_format(out, (text or {}).get("format"), target.traits, "text.format")
    reasoning = body.get("reasoning")
    effort = reasoning.get("effort") if isinstance(reasoning, Mapping) else None
    betas = finish_request(out, body, target, effort=effort, effort_param="reasoning.effort", explicit=explicit)
    stream = set_stream(out, body)
    echo: dict[str, Any] = {k: body[k] for k in _ECHOED if body.get(k) is not None}
    echo["tools"] = list(body.get("tools") or [])
    echo["tool_choice"] = body.get("tool_choice") or "auto"
    echo["parallel_tool_calls"] = body.get("parallel_tool_calls") is not False
    return MessagesRequest(out, stream, True, reply_model(body, target), betas, echo)
