"""Bedrock's event-stream answer → Anthropic SSE, event by event (framing decoded by `framing.MessageBuffer`).

Each ``chunk`` message carries one Anthropic stream event (base64 JSON in ``bytes``); it becomes one SSE event with
those JSON bytes unchanged — except ``message_stop``, where Bedrock's ``amazon-bedrock-invocationMetrics`` is taken
off so clients see what the Anthropic API sends. An ``exception`` message (``throttlingException`` ...) becomes an
Anthropic ``error`` event of the matching type and ends the stream (`done`), and so do a frame that cannot be read
(a checksum, a length past `framing.MAX_MESSAGE`) and a body that ends inside a frame. Nothing is buffered beyond one
partial message.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging

from claudewire.gateway.upstream.kinds.errors import bedrock_error_type
from claudewire.gateway.upstream.kinds.framing import FramingError, MessageBuffer

__all__ = ["EventStreamToSSE"]

_log = logging.getLogger(__name__)
_METRICS = b"amazon-bedrock-invocationMetrics"
_SSE_CT = (b"content-type", b"text/event-stream; charset=utf-8")


def _event(name: str, data: bytes) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + data + b"\n\n"


class EventStreamToSSE:
    """A `ResponseTranslator` for a 200 ``application/vnd.amazon.eventstream`` answer: whole SSE events out, and
    no pings (Bedrock sends none), so the gateway writes its own between them."""

    whole_body = False
    pingless = True

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        self.status = status
        kept = [(k, v) for k, v in headers if k.lower() not in (b"content-type", b"content-length")]
        self.headers = [*kept, _SSE_CT]
        self._buffer = MessageBuffer()
        self.done = False

    def feed(self, chunk: bytes) -> bytes:
        if self.done:
            return b""
        failed: ValueError | None = None
        try:
            messages = self._buffer.add(chunk)
        except FramingError as exc:  # a corrupt frame (CRC, lengths): the stream cannot go on after it
            messages, failed = exc.messages, exc
        out: list[bytes] = []
        for headers, payload in messages:
            try:
                event = self._translate(headers, payload)
            except ValueError as exc:  # an event that is not JSON
                failed = exc
                break
            if event:
                out.append(event)
            if self.done:
                return b"".join(out)
        if failed is not None:
            out.append(_event("error", _error_data("api_error", f"corrupt event-stream frame from Bedrock: {failed}")))
            self.done = True
        return b"".join(out)

    def end(self) -> bytes:
        if self.done or not self._buffer.pending:
            return b""
        self.done = True
        cut = f"the Bedrock stream ended inside a frame ({self._buffer.pending} bytes of it came)"
        return _event("error", _error_data("api_error", cut))

    def _translate(self, headers: dict[str, object], payload: bytes) -> bytes:
        kind = headers.get(":message-type")
        if kind in ("exception", "error"):
            name = str(headers.get(":exception-type") or headers.get(":error-code") or "internalServerException")
            message = _message(payload) or str(headers.get(":error-message") or name)
            error_type = bedrock_error_type(name, _original_status(payload))
            self.done = True
            _log.info("bedrock stream ended by %s: %s", name, message)
            return _event("error", _error_data(error_type, f"{message} (Bedrock {name})"))
        if headers.get(":event-type") != "chunk":
            return b""
        start = payload.find(b'"bytes":"')
        end = payload.find(b'"', start + 9) if start >= 0 else -1
        try:
            if end > start >= 0:  # the usual {"bytes":"<base64>","p":...}: no need to parse the wrapper
                data = base64.b64decode(payload[start + 9 : end])
            else:
                data = base64.b64decode(json.loads(payload)["bytes"])
        except (ValueError, KeyError, TypeError, binascii.Error):
            return b""
        if _METRICS in data:
            event = json.loads(data)
            event.pop(_METRICS.decode(), None)
            data = json.dumps(event, separators=(",", ":")).encode()
        event_type: object = None
        if data.startswith(b'{"type":"'):  # the common form: the name without parsing the event
            event_type = data[9 : data.find(b'"', 9)].decode()
        else:
            parsed = json.loads(data)
            event_type = parsed.get("type") if isinstance(parsed, dict) else None
        return _event(event_type, data) if isinstance(event_type, str) and event_type else b""


def _error_data(error_type: str, message: str) -> bytes:
    return json.dumps({"type": "error", "error": {"type": error_type, "message": message}}).encode()


def _message(payload: bytes) -> str | None:
    try:
        body = json.loads(payload)
    except ValueError:
        return None
    message = body.get("message") if isinstance(body, dict) else None
    return message if isinstance(message, str) else None


def _original_status(payload: bytes) -> int | None:
    try:
        body = json.loads(payload)
    except ValueError:
        return None
    status = body.get("originalStatusCode") if isinstance(body, dict) else None
    return status if isinstance(status, int) else None
