"""Messages answers and SSE streams as the API writes them, for feeding the translators."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from claudewire.dialects import ModelTraits, Target

Event = tuple[str, dict[str, Any]]

ADAPTIVE = ModelTraits(adaptive_thinking=True, budget_thinking=False, rejects_sampling=True, max_output=128_000)
"""Traits of a 4.7-class model: adaptive thinking only, sampling refused."""
BUDGET = ModelTraits(adaptive_thinking=False, budget_thinking=True, max_output=64_000)
"""Traits of a 4.5-class model: budgeted thinking only, sampling taken."""


def target(traits: ModelTraits = BUDGET, **kw: Any) -> Target:
    """A target on the model the tests call."""
    return Target("claude-sonnet-4-5", traits, **kw)


def sse(events: Iterable[Event]) -> bytes:
    """The wire bytes of `events`, as the API frames them."""
    return b"".join(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in events)


def message_start(id: str = "msg_01abc", **usage: int) -> Event:
    """``message_start`` with the input counts (the API reports output_tokens 1 here)."""
    counts = {"input_tokens": 10, "output_tokens": 1, **usage}
    message = {"id": id, "type": "message", "role": "assistant", "model": "claude-sonnet-4-5", "content": []}
    return "message_start", {"type": "message_start", "message": {**message, "stop_reason": None, "usage": counts}}


def block_start(index: int, block: dict[str, Any]) -> Event:
    """``content_block_start``."""
    return "content_block_start", {"type": "content_block_start", "index": index, "content_block": block}


def delta(index: int, body: dict[str, Any]) -> Event:
    """``content_block_delta``."""
    return "content_block_delta", {"type": "content_block_delta", "index": index, "delta": body}


def block_stop(index: int) -> Event:
    """``content_block_stop``."""
    return "content_block_stop", {"type": "content_block_stop", "index": index}


def message_delta(stop_reason: str = "end_turn", **usage: int) -> Event:
    """``message_delta`` with the final (cumulative) usage."""
    counts = {"output_tokens": 20, **usage}
    return "message_delta", {"type": "message_delta", "delta": {"stop_reason": stop_reason}, "usage": counts}


STOP: Event = ("message_stop", {"type": "message_stop"})
PING: Event = ("ping", {"type": "ping"})


def text_block(index: int, *parts: str) -> list[Event]:
    """A text block streamed in `parts`."""
    return [
        block_start(index, {"type": "text", "text": ""}),
        *(delta(index, {"type": "text_delta", "text": p}) for p in parts),
        block_stop(index),
    ]


def tool_block(index: int, id: str, name: str, *fragments: str) -> list[Event]:
    """A tool_use block whose input streams in `fragments` (the API sends an empty one first)."""
    return [
        block_start(index, {"type": "tool_use", "id": id, "name": name, "input": {}}),
        delta(index, {"type": "input_json_delta", "partial_json": ""}),
        *(delta(index, {"type": "input_json_delta", "partial_json": f}) for f in fragments),
        block_stop(index),
    ]


def thinking_block(index: int, text: str, signature: str = "sig-abc") -> list[Event]:
    """A thinking block with its signature."""
    return [
        block_start(index, {"type": "thinking", "thinking": "", "signature": ""}),
        delta(index, {"type": "thinking_delta", "thinking": text}),
        delta(index, {"type": "signature_delta", "signature": signature}),
        block_stop(index),
    ]


def answer(*blocks: Sequence[Event], stop_reason: str = "end_turn", **usage: int) -> list[Event]:
    """A whole stream: start, the blocks, the final usage, stop."""
    events: list[Event] = [message_start(**usage)]
    for block in blocks:
        events.extend(block)
    return [*events, message_delta(stop_reason), STOP]


def message(*content: dict[str, Any], stop_reason: str = "end_turn", **usage: int) -> dict[str, Any]:
    """A non-streamed Messages answer."""
    counts = {"input_tokens": 10, "output_tokens": 20, **usage}
    return {
        "id": "msg_01abc",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": list(content),
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": counts,
    }


def frames(data: bytes) -> list[str]:
    """The ``data:`` payloads of a Chat Completions stream, in order."""
    return [line[6:] for line in data.decode().split("\n") if line.startswith("data: ")]


def chunks(data: bytes) -> list[dict[str, Any]]:
    """The JSON chunks of a Chat Completions stream (``[DONE]`` left out)."""
    return [json.loads(f) for f in frames(data) if f != "[DONE]"]


def named_events(data: bytes) -> list[dict[str, Any]]:
    """The JSON payloads of a Responses stream, checking each ``event:`` line names its payload's type."""
    out: list[dict[str, Any]] = []
    for raw in data.decode().split("\n\n"):
        if not raw.strip():
            continue
        name_line, data_line = raw.split("\n")
        payload = json.loads(data_line.removeprefix("data: "))
        assert name_line == f"event: {payload['type']}"
        out.append(payload)
    return out
