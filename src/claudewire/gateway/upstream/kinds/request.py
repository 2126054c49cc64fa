"""What a translating kind reads from a client request: the operation, the Messages body, the betas asked for.

Only ``POST /v1/messages`` and ``POST /v1/messages/count_tokens`` (``?beta=true`` allowed) can be translated; the
rest are refused in the Anthropic error shape, saying which upstream cannot serve them and why.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from claudewire.gateway.upstream.kinds.base import Refusal
from claudewire.gateway.upstream.pool import Headers
from claudewire.gateway.wire import first_header

__all__ = ["MID_CONVERSATION_SYSTEM", "MessagesRequest", "fold_system_messages", "parse_messages_request"]

MID_CONVERSATION_SYSTEM = "mid-conversation-system-"
"""Prefix of the beta that lets ``role: "system"`` messages appear between turns."""

_OPS = {b"/v1/messages": "messages", b"/v1/messages/count_tokens": "count_tokens"}


@dataclass(frozen=True, slots=True)
class MessagesRequest:
    """A Messages or count_tokens request: its body (with ``model``), whether it streams, its betas."""

    op: str
    body: Mapping[str, Any]
    stream: bool
    betas: tuple[str, ...]


def parse_messages_request(
    kind: str, upstream: str, method: bytes, path: bytes, headers: Headers, body: bytes
) -> MessagesRequest | Refusal:
    """The request as a `MessagesRequest`, or the `Refusal` to answer instead."""
    route = path.split(b"?", 1)[0].rstrip(b"/")
    op = _OPS.get(route)
    where = f"the {kind} upstream {upstream!r}"
    if op is None:
        shown = route.decode("latin-1")[:100]
        if route.startswith((b"/v1/messages/batches", b"/v1/files")):
            what = "Message Batches" if route.startswith(b"/v1/messages/batches") else "the Files API"
            return Refusal(
                400,
                "invalid_request_error",
                f"{what} ({shown}) cannot be served by {where}: route it to an anthropic upstream",
            )
        return Refusal(
            404,
            "not_found_error",
            f"{shown} is not served by {where}: it serves POST /v1/messages and /v1/messages/count_tokens",
        )
    if method != b"POST":
        return Refusal(405, "invalid_request_error", f"{route.decode('latin-1')} takes POST")
    try:
        parsed = json.loads(body)
    except ValueError:
        return Refusal(400, "invalid_request_error", "The request body is not valid JSON.")
    if not isinstance(parsed, dict):
        return Refusal(400, "invalid_request_error", "The request body must be a JSON object.")
    model = parsed.get("model")
    if not isinstance(model, str) or not model:
        return Refusal(400, "invalid_request_error", "model: Field required")
    beta = first_header(headers, b"anthropic-beta") or b""
    betas = tuple(b.strip() for b in beta.decode("latin-1").split(",") if b.strip())
    return MessagesRequest(op, parsed, op == "messages" and parsed.get("stream") is True, betas)


def fold_system_messages(body: dict[str, Any]) -> int:
    """Turn ``role: "system"`` messages into user turns with the text in ``<system-reminder>`` tags; how many.

    For an upstream without the mid-conversation-system beta. Consecutive user turns are allowed (the API joins
    them), so the conversation keeps its order and content.
    """
    messages = body.get("messages")
    if not isinstance(messages, list):
        return 0
    folded = 0
    out: list[Any] = []
    for message in messages:
        if isinstance(message, dict) and message.get("role") == "system":
            content = message.get("content")
            if isinstance(content, list):
                text = "\n".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
            else:
                text = str(content or "")
            out.append(
                {
                    "role": "user",
                    "content": [{"type": "text", "text": f"<system-reminder>\n{text}\n</system-reminder>"}],
                }
            )
            folded += 1
        else:
            out.append(message)
    if folded:
        body["messages"] = out
    return folded
