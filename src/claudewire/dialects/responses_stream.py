"""Messages SSE -> Responses SSE: the event sequence the OpenAI SDKs read, as a state machine.

Fed the upstream's events (`ResponsesStream.event`) or bytes (`ResponsesStream.feed`), it writes named events, each
with the next ``sequence_number`` from 0:

- at ``message_start``: ``response.created`` then ``response.in_progress`` (status ``in_progress``, no output);
- a text block: ``response.output_item.added`` (a ``message``), ``response.content_part.added`` (an empty
  ``output_text``), one ``response.output_text.delta`` per delta, then ``response.output_text.done``,
  ``response.content_part.done`` and ``response.output_item.done`` at the block's end;
- a tool_use block: ``response.output_item.added`` (a ``function_call`` with its ``call_id`` and ``name``),
  ``response.function_call_arguments.delta`` per fragment, ``response.function_call_arguments.done`` and
  ``response.output_item.done`` (``{}`` when the input streamed nothing);
- a thinking block: a ``reasoning`` item with one summary part: ``response.reasoning_summary_part.added``,
  ``response.reasoning_summary_text.delta``/``.done``, ``response.reasoning_summary_part.done``, and the done item
  carries the signature in ``encrypted_content``; a redacted block is an item added and done;
- at ``message_stop``: ``response.completed`` (or ``response.incomplete`` when the limit or a refusal ended the
  answer) with every output item and the usage.

Output indexes count the items in the order they start. An upstream error, an unreadable event or an upstream that
ends early becomes an ``error`` event then ``response.failed`` (status ``failed`` with the error), and the stream ends.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from claudewire.dialects.errors import responses_error_code
from claudewire.dialects.responses_request import REDACTED_PREFIX
from claudewire.dialects.responses_response import (
    function_call_item,
    item_id,
    message_item,
    outcome,
    reasoning_item,
    response_envelope,
)
from claudewire.dialects.sse import SSEDecoder, named_frame, translate_event
from claudewire.dialects.usage import TokenCounts

__all__ = ["ResponsesPhase", "ResponsesStream"]


class ResponsesPhase(enum.Enum):
    """Where the stream is: before ``message_start``, answering, or over."""

    WAITING = "waiting"
    ANSWERING = "answering"
    DONE = "done"


@dataclass(slots=True)
class _Item:
    kind: str  # "message", "function_call", "reasoning", "redacted"
    id: str
    output_index: int
    parts: list[str] = field(default_factory=list)
    call_id: str = ""
    name: str = ""
    sealed: str = ""


class ResponsesStream:
    """One streamed answer's translator; `echo` is `MessagesRequest.echo`, `created` the epoch second.

    Its ``on_*`` methods are the `claudewire.dialects.sse.MessagesSteps` that `event` drives, one per Messages event.
    """

    __slots__ = (
        "_decoder",
        "_items",
        "_output",
        "_seq",
        "_stop_reason",
        "created",
        "echo",
        "message_id",
        "model",
        "phase",
        "usage",
    )

    def __init__(self, *, model: str, created: int, echo: Mapping[str, Any] | None = None) -> None:
        self.model = model
        self.created = created
        self.echo: Mapping[str, Any] = echo or {}
        self.message_id = "msg_claudewire"
        self.phase = ResponsesPhase.WAITING
        self.usage = TokenCounts()
        self._decoder = SSEDecoder()
        self._items: dict[int, _Item] = {}  # content block index -> open item
        self._output: list[dict[str, Any] | None] = []  # by output index; None while the item streams
        self._seq = 0
        self._stop_reason: str | None = None

    @property
    def done(self) -> bool:
        """True once the stream's last event was written: every later call returns ``b""``."""
        return self.phase is ResponsesPhase.DONE

    def _emit(self, kind: str, **fields: Any) -> bytes:
        payload = {"type": kind, "sequence_number": self._seq, **fields}
        self._seq += 1
        return named_frame(kind, payload)

    def _response(self, status: str) -> dict[str, Any]:
        output = [item for item in self._output if item is not None]
        return response_envelope(
            "resp_" + self.message_id.removeprefix("msg_"),
            model=self.model,
            created=self.created,
            echo=self.echo,
            status=status,
            output=output,
        )

    def feed(self, chunk: bytes) -> bytes:
        """Translate the next upstream bytes."""
        if self.done:
            return b""
        return b"".join(self.event(e.name, e.data) for e in self._decoder.feed(chunk))

    def event(self, name: str, data: Mapping[str, Any]) -> bytes:
        """Translate one upstream event (its name and parsed data)."""
        return translate_event(self, name, data)

    def _begin(self) -> bytes:
        if self.phase is not ResponsesPhase.WAITING:
            return b""
        self.phase = ResponsesPhase.ANSWERING
        response = self._response("in_progress")
        return self._emit("response.created", response=response) + self._emit("response.in_progress", response=response)

    def on_message_start(self, data: Mapping[str, Any]) -> bytes:
        message = data.get("message")
        if isinstance(message, Mapping):
            if isinstance(message.get("id"), str) and self.phase is ResponsesPhase.WAITING:
                self.message_id = message["id"]
            self.usage.update(message.get("usage"))
        return self._begin()

    def _open(self, index: int, kind: str, prefix: str) -> _Item:
        item = _Item(kind, item_id(prefix, self.message_id, index), len(self._output))
        self._output.append(None)
        self._items[index] = item
        return item

    def on_block_start(self, data: Mapping[str, Any]) -> bytes:
        out = self._begin()
        index, block = data.get("index"), data.get("content_block")
        if not isinstance(index, int) or not isinstance(block, Mapping) or index in self._items:
            return out
        kind = block.get("type")
        if kind == "text":
            item = self._open(index, "message", "msg")
            out += self._emit(
                "response.output_item.added", output_index=item.output_index, item=message_item(item.id, "", done=False)
            )
            part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            out += self._emit(
                "response.content_part.added",
                item_id=item.id,
                output_index=item.output_index,
                content_index=0,
                part=part,
            )
            if block.get("text"):
                out += self._text(item, str(block["text"]))
        elif kind == "tool_use":
            item = self._open(index, "function_call", "fc")
            item.call_id, item.name = str(block.get("id", "")), str(block.get("name", ""))
            added = function_call_item(item.id, item.call_id, item.name, "", done=False)
            out += self._emit("response.output_item.added", output_index=item.output_index, item=added)
        elif kind == "thinking":
            item = self._open(index, "reasoning", "rs")
            item.sealed = str(block.get("signature") or "")
            out += self._emit(
                "response.output_item.added", output_index=item.output_index, item=reasoning_item(item.id, "", "")
            )
            out += self._emit(
                "response.reasoning_summary_part.added",
                item_id=item.id,
                output_index=item.output_index,
                summary_index=0,
                part={"type": "summary_text", "text": ""},
            )
            if block.get("thinking"):
                out += self._thinking(item, str(block["thinking"]))
        elif kind == "redacted_thinking":
            item = self._open(index, "redacted", "rs")
            item.sealed = REDACTED_PREFIX + str(block.get("data", ""))
            out += self._emit(
                "response.output_item.added", output_index=item.output_index, item=reasoning_item(item.id, "", "")
            )
        return out

    def _fragment(self, item: _Item, kind: str, fragment: str, part: str | None = None, **after: Any) -> bytes:
        # a text, reasoning or arguments delta: kept on the item for its ``.done`` event, written as it came, its
        # fields in OpenAI's order (the item, the part index when it has one, the delta, then `after`)
        item.parts.append(fragment)
        where: dict[str, Any] = {"item_id": item.id, "output_index": item.output_index}
        if part is not None:
            where[part] = 0
        return self._emit(kind, **where, delta=fragment, **after)

    def _text(self, item: _Item, text: str) -> bytes:
        return self._fragment(item, "response.output_text.delta", text, "content_index", logprobs=[])

    def _thinking(self, item: _Item, text: str) -> bytes:
        return self._fragment(item, "response.reasoning_summary_text.delta", text, "summary_index")

    def _arguments(self, item: _Item, fragment: str) -> bytes:
        return self._fragment(item, "response.function_call_arguments.delta", fragment)

    def on_block_delta(self, data: Mapping[str, Any]) -> bytes:
        index, delta = data.get("index"), data.get("delta")
        item = self._items.get(index) if isinstance(index, int) else None
        if item is None or not isinstance(delta, Mapping):
            return b""
        kind = delta.get("type")
        if item.kind == "message" and kind == "text_delta" and delta.get("text"):
            return self._text(item, str(delta["text"]))
        if item.kind == "function_call" and kind == "input_json_delta" and delta.get("partial_json"):
            return self._arguments(item, str(delta["partial_json"]))
        if item.kind == "reasoning" and kind == "thinking_delta" and delta.get("thinking"):
            return self._thinking(item, str(delta["thinking"]))
        if item.kind == "reasoning" and kind == "signature_delta" and delta.get("signature"):
            item.sealed += str(delta["signature"])
        return b""

    def on_block_stop(self, data: Mapping[str, Any]) -> bytes:
        index = data.get("index")
        item = self._items.pop(index) if isinstance(index, int) and index in self._items else None
        if item is None:
            return b""
        where = {"item_id": item.id, "output_index": item.output_index}
        text = "".join(item.parts)
        out = b""
        if item.kind == "message":
            done = message_item(item.id, text)
            out += self._emit("response.output_text.done", **where, content_index=0, text=text, logprobs=[])
            out += self._emit("response.content_part.done", **where, content_index=0, part=done["content"][0])
        elif item.kind == "function_call":
            if not text:
                out += self._arguments(item, "{}")
                text = "{}"
            done = function_call_item(item.id, item.call_id, item.name, text)
            out += self._emit("response.function_call_arguments.done", **where, name=item.name, arguments=text)
        elif item.kind == "reasoning":
            done = reasoning_item(item.id, text, item.sealed)
            out += self._emit("response.reasoning_summary_text.done", **where, summary_index=0, text=text)
            out += self._emit(
                "response.reasoning_summary_part.done",
                **where,
                summary_index=0,
                part={"type": "summary_text", "text": text},
            )
        else:
            done = reasoning_item(item.id, "", item.sealed)
        self._output[item.output_index] = done
        return out + self._emit("response.output_item.done", output_index=item.output_index, item=done)

    def on_message_delta(self, data: Mapping[str, Any]) -> bytes:
        self.usage.update(data.get("usage"))
        delta = data.get("delta")
        if isinstance(delta, Mapping) and isinstance(delta.get("stop_reason"), str):
            self._stop_reason = delta["stop_reason"]
        return b""

    def on_message_stop(self) -> bytes:
        out = self._begin()
        for index in list(self._items):  # blocks the upstream never closed
            out += self.on_block_stop({"index": index})
        status, incomplete = outcome(self._stop_reason)
        response = self._response(status)
        response["incomplete_details"] = incomplete
        response["usage"] = self.usage.responses()
        self.phase = ResponsesPhase.DONE
        kind = "response.completed" if status == "completed" else "response.incomplete"
        return out + self._emit(kind, response=response)

    def close(self) -> bytes:
        """The upstream stream ended: the closing events it still owes (a failure if the answer was cut short)."""
        if self.done:
            return b""
        if self._stop_reason is not None:
            return self.on_message_stop()
        return self.fail("the upstream stream ended before the answer was complete", "api_error")

    def fail(self, message: str, error_type: str = "api_error") -> bytes:
        """End the stream with an ``error`` event and ``response.failed`` (an upstream failure mid-stream)."""
        if self.done:
            return b""
        out = self._begin()
        out += self._emit("error", code=error_type, message=message, param=None)
        response = self._response("failed")
        response["error"] = {"code": responses_error_code(error_type), "message": message, "type": error_type}
        response["usage"] = self.usage.responses()
        self.phase = ResponsesPhase.DONE
        return out + self._emit("response.failed", response=response)
