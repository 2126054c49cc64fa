"""Watching a Messages stream as it passes: event names, the first delta, error events and ``usage``.

The gateway forwards the upstream's bytes untouched, and the client hands them to the SDK untouched; this scanner
only looks. It splits the byte stream into events (a blank line ends one, whatever the chunking), and remembers what
they need: whether a content delta was seen (the gateway's point of no return for a transparent retry), an
``error`` event's body, the model and the token counts (``message_start`` then the cumulative ``message_delta``)
for metrics and the access log.

On the way in, `request_fields` reads what a request body asks for at its top level (``model``, ``stream``), never a
key nested in its history or tools.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["RequestFields", "StreamScanner", "Usage", "json_usage", "request_fields", "request_model", "request_stream"]

_EVENT_END = re.compile(rb"\r?\n\r?\n")
_MODEL_RE = re.compile(rb'(?<!\\)"model"\s*:\s*"([^"\\]{1,100})"')
_DECODER = json.JSONDecoder()
_TAIL = 32  # longer than any "event: <marker>" line looked for after the first delta
_MAX_PENDING = 1024 * 1024  # an "event" this long without a blank line is not SSE we can read: stop looking


class Usage:
    """Model and token counts of one response (zeros when unknown)."""

    __slots__ = ("cache_creation", "cache_read", "input_tokens", "model", "output_tokens")

    def __init__(self) -> None:
        self.model: str | None = None
        self.input_tokens = 0
        self.output_tokens = 0
        self.cache_read = 0
        self.cache_creation = 0

    def update(self, usage: Any) -> None:
        """Take the counts of a ``usage`` object (later values win: message_delta's are cumulative)."""
        if not isinstance(usage, dict):
            return
        for key, attr in (
            ("input_tokens", "input_tokens"),
            ("output_tokens", "output_tokens"),
            ("cache_read_input_tokens", "cache_read"),
            ("cache_creation_input_tokens", "cache_creation"),
        ):
            value = usage.get(key)
            if isinstance(value, int) and value >= 0:
                setattr(self, attr, value)


def json_usage(body: bytes) -> Usage:
    """Model and usage of a non-streamed Messages response, found without parsing the whole body."""
    usage = Usage()
    m = _MODEL_RE.search(body)
    if m:
        usage.model = m.group(1).decode("utf-8", "replace")
    at = body.rfind(b'"usage"')  # the top-level usage object comes last in a Messages response
    if at >= 0:
        start = body.find(b"{", at)
        if start > 0:
            with contextlib.suppress(ValueError):  # C-speed parse of just that object
                usage.update(_DECODER.raw_decode(body[start:].decode("utf-8", "replace"))[0])
    return usage


@dataclass(frozen=True, slots=True)
class RequestFields:
    """What a request body asks for at its top level: its `model` (None when it names none) and `stream`."""

    model: str | None = None
    stream: bool = False


_NO_FIELDS = RequestFields()


def request_fields(body: bytes) -> RequestFields:
    """The top-level ``model`` and ``stream`` of a request body (a JSON object); a key nested deeper never counts.

    A parse, chosen by measurement over a scan of the top-level object (docs/benchmarks.md, "Request fields"): on a
    1 MiB Claude Code-like body json's C decoder took 3.8 ms where the tightest pure-Python scan took 41 ms. Not a JSON
    object (or nested past the decoder's depth): nothing. Duplicate keys: the last, as the decoder reads them.
    """
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return _NO_FIELDS
    if not isinstance(value, dict):
        return _NO_FIELDS
    model = value.get("model")
    return RequestFields(
        model if isinstance(model, str) and 0 < len(model) <= 100 else None, value.get("stream") is True
    )


def request_model(body: bytes) -> str | None:
    """The top-level ``model`` a request body names (routing, the access log when no response says it), or None."""
    return request_fields(body).model if b'"model"' in body else None


def request_stream(body: bytes) -> bool:
    """Whether a request body asks for a stream at its top level (``"stream": true``)."""
    return b'"stream"' in body and request_fields(body).stream


class StreamScanner:
    """Feed it the stream's chunks; it tracks the first delta, an error event, message_stop and usage."""

    __slots__ = ("_pending", "_tail", "blind", "error", "saw_delta", "saw_stop", "usage")

    def __init__(self) -> None:
        self._pending = b""
        self._tail = b""  # after the first delta: the last bytes seen, for a marker split across two chunks
        self.saw_delta = False
        self.saw_stop = False
        self.error: dict[str, Any] | None = None
        self.usage = Usage()
        self.blind = False

    def feed(self, chunk: bytes) -> None:
        """Look at the next bytes of the stream."""
        if self.blind:
            return
        if self.saw_delta and not self._pending:
            # Past the first delta only message_delta (usage), message_stop and error events matter: a byte search
            # per chunk instead of splitting it into events, which is what most chunks (content deltas) cost.
            tail = self._tail
            if not _marked(chunk) and not (tail and _marked(tail + chunk[:_TAIL])):
                self._tail = chunk[-_TAIL:] if len(chunk) >= _TAIL else (tail + chunk)[-_TAIL:]
                return
            data = tail + chunk  # a marker: read the events (the tail's partial event is harmless)
            self._tail = b""
        else:
            data = self._pending + chunk if self._pending else chunk
        start = 0
        while True:
            m = _EVENT_END.search(data, start)
            if m is None:
                break
            self._event(data[start : m.start()])
            start = m.end()
        pending = data[start:] if start < len(data) else b""
        if self.saw_delta and pending and not _marked(pending):
            self._tail, pending = pending[-_TAIL:], b""  # a partial content delta: nothing to wait for
        self._pending = pending
        if len(self._pending) > _MAX_PENDING:
            self.blind, self._pending = True, b""

    def _event(self, raw: bytes) -> None:
        name = b""
        data: list[bytes] = []
        for line in raw.splitlines():
            if line.startswith(b"event:"):
                name = line[6:].strip()
            elif line.startswith(b"data:"):
                data.append(line[5:].lstrip(b" "))
        if name == b"content_block_delta":
            self.saw_delta = True
        elif name == b"ping" or name == b"content_block_start" or name == b"content_block_stop":
            pass
        elif name == b"message_start":
            payload = _json(data)
            message = payload.get("message") if payload else None
            if isinstance(message, dict):
                model = message.get("model")
                if isinstance(model, str):
                    self.usage.model = model[:100]
                self.usage.update(message.get("usage"))
        elif name == b"message_delta":
            self.usage.update(_usage_object(b"\n".join(data)))
        elif name == b"message_stop":
            self.saw_stop = True
        elif name == b"error":
            payload = _json(data)
            self.error = payload if payload is not None else {"type": "error", "error": {"type": "api_error"}}


_marked = re.compile(rb"message_delta|message_stop|event: ?error").search  # one C scan per chunk


def _usage_object(data: bytes) -> Any:
    """The ``usage`` object of an event's data, found by byte search and parsed alone (None if absent)."""
    at = data.find(b'"usage"')
    start = data.find(b"{", at) if at >= 0 else -1
    if start < 0:
        return None
    try:
        return _DECODER.raw_decode(data[start:].decode("utf-8", "replace"))[0]
    except ValueError:
        return None


def _json(data: list[bytes]) -> dict[str, Any] | None:
    try:
        value = json.loads(b"\n".join(data))
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
