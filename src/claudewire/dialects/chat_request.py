"""OpenAI Chat Completions request body -> Messages request body.

Rules (each pinned by a test in tests/dialects/test_chat_request.py):

- ``system`` and ``developer`` messages, wherever they stand, are hoisted into ``system`` in order, as text blocks
  keeping their ``cache_control``.
- User content parts: ``text``; ``image_url`` (a data URI -> a base64 image with its media type, an http(s) URL -> a
  URL image); ``file`` with PDF or text data -> a document. ``cache_control`` on parts and tools is passed through and
  never added. Anthropic-shaped ``image``/``document`` parts pass through as they are.
- Assistant ``tool_calls`` -> ``tool_use`` blocks with the same ids and the arguments parsed into ``input``;
  consecutive ``tool`` messages -> one user turn of ``tool_result`` blocks in their order. Ids the API would refuse
  (characters outside ``[A-Za-z0-9_-]``) are rewritten the same way on both sides, so a pair stays a pair; Claude's
  own ids are kept unchanged.
- An assistant turn's signed thinking (``thinking_blocks`` with a ``signature``, as returned by
  `claudewire.dialects.chat_response`) is replayed first in the turn; ``reasoning_content`` without a signature is
  dropped (an unsigned thinking block is a permanent 400).
- ``tools`` (functions) -> ``{name, description, input_schema}``; ``tool_choice``, ``parallel_tool_calls``,
  ``max_tokens``/``max_completion_tokens``, ``reasoning_effort``, sampling and ``response_format`` as
  `claudewire.dialects.knobs` says; ``stop`` -> ``stop_sequences``; ``user`` -> ``metadata.user_id``; ``n`` > 1 is a
  400 (Claude gives one choice per request). OpenAI-only knobs (penalties, ``logit_bias``, ``seed``, ``logprobs``,
  ``store``, ``metadata``, ``service_tier``) are ignored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from claudewire.dialects import knobs
from claudewire.dialects.blocks import content_blocks, document_block, image_block, text_block
from claudewire.dialects.common import DialectError, MessagesRequest, Target, objects

__all__ = [
    "FAST_MODE_BETA",
    "add_turn",
    "chat_request",
    "finish_request",
    "parse_arguments",
    "reply_model",
    "set_stream",
    "strip_prefill",
    "tool_id",
    "tool_result",
    "user_blocks",
]

FAST_MODE_BETA = "fast-mode-2026-02-01"
_BAD_ID_CHARS = re.compile(r"[^A-Za-z0-9_-]")


def tool_id(value: Any, param: str) -> str:
    """A tool call id as the API takes it (the same rewrite for the call and its result)."""
    if not isinstance(value, str) or not value:
        raise DialectError(f"{param} must be a non-empty string", param=param)
    return _BAD_ID_CHARS.sub("_", value)


def user_blocks(content: Any, param: str) -> list[dict[str, Any]]:
    """Content blocks of a user (or tool) message: a string, or a list of text/image/file parts."""
    return content_blocks(content, param, _part_block)


def _part_block(part: Mapping[str, Any], where: str) -> dict[str, Any] | None:
    kind = part.get("type")
    if kind in ("text", "refusal"):
        return text_block(part.get("refusal" if kind == "refusal" else "text"), part, where)
    if kind == "image_url":
        image = part.get("image_url")
        return image_block(image.get("url") if isinstance(image, Mapping) else image, part, where)
    if kind == "file":
        file = part.get("file")
        if not isinstance(file, Mapping):
            raise DialectError(f"{where}.file must be an object", param=where)
        return document_block(
            data=file.get("file_data"), url=file.get("file_url"), filename=file.get("filename"), part=part, param=where
        )
    if kind in ("image", "document") and isinstance(part.get("source"), Mapping):
        return dict(part)  # already a Messages block (Cursor sends some)
    raise DialectError(f"{where}: content part type {kind!r} is not supported", param=where)


def _system_blocks(content: Any, param: str) -> list[dict[str, Any]]:
    blocks = user_blocks(content, param)
    for block in blocks:
        if block["type"] != "text":
            raise DialectError(f"{param}: a system message may hold only text", param=param)
    return blocks


def _signed_thinking(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The turn's signed thinking blocks, replayable as they came; anything unsigned is dropped."""
    blocks: list[dict[str, Any]] = []
    for block in message.get("thinking_blocks") or ():
        if not isinstance(block, Mapping):
            continue
        if block.get("type") == "thinking" and isinstance(block.get("thinking"), str) and block.get("signature"):
            blocks.append({"type": "thinking", "thinking": block["thinking"], "signature": str(block["signature"])})
        elif block.get("type") == "redacted_thinking" and isinstance(block.get("data"), str) and block["data"]:
            blocks.append({"type": "redacted_thinking", "data": block["data"]})
    return blocks


def parse_arguments(raw: Any, param: str) -> dict[str, Any]:
    """A tool call's ``arguments`` JSON as the ``input`` object (empty arguments are ``{}``)."""
    if raw is None or raw == "":
        return {}
    if isinstance(raw, Mapping):
        return dict(raw)
    try:
        value = json.loads(raw) if isinstance(raw, str) else None
    except ValueError as exc:
        raise DialectError(f"{param} is not valid JSON", param=param) from exc
    if not isinstance(value, dict):
        raise DialectError(f"{param} must be a JSON object", param=param)
    return value


def _assistant_blocks(message: Mapping[str, Any], param: str) -> list[dict[str, Any]]:
    if message.get("function_call") is not None:
        raise DialectError(f"{param}.function_call is deprecated and not supported: use tool_calls", param=param)
    blocks = _signed_thinking(message)
    content = message.get("content")
    if content is not None:
        blocks.extend(user_blocks(content, f"{param}.content"))
    for j, call in enumerate(message.get("tool_calls") or ()):
        where = f"{param}.tool_calls[{j}]"
        function = call.get("function") if isinstance(call, Mapping) else None
        if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
            raise DialectError(f"{where} must be a function call with a name", param=where)
        blocks.append(
            {
                "type": "tool_use",
                "id": tool_id(call.get("id"), f"{where}.id"),
                "name": function["name"],
                "input": parse_arguments(function.get("arguments"), f"{where}.function.arguments"),
            }
        )
    return blocks


def add_turn(turns: list[dict[str, Any]], role: str, blocks: list[dict[str, Any]]) -> None:
    """Append a turn, merged into the previous one of the same role (tool results stay first in a user turn)."""
    if not blocks:
        return
    if turns and turns[-1]["role"] == role:
        content = turns[-1]["content"]
        if blocks[0]["type"] == "tool_result":
            at = 0
            while at < len(content) and content[at]["type"] == "tool_result":
                at += 1
            content[at:at] = blocks
        else:
            content.extend(blocks)
        return
    turns.append({"role": role, "content": blocks})


def strip_prefill(turns: list[dict[str, Any]]) -> None:
    """A final assistant turn (a prefill) may not end in whitespace: the API refuses it."""
    if not turns or turns[-1]["role"] != "assistant":
        return
    content = turns[-1]["content"]
    if content and content[-1]["type"] == "text":
        text = content[-1]["text"].rstrip()
        if text:
            content[-1] = {**content[-1], "text": text}
        else:
            content.pop()
    if not content:
        turns.pop()


def tool_result(tool_use_id: str, content: list[dict[str, Any]]) -> dict[str, Any]:
    """A ``tool_result`` block for the call `tool_use_id` (no ``content`` key when the result is empty)."""
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": tool_use_id}
    if content:
        block["content"] = content
    return block


def _convert(messages: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    if not isinstance(messages, list) or not messages:
        raise DialectError("messages must be a non-empty list", param="messages")
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for where, message in objects(messages, "messages"):
        role = message.get("role")
        if role in ("system", "developer"):
            system.extend(_system_blocks(message.get("content"), f"{where}.content"))
        elif role == "user":
            add_turn(turns, "user", user_blocks(message.get("content"), f"{where}.content"))
        elif role == "assistant":
            add_turn(turns, "assistant", _assistant_blocks(message, where))
        elif role == "tool":
            at = f"{where}.tool_call_id"  # its content's errors have long been named under it: kept as is
            call_id = tool_id(message.get("tool_call_id"), at)
            add_turn(turns, "user", [tool_result(call_id, user_blocks(message.get("content") or "", f"{at}.content"))])
        else:
            raise DialectError(f"{where}.role {role!r} is not supported", param=f"{where}.role")
    strip_prefill(turns)
    return system, turns


def _stops(stop: Any) -> list[str]:
    values = [stop] if isinstance(stop, str) else stop
    if not isinstance(values, list) or not all(isinstance(s, str) for s in values):
        raise DialectError("stop must be a string or a list of strings", param="stop")
    return [s for s in values if s.strip()]  # the API refuses whitespace-only stop sequences


def _tools(tools: Any, target: Target) -> list[dict[str, Any]]:
    if not isinstance(tools, list):
        raise DialectError("tools must be a list", param="tools")
    out: list[dict[str, Any]] = []
    for j, tool in enumerate(tools):
        where = f"tools[{j}]"
        kind = tool.get("type") if isinstance(tool, Mapping) else None
        if kind == "function" and isinstance(tool.get("function"), Mapping):
            out.append(knobs.function_tool(tool["function"], tool, target.traits, where))
        elif kind == "function":  # the Responses shape, flat (Cursor sends it on chat bodies too)
            out.append(knobs.function_tool(tool, tool, target.traits, where))
        elif kind == "custom":
            spec = tool.get("custom") if isinstance(tool.get("custom"), Mapping) else tool
            out.append(knobs.custom_tool(spec, target.traits, where))
        elif isinstance(tool, Mapping) and "input_schema" in tool:
            out.append(dict(tool))  # already a Messages tool
        else:
            raise DialectError(f"{where}: tool type {kind!r} is not supported (function and custom tools)", param=where)
    return out


def finish_request(
    out: dict[str, Any], source: Mapping[str, Any], target: Target, *, effort: Any, effort_param: str, explicit: bool
) -> tuple[str, ...]:
    """Set reasoning, sampling, user and fast mode on `out` (shared with the Responses translator); returns betas."""
    knobs.apply_reasoning(out, effort, target, explicit_max=explicit, param=effort_param)
    knobs.settle_thinking(out)
    knobs.apply_sampling(out, source, target.traits)
    knobs.apply_metadata_user(out, source)
    if target.fast and target.traits.fast_mode:
        out["speed"] = "fast"
        return (FAST_MODE_BETA,)
    return ()


def chat_request(body: Mapping[str, Any], target: Target) -> MessagesRequest:
    """Translate a Chat Completions body into the Messages request for `target` (raises `DialectError`)."""
    if not isinstance(body, Mapping):
        raise DialectError("the request body must be a JSON object")
    n = body.get("n")
    if n is not None and n != 1:
        raise DialectError("n > 1 is not supported: Claude returns one choice per request; send n requests", param="n")
    if body.get("functions") is not None:
        raise DialectError("functions is deprecated and not supported: use tools", param="functions")
    system, turns = _convert(body.get("messages"))
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    param = "max_completion_tokens" if "max_completion_tokens" in body else "max_tokens"
    value, explicit = knobs.max_tokens(limit, target, param)
    out: dict[str, Any] = {"model": target.model, "max_tokens": value, "messages": turns}
    if system:
        out["system"] = system
    if body.get("stop") is not None and (stops := _stops(body["stop"])):
        out["stop_sequences"] = stops
    if body.get("tools"):
        out["tools"] = _tools(body["tools"], target)
    choice = knobs.tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls"), bool(out.get("tools")))
    if choice is not None:
        out["tool_choice"] = choice
    knobs.apply_response_format(out, body.get("response_format"), target.traits, "response_format")
    betas = finish_request(
        out, body, target, effort=body.get("reasoning_effort"), effort_param="reasoning_effort", explicit=explicit
    )
    stream = set_stream(out, body)
    options = body.get("stream_options")
    include_usage = stream and isinstance(options, Mapping) and options.get("include_usage") is True
    return MessagesRequest(out, stream, include_usage, reply_model(body, target), betas)


def set_stream(out: dict[str, Any], body: Mapping[str, Any]) -> bool:
    """Whether the caller asked for a stream (``stream: true``), set on `out` when it did."""
    stream = body.get("stream") is True
    if stream:
        out["stream"] = True
    return stream


def reply_model(body: Mapping[str, Any], target: Target) -> str:
    """The model name an answer echoes: the one the caller asked for, else the model the call was sent to."""
    model = body.get("model")
    return model if isinstance(model, str) and model else target.model
