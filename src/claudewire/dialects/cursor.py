"""Cursor's mix: Chat Completions answers to bodies that are either chat-shaped or Responses-shaped.

Cursor posts to ``<base>/chat/completions`` and always reads Chat Completions back (JSON, or SSE chunks ending in
``data: [DONE]``), but its agent mode sends a Responses body: ``input`` items (with an empty ``messages`` list beside
them), flat function tools, custom tools, ``reasoning``. Ask mode sends a chat body, sometimes with Anthropic-style
system blocks, an object ``tool_choice`` and ``cache_control``; `claudewire.dialects.chat_request` takes those.

So `cursor_request` picks the request translator by the body's shape, and the answer is always written with
`claudewire.dialects.chat_response.chat_answer` / `claudewire.dialects.chat_stream.ChatStream`. Usage is streamed
when ``stream_options.include_usage`` asks for it, whichever the shape.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from claudewire.dialects.chat_request import chat_request
from claudewire.dialects.common import DialectError, MessagesRequest, Target
from claudewire.dialects.responses_request import responses_request

__all__ = ["cursor_request", "is_responses_shaped"]


def is_responses_shaped(body: Mapping[str, Any]) -> bool:
    """True when the body carries ``input`` and no chat messages (Cursor's agent mode)."""
    return body.get("input") is not None and not body.get("messages")


def cursor_request(body: Mapping[str, Any], target: Target) -> MessagesRequest:
    """Translate a Cursor body (chat- or Responses-shaped) into the Messages request; the answer is always chat."""
    if not isinstance(body, Mapping):
        raise DialectError("the request body must be a JSON object")
    if not is_responses_shaped(body):
        return chat_request(body, target)
    request = responses_request({k: v for k, v in body.items() if k != "messages"}, target)
    options = body.get("stream_options")
    include_usage = request.stream and isinstance(options, Mapping) and options.get("include_usage") is True
    return dataclasses.replace(request, include_usage=include_usage, echo={})
