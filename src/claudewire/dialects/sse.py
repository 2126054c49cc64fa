"""Server-sent events in and out: the upstream's Messages events parsed, the caller's frames written.

`SSEDecoder` splits the upstream's bytes into events whatever the chunking (a blank line ends one; ``\\r\\n`` or
``\\n``; several ``data:`` lines join with a newline; comments skipped) and parses each one's JSON. An event it
cannot read (not JSON, or larger than its bound) comes out as an ``error`` event, so a translator ends its stream in
the caller's dialect instead of raising. (`claudewire._sse` only watches a stream passing through; this one feeds a
translator, and dialects stay off the gateway's modules.)
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from claudewire.dialects.common import dumps

__all__ = ["MessagesSteps", "SSEDecoder", "SSEEvent", "data_frame", "named_frame", "translate_event"]

_EVENT_END = re.compile(rb"\r?\n\r?\n")
MAX_EVENT = 16 * 1024 * 1024
"""The largest event read (bytes): a stream that sends more without a blank line is not SSE to read."""


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One event: its name (the ``event:`` line, else the data's ``type``) and its parsed data."""

    name: str
    data: dict[str, Any]


def _error(message: str) -> SSEEvent:
    return SSEEvent("error", {"type": "error", "error": {"type": "api_error", "message": message}})


class SSEDecoder:
    """Feed it bytes; it returns the complete events they finish."""

    __slots__ = ("_broken", "_pending")

    def __init__(self) -> None:
        self._pending = b""
        self._broken = False

    @property
    def broken(self) -> bool:
        """True once the stream proved unreadable (every later feed returns nothing)."""
        return self._broken

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """The events completed by `chunk` (an unreadable stream yields one ``error`` event, then nothing)."""
        events: list[SSEEvent] = []
        for raw in self.frames(chunk):
            if isinstance(raw, SSEEvent):
                events.append(raw)
                continue
            event = self.parse(raw)
            if event is not None:
                events.append(event)
                if event.name == "error" and self._broken:
                    return events
        return events

    def frames(self, chunk: bytes) -> list[bytes | SSEEvent]:
        """The raw events (without their blank line) `chunk` completes, unparsed: a translator may read a frame it
        knows by its bytes and `parse` the rest. An event over the bound comes as the ``error`` event it ends with."""
        if self._broken:
            return []
        data = self._pending + chunk if self._pending else chunk
        out: list[bytes | SSEEvent] = []
        start = 0
        while (m := _EVENT_END.search(data, start)) is not None:
            out.append(data[start : m.start()])
            start = m.end()
        self._pending = data[start:]
        if len(self._pending) > MAX_EVENT:
            self._broken, self._pending = True, b""
            out.append(_error("the upstream sent an event larger than 16 MiB"))
        return out

    def parse(self, raw: bytes) -> SSEEvent | None:
        """One raw event parsed (None for a comment or an event with no data); an unreadable one breaks the stream:
        the ``error`` event that says so, then nothing more."""
        if self._broken:
            return None
        return self._parse(raw)

    def _parse(self, raw: bytes) -> SSEEvent | None:
        name = ""
        lines: list[bytes] = []
        for line in raw.splitlines():
            if line.startswith(b"data:"):
                lines.append(line[5:].removeprefix(b" "))
            elif line.startswith(b"event:"):
                name = line[6:].strip().decode("utf-8", "replace")
        if not lines:
            return None
        try:
            payload = json.loads(b"\n".join(lines))
        except ValueError:
            self._broken = True
            return _error("the upstream sent an event that is not JSON")
        if not isinstance(payload, dict):
            return None
        if not name:
            kind = payload.get("type")
            name = kind if isinstance(kind, str) else ""
        return SSEEvent(name, payload)


def data_frame(payload: Any) -> bytes:
    """``data: <json>`` and the blank line (Chat Completions frames carry no event name)."""
    return b"data: " + dumps(payload) + b"\n\n"


def named_frame(name: str, payload: Any) -> bytes:
    """``event: <name>``, ``data: <json>`` and the blank line (Responses frames)."""
    return b"event: " + name.encode() + b"\ndata: " + dumps(payload) + b"\n\n"


class MessagesSteps(Protocol):
    """A stream translator's step for each Messages event; each returns the bytes to write to the caller."""

    @property
    def done(self) -> bool:
        """True once the translated stream has ended: every later event is ignored."""
        ...

    def on_message_start(self, data: Mapping[str, Any]) -> bytes:
        """``message_start``."""
        ...

    def on_block_start(self, data: Mapping[str, Any]) -> bytes:
        """``content_block_start``."""
        ...

    def on_block_delta(self, data: Mapping[str, Any]) -> bytes:
        """``content_block_delta``."""
        ...

    def on_block_stop(self, data: Mapping[str, Any]) -> bytes:
        """``content_block_stop``."""
        ...

    def on_message_delta(self, data: Mapping[str, Any]) -> bytes:
        """``message_delta``."""
        ...

    def on_message_stop(self) -> bytes:
        """``message_stop``."""
        ...

    def fail(self, message: str, error_type: str = "api_error") -> bytes:
        """End the stream with the upstream's failure, in the caller's dialect."""
        ...


def translate_event(steps: MessagesSteps, name: str, data: Mapping[str, Any]) -> bytes:
    """One upstream event (its name and parsed data) through `steps`; an ``error`` event ends the stream with its
    message and type, ``ping`` and events the dialect has no place for write nothing."""
    if steps.done:
        return b""
    if name == "content_block_delta":
        return steps.on_block_delta(data)
    if name == "content_block_start":
        return steps.on_block_start(data)
    if name == "content_block_stop":
        return steps.on_block_stop(data)
    if name == "message_start":
        return steps.on_message_start(data)
    if name == "message_delta":
        return steps.on_message_delta(data)
    if name == "message_stop":
        return steps.on_message_stop()
    if name == "error":
        error = data.get("error")
        error = error if isinstance(error, Mapping) else {}
        message = str(error.get("message") or "the upstream stream failed")
        return steps.fail(message, str(error.get("type") or "api_error"))
    return b""
