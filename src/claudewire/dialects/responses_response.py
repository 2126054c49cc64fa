"""Messages answer (JSON) -> a Responses ``Response`` object, and the output items the stream shares.

Output items, in the answer's order: a ``thinking`` block -> a ``reasoning`` item (its text as one ``summary_text``,
its signature as ``encrypted_content``, so a caller that sends the item back, as Codex does, replays signed thinking;
a ``redacted_thinking`` block rides in ``encrypted_content`` behind `REDACTED_PREFIX`); a ``text`` block -> a
``message`` item with one ``output_text``; a ``tool_use`` block -> a ``function_call`` item whose ``call_id`` is the
block's id and whose ``arguments`` are its input as JSON. Ids derive from the Messages id (``msg_X`` ->
``resp_X``, items ``msg_X_0``, ``fc_X_1``, ``rs_X_2``), so the same answer always gets the same ids.

``status`` is ``completed``, or ``incomplete`` with ``incomplete_details.reason`` ``max_output_tokens`` (the answer
hit its limit) or ``content_filter`` (a refusal). Usage as `claudewire.dialects.usage` says.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from claudewire.dialects.chat_response import tool_arguments
from claudewire.dialects.common import dumps, upstream_message
from claudewire.dialects.responses_request import REDACTED_PREFIX
from claudewire.dialects.usage import TokenCounts

__all__ = [
    "function_call_item",
    "item_id",
    "message_item",
    "outcome",
    "reasoning_item",
    "response_envelope",
    "response_object",
    "responses_answer",
]


def item_id(prefix: str, message_id: str, index: int) -> str:
    """A stable output item id: the kind's prefix, the Messages id's tail, the block's index."""
    return f"{prefix}_{message_id.removeprefix('msg_')}_{index}"


def message_item(id: str, text: str, *, done: bool = True) -> dict[str, Any]:
    """A ``message`` item (an empty content list while it streams in)."""
    content = [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}] if done else []
    status = "completed" if done else "in_progress"
    return {"type": "message", "id": id, "role": "assistant", "status": status, "content": content}


def function_call_item(id: str, call_id: str, name: str, arguments: str, *, done: bool = True) -> dict[str, Any]:
    """A ``function_call`` item."""
    status = "completed" if done else "in_progress"
    return {
        "type": "function_call",
        "id": id,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": status,
    }


def reasoning_item(id: str, text: str, sealed: str) -> dict[str, Any]:
    """A ``reasoning`` item: the thinking text as its summary, the signature (or redacted data) sealed."""
    item: dict[str, Any] = {"type": "reasoning", "id": id, "summary": []}
    if text:
        item["summary"] = [{"type": "summary_text", "text": text}]
    if sealed:
        item["encrypted_content"] = sealed
    return item


def outcome(stop_reason: Any) -> tuple[str, dict[str, str] | None]:
    """The Response ``status`` and ``incomplete_details`` for a Messages ``stop_reason``."""
    if stop_reason in ("max_tokens", "model_context_window_exceeded"):
        return "incomplete", {"reason": "max_output_tokens"}
    if stop_reason == "refusal":
        return "incomplete", {"reason": "content_filter"}
    return "completed", None


def response_envelope(
    id: str, *, model: str, created: int, echo: Mapping[str, Any], status: str, output: list[dict[str, Any]]
) -> dict[str, Any]:
    """The ``Response`` object around `output`, repeating the request fields in `echo`."""
    response: dict[str, Any] = {
        "id": id,
        "object": "response",
        "created_at": created,
        "model": model,
        "status": status,
        "output": output,
        "error": None,
        "incomplete_details": None,
        "tools": list(echo.get("tools") or []),
        "tool_choice": echo.get("tool_choice") or "auto",
        "parallel_tool_calls": echo.get("parallel_tool_calls", True) is not False,
    }
    for key in ("instructions", "max_output_tokens", "metadata", "reasoning", "temperature", "text", "top_p", "user"):
        if key in echo:
            response[key] = echo[key]
    return response


def response_object(
    message: Mapping[str, Any], *, model: str, created: int, echo: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The ``Response`` for a Messages answer; `echo` is `MessagesRequest.echo`, `created` epoch seconds."""
    message_id = str(message.get("id") or "msg_claudewire")
    output: list[dict[str, Any]] = []
    for index, block in enumerate(message.get("content") or ()):
        kind = block.get("type") if isinstance(block, Mapping) else None
        if kind == "text":
            output.append(message_item(item_id("msg", message_id, index), str(block.get("text", ""))))
        elif kind == "tool_use":
            output.append(
                function_call_item(
                    item_id("fc", message_id, index),
                    str(block.get("id", "")),
                    str(block.get("name", "")),
                    tool_arguments(block.get("input")),
                )
            )
        elif kind == "thinking":
            output.append(
                reasoning_item(
                    item_id("rs", message_id, index), str(block.get("thinking", "")), str(block.get("signature", ""))
                )
            )
        elif kind == "redacted_thinking":
            sealed = REDACTED_PREFIX + str(block.get("data", ""))
            output.append(reasoning_item(item_id("rs", message_id, index), "", sealed))
    status, incomplete = outcome(message.get("stop_reason"))
    response = response_envelope(
        "resp_" + message_id.removeprefix("msg_"),
        model=model,
        created=created,
        echo=echo or {},
        status=status,
        output=output,
    )
    response["incomplete_details"] = incomplete
    counts = TokenCounts()
    counts.update(message.get("usage"))
    response["usage"] = counts.responses()
    return response


def responses_answer(body: bytes, *, model: str, created: int, echo: Mapping[str, Any] | None = None) -> bytes:
    """`response_object` from the upstream's JSON bytes to the bytes to write (a non-JSON body is a 502)."""
    message = upstream_message(body)
    return dumps(response_object(message, model=model, created=created, echo=echo))
