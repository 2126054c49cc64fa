"""Bodies and SSE events shaped exactly as the Anthropic API sends them, plus the simulator's token arithmetic.

Pure functions: nothing here touches a socket or a clock.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from claudewire.sim.toolcall import choose_tool, sample_input

__all__ = [
    "ERROR_TYPES",
    "NO_CACHE",
    "CacheUsage",
    "Reply",
    "block_text",
    "build_reply",
    "count_input_tokens",
    "error_body",
    "message_body",
    "portal_page",
    "rfc3339",
    "sse",
    "stream_events",
]

ERROR_TYPES: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "Invalid request."),
    401: ("authentication_error", "invalid x-api-key"),
    402: ("billing_error", "Your credit balance is too low to access the Anthropic API."),
    403: ("permission_error", "Your API key does not have permission to use the specified resource."),
    404: ("not_found_error", "Not found."),
    408: ("timeout_error", "Request timed out."),
    409: ("conflict_error", "Conflict."),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "Number of requests has exceeded your rate limit. Please try again later."),
    500: ("api_error", "Internal server error"),
    502: ("api_error", "Bad gateway"),
    503: ("api_error", "Service unavailable"),
    504: ("timeout_error", "Request timed out"),
    529: ("overloaded_error", "Overloaded"),
}
"""Status → (error.type, default message) as the API reports them."""

SPEND_LIMIT_MESSAGE = (
    "You have reached your specified workspace API usage limits. You will regain access on the first of next month."
)

_TEXT = (
    "Hello! I am the claudewire simulator, a stand-in for the Claude API that answers deterministically and fails "
    "only on purpose. Every word of this reply is one token, so usage counts are easy to check. The quick brown "
    "fox jumps over the lazy dog while the simulator keeps streaming plausible text for as long as you ask it to."
)
_WORDS = _TEXT.split()


def error_body(error_type: str, message: str, request_id: str, details: Mapping[str, Any] | None = None) -> bytes:
    """``{"type":"error","error":{"type","message"},"request_id"}`` as bytes."""
    err: dict[str, Any] = {"type": error_type, "message": message}
    if details is not None:
        err["details"] = dict(details)
    return json.dumps({"type": "error", "error": err, "request_id": request_id}).encode()


def rfc3339(epoch: float) -> str:
    """An epoch as the API's RFC 3339 timestamps (``2024-08-20T18:37:24.100435Z``)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def portal_page(path: str) -> bytes:
    """The HTML a captive portal answers every request with."""
    return (
        "<!DOCTYPE html><html><head><title>Guest Wi-Fi - Sign in</title></head><body>"
        "<h1>Welcome to Guest Wi-Fi</h1><p>Please accept the terms of use to access the internet.</p>"
        f'<form method="post" action="/login?redirect={path}"><button>Accept and connect</button></form>'
        "</body></html>"
    ).encode()


_COUNTED = frozenset({"text", "tool_result", "tool_use", "image", "document"})


def block_text(block: Mapping[str, Any]) -> str:
    """The text one content block counts as (an image or document counts as ~1,500 tokens)."""
    kind = block.get("type")
    if kind == "text":
        return str(block.get("text", ""))
    if kind == "tool_result":
        return _text_of(block.get("content", ""))
    if kind == "tool_use":
        return json.dumps(block.get("input", {}))
    if kind in ("image", "document"):
        return "x" * 6000  # ~1,500 tokens, about what a small image costs
    return ""


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    return " ".join(block_text(b) for b in content if isinstance(b, Mapping) and b.get("type") in _COUNTED)


def count_input_tokens(body: Mapping[str, Any]) -> int:
    """Plausible input tokens: ~4 characters a token, plus per-message and per-tool overheads."""
    chars = len(_text_of(body.get("system", "")))
    messages = body.get("messages")
    count = 0
    if isinstance(messages, list):
        for message in messages:
            if isinstance(message, Mapping):
                chars += len(_text_of(message.get("content", "")))
                count += 1
    tools = body.get("tools")
    tool_chars = len(json.dumps(tools)) if isinstance(tools, list) and tools else 0
    return 8 + 3 * count + (chars + 3) // 4 + (tool_chars + 3) // 4 + (300 if tool_chars else 0)


@dataclass(frozen=True, slots=True)
class Reply:
    """What the simulated model answers: text pieces (one token each) or one tool call."""

    pieces: tuple[str, ...]
    stop_reason: str
    tool: tuple[str, str, dict[str, Any]] | None = None  # (id, name, input)

    @property
    def output_tokens(self) -> int:
        """Output tokens: one per text piece, or the size of the tool call."""
        if self.tool is not None:
            return 20 + len(json.dumps(self.tool[2])) // 4
        return len(self.pieces)


def build_reply(body: Mapping[str, Any], reply_tokens: int, request_number: int) -> Reply:
    """The answer to a messages request: a tool call (see `sim.toolcall`), else `reply_tokens` words of text."""
    tool = choose_tool(body)
    if tool is not None:
        call_id = f"toolu_01Sim{request_number:019d}"
        return Reply((), "tool_use", (call_id, str(tool["name"]), sample_input(tool)))
    max_tokens = body.get("max_tokens")
    limit = max_tokens if isinstance(max_tokens, int) and max_tokens > 0 else reply_tokens
    return _text_reply(min(reply_tokens, limit), limit < reply_tokens)


@functools.lru_cache(maxsize=64)
def _text_reply(n: int, truncated: bool) -> Reply:
    words = [_WORDS[i % len(_WORDS)] for i in range(n)]
    pieces = tuple(w if i == 0 else " " + w for i, w in enumerate(words))
    return Reply(pieces, "max_tokens" if truncated else "end_turn")


@dataclass(frozen=True, slots=True)
class CacheUsage:
    """Prompt-cache tokens of one request: read from the cache, and written to it per TTL (see `sim.cache`)."""

    read: int = 0
    created_5m: int = 0
    created_1h: int = 0

    @property
    def created(self) -> int:
        """All tokens written to the cache, whatever their TTL."""
        return self.created_5m + self.created_1h


NO_CACHE = CacheUsage()


def _content(reply: Reply) -> list[dict[str, Any]]:
    if reply.tool is not None:
        call_id, name, args = reply.tool
        return [{"type": "tool_use", "id": call_id, "name": name, "input": args}]
    return [{"type": "text", "text": "".join(reply.pieces)}]


def _usage(input_tokens: int, output_tokens: int, cache: CacheUsage) -> dict[str, Any]:
    # input_tokens counts only what follows the cached prefix: the three add up to the whole prompt
    return {
        "input_tokens": input_tokens - cache.read - cache.created,
        "cache_creation_input_tokens": cache.created,
        "cache_read_input_tokens": cache.read,
        "cache_creation": {
            "ephemeral_5m_input_tokens": cache.created_5m,
            "ephemeral_1h_input_tokens": cache.created_1h,
        },
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }


def message_body(message_id: str, model: str, reply: Reply, input_tokens: int, cache: CacheUsage = NO_CACHE) -> bytes:
    """The non-streaming ``Message`` object as bytes."""
    return json.dumps(
        {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": _content(reply),
            "stop_reason": reply.stop_reason,
            "stop_sequence": None,
            "usage": _usage(input_tokens, reply.output_tokens, cache),
        }
    ).encode()


_DELTA = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens")


def sse(event: str, data: Mapping[str, Any]) -> bytes:
    """One server-sent event, framed as the API frames it."""
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def stream_events(
    message_id: str, model: str, reply: Reply, input_tokens: int, cache: CacheUsage = NO_CACHE
) -> tuple[list[bytes], int]:
    """Every SSE event of a streamed reply, in order, and the index of the first content delta.

    message_start, content_block_start, ping, content_block_delta ..., content_block_stop, message_delta,
    message_stop — as the Messages streaming API sends them.
    """
    start: dict[str, Any] = {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": _usage(input_tokens, 1, cache),
    }
    events = [sse("message_start", {"type": "message_start", "message": start})]
    deltas: Sequence[dict[str, Any]]
    if reply.tool is not None:
        call_id, name, args = reply.tool
        block: dict[str, Any] = {"type": "tool_use", "id": call_id, "name": name, "input": {}}
        text = json.dumps(args)
        chunks = [text[i : i + 12] for i in range(0, len(text), 12)] or [""]
        deltas = [{"type": "input_json_delta", "partial_json": c} for c in chunks]
    else:
        block = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": p} for p in reply.pieces]
    events.append(sse("content_block_start", {"type": "content_block_start", "index": 0, "content_block": block}))
    events.append(sse("ping", {"type": "ping"}))
    first_delta = len(events)
    events.extend(sse("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": d}) for d in deltas)
    events.append(sse("content_block_stop", {"type": "content_block_stop", "index": 0}))
    events.append(
        sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": reply.stop_reason, "stop_sequence": None},
                # cumulative, as the API sends them: the input side repeats message_start's counts
                "usage": {k: v for k, v in _usage(input_tokens, reply.output_tokens, cache).items() if k in _DELTA},
            },
        )
    )
    events.append(sse("message_stop", {"type": "message_stop"}))
    return events, first_delta
