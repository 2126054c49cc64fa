"""Messages answer (JSON) -> a ``chat.completion`` object.

Text blocks join into ``message.content``; ``tool_use`` blocks become ``tool_calls`` (the block's id is the call's
``id``, its ``input`` the ``arguments`` JSON); thinking becomes ``reasoning_content`` (the text) and
``thinking_blocks`` (the blocks with their signatures, which `claudewire.dialects.chat_request` replays when the
caller sends the message back, as LiteLLM's clients do). Stop reasons map as `finish_reason` says; usage as
`claudewire.dialects.usage` says. Server tool blocks (web search ...) are not carried: Chat Completions has no place
for them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from claudewire.dialects.common import dumps, upstream_message
from claudewire.dialects.usage import TokenCounts

__all__ = ["FINISH_REASONS", "chat_answer", "chat_completion", "finish_reason", "tool_arguments"]

FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def finish_reason(stop_reason: Any) -> str:
    """The ``finish_reason`` for a Messages ``stop_reason``; an unknown or missing one is ``stop``, never an error."""
    return FINISH_REASONS.get(stop_reason, "stop") if isinstance(stop_reason, str) else "stop"


def tool_arguments(value: Any) -> str:
    """A tool call's ``arguments``: the ``input`` object as compact JSON."""
    return json.dumps(value if isinstance(value, dict) else {}, ensure_ascii=False, separators=(",", ":"))


def chat_completion(message: Mapping[str, Any], *, model: str, created: int) -> dict[str, Any]:
    """The ``chat.completion`` for a Messages answer; `model` is the name the caller asked for, `created` epoch s."""
    texts: list[str] = []
    reasoning: list[str] = []
    thinking_blocks: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    for block in message.get("content") or ():
        kind = block.get("type") if isinstance(block, Mapping) else None
        if kind == "text":
            texts.append(str(block.get("text", "")))
        elif kind == "tool_use":
            calls.append(
                {
                    "id": str(block.get("id", "")),
                    "type": "function",
                    "function": {"name": str(block.get("name", "")), "arguments": tool_arguments(block.get("input"))},
                }
            )
        elif kind == "thinking":
            reasoning.append(str(block.get("thinking", "")))
            thinking_blocks.append(
                {"type": "thinking", "thinking": block.get("thinking", ""), "signature": block.get("signature", "")}
            )
        elif kind == "redacted_thinking":
            thinking_blocks.append({"type": "redacted_thinking", "data": block.get("data", "")})
    reply: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
    if calls:
        reply["tool_calls"] = calls
    if reasoning:
        reply["reasoning_content"] = "".join(reasoning)
    if thinking_blocks:
        reply["thinking_blocks"] = thinking_blocks
    if message.get("stop_reason") == "refusal":
        reply["refusal"] = reply["content"] or "The model declined to answer."
    counts = TokenCounts()
    counts.update(message.get("usage"))
    return {
        "id": str(message.get("id") or "chatcmpl-claudewire"),
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {"index": 0, "message": reply, "logprobs": None, "finish_reason": finish_reason(message.get("stop_reason"))}
        ],
        "usage": counts.chat(),
    }


def chat_answer(body: bytes, *, model: str, created: int) -> bytes:
    """`chat_completion` from the upstream's JSON bytes to the bytes to write (a non-JSON body is a 502)."""
    message = upstream_message(body)
    return dumps(chat_completion(message, model=model, created=created))
