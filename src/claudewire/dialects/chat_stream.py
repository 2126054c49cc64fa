"""Messages SSE -> Chat Completions SSE: a state machine fed the upstream's events, returning the bytes to write.

Feed it raw upstream bytes (`ChatStream.feed`) or already-parsed events (`ChatStream.event`); tell it when the
upstream is gone (`ChatStream.close`) or failed outside the stream (`ChatStream.fail`). What it writes:

- the first chunk carries ``role: assistant`` (at ``message_start``);
- text deltas as ``delta.content``, thinking deltas as ``delta.reasoning_content``;
- each ``tool_use`` block as a tool call with its own ``index`` (0, 1, 2 ... in stream order, never reused): a first
  chunk with ``id``, ``type`` and ``function.name`` (and empty arguments), then one chunk per ``arguments`` fragment;
  a call whose input streamed nothing gets ``{}`` so its arguments parse;
- ``finish_reason`` on the last choice chunk (at ``message_delta``, mapped as `chat_response.finish_reason` says);
- with ``stream_options.include_usage``, every chunk carries ``usage: null`` and one last chunk with empty
  ``choices`` carries the usage, written at ``message_stop``: after the upstream's final (cumulative) usage;
- ``data: [DONE]``; nothing at all after it.

An upstream ``error`` event, an unreadable event, or an upstream that ends before the answer is complete becomes an
OpenAI-shaped error frame (``data: {"error": {...}}``: the OpenAI SDKs raise it as an APIError) then ``data: [DONE]``.
An upstream that ends after ``message_delta`` but before ``message_stop`` has said all it had to: the stream ends
normally.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from typing import Any

from claudewire.dialects.chat_response import finish_reason
from claudewire.dialects.common import dumps
from claudewire.dialects.errors import OpenAIError
from claudewire.dialects.sse import SSEDecoder, data_frame, translate_event
from claudewire.dialects.usage import TokenCounts

__all__ = ["DONE", "ChatStream", "StreamPhase"]

DONE = b"data: [DONE]\n\n"
_TEXT_DELTA = re.compile(
    rb'event: ?content_block_delta\r?\ndata: ?\{"type":"content_block_delta","index":(\d{1,6}),'
    rb'"delta":\{"type":"text_delta","text":("(?:[^"\\\x00-\x1f]|\\.)+")\}\}'
)
_OPEN_TAIL = b'},"logprobs":null,"finish_reason":null'


class StreamPhase(enum.Enum):
    """Where the stream is: before ``message_start``, answering, past ``message_delta``, or over."""

    WAITING = "waiting"
    ANSWERING = "answering"
    FINISHED = "finished"
    DONE = "done"


class _Block(enum.Enum):
    TEXT = "text"
    TOOL = "tool"
    THINKING = "thinking"
    OTHER = "other"


class ChatStream:
    """One streamed answer's translator. `model` is the name echoed to the caller, `created` the epoch second.

    Its ``on_*`` methods are the `claudewire.dialects.sse.MessagesSteps` that `event` drives, one per Messages event.
    """

    __slots__ = (
        "_args_seen",
        "_blocks",
        "_decoder",
        "_head",
        "_include_usage",
        "_tail",
        "_tool_index",
        "_tools",
        "created",
        "id",
        "model",
        "phase",
        "usage",
    )

    def __init__(self, *, model: str, created: int, include_usage: bool = False, id: str = "chatcmpl-claudewire"):
        self.model = model
        self.created = created
        self.id = id
        self.phase = StreamPhase.WAITING
        self.usage = TokenCounts()
        self._include_usage = include_usage
        self._decoder = SSEDecoder()
        self._blocks: dict[int, _Block] = {}
        self._tool_index: dict[int, int] = {}  # content block index -> tool call index
        self._args_seen: set[int] = set()
        self._tools = 0
        self._frame_parts()

    def _frame_parts(self) -> None:
        # Every choice chunk shares its head and tail: built once, so a text delta costs one small dumps.
        head = {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model}
        self._head = b"data: " + dumps(head)[:-1] + b',"choices":[{"index":0,"delta":'
        self._tail = b"}]" + (b',"usage":null' if self._include_usage else b"") + b"}\n\n"

    @property
    def done(self) -> bool:
        """True once ``data: [DONE]`` was written: every later call returns ``b""``."""
        return self.phase is StreamPhase.DONE

    def _chunk(self, delta: Mapping[str, Any]) -> bytes:
        return self._head + dumps(delta)[:-1] + _OPEN_TAIL + self._tail

    def _finish_chunk(self, reason: str) -> bytes:
        return self._head + b'{},"logprobs":null,"finish_reason":"' + reason.encode() + b'"' + self._tail

    def feed(self, chunk: bytes) -> bytes:
        """Translate the next upstream bytes."""
        if self.done:
            return b""
        out: list[bytes] = []
        decoder = self._decoder
        for raw in decoder.frames(chunk):
            if isinstance(raw, bytes):
                # most of a stream is text deltas in the API's own compact form: their JSON string is spliced into
                # the chunk as it came (no parse, no re-serialisation); anything else is parsed and translated
                fast = _TEXT_DELTA.fullmatch(raw) if self.phase is StreamPhase.ANSWERING else None
                if fast is not None and self._blocks.get(int(fast.group(1))) is _Block.TEXT:
                    out.append(self._head + b'{"content":' + fast.group(2) + _OPEN_TAIL + self._tail)
                    continue
                event = decoder.parse(raw)
                if event is None:
                    continue
            else:
                event = raw
            out.append(self.event(event.name, event.data))
            if self.done:
                break
        return b"".join(out)

    def event(self, name: str, data: Mapping[str, Any]) -> bytes:
        """Translate one upstream event (its name and parsed data)."""
        return translate_event(self, name, data)

    def _role(self) -> bytes:
        if self.phase is not StreamPhase.WAITING:
            return b""
        self.phase = StreamPhase.ANSWERING
        return self._chunk({"role": "assistant", "content": ""})

    def on_message_start(self, data: Mapping[str, Any]) -> bytes:
        message = data.get("message")
        if isinstance(message, Mapping):
            if isinstance(message.get("id"), str) and self.phase is StreamPhase.WAITING:
                self.id = message["id"]
                self._frame_parts()
            self.usage.update(message.get("usage"))
        return self._role()

    def on_block_start(self, data: Mapping[str, Any]) -> bytes:
        out = self._role()
        index = data.get("index")
        block = data.get("content_block")
        if not isinstance(index, int) or not isinstance(block, Mapping):
            return out
        kind = block.get("type")
        if kind == "text":
            self._blocks[index] = _Block.TEXT
            if block.get("text"):
                out += self._chunk({"content": block["text"]})
        elif kind == "tool_use":
            self._blocks[index] = _Block.TOOL
            self._tool_index[index] = at = self._tools
            self._tools += 1
            call = {"index": at, "id": str(block.get("id", "")), "type": "function"}
            call["function"] = {"name": str(block.get("name", "")), "arguments": ""}
            out += self._chunk({"tool_calls": [call]})
        elif kind == "thinking":
            self._blocks[index] = _Block.THINKING
            if block.get("thinking"):
                out += self._chunk({"reasoning_content": block["thinking"]})
        else:
            self._blocks[index] = _Block.OTHER
        return out

    def on_block_delta(self, data: Mapping[str, Any]) -> bytes:
        index = data.get("index")
        delta = data.get("delta")
        if not isinstance(delta, Mapping) or not isinstance(index, int):
            return b""
        kind = self._blocks.get(index)
        out = self._role()
        if kind is _Block.TEXT and delta.get("type") == "text_delta" and delta.get("text"):
            return out + self._chunk({"content": delta["text"]})
        if kind is _Block.TOOL and delta.get("type") == "input_json_delta" and delta.get("partial_json"):
            self._args_seen.add(index)
            call = {"index": self._tool_index[index], "function": {"arguments": delta["partial_json"]}}
            return out + self._chunk({"tool_calls": [call]})
        if kind is _Block.THINKING and delta.get("type") == "thinking_delta" and delta.get("thinking"):
            return out + self._chunk({"reasoning_content": delta["thinking"]})
        return out  # signature and citation deltas, server tools: no place for them in Chat Completions

    def on_block_stop(self, data: Mapping[str, Any]) -> bytes:
        index = data.get("index")
        if isinstance(index, int) and self._blocks.get(index) is _Block.TOOL and index not in self._args_seen:
            self._args_seen.add(index)
            return self._chunk({"tool_calls": [{"index": self._tool_index[index], "function": {"arguments": "{}"}}]})
        return b""

    def on_message_delta(self, data: Mapping[str, Any]) -> bytes:
        self.usage.update(data.get("usage"))
        if self.phase is StreamPhase.FINISHED:
            return b""
        out = self._role()
        delta = data.get("delta")
        self.phase = StreamPhase.FINISHED
        return out + self._finish_chunk(finish_reason(delta.get("stop_reason") if isinstance(delta, Mapping) else None))

    def on_message_stop(self) -> bytes:
        out = b""
        if self.phase is not StreamPhase.FINISHED:
            out = self._role() + self._finish_chunk("stop")
        return out + self._end()

    def _end(self) -> bytes:
        out = b""
        if self._include_usage:
            head = {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model}
            out = data_frame({**head, "choices": [], "usage": self.usage.chat()})
        self.phase = StreamPhase.DONE
        return out + DONE

    def close(self) -> bytes:
        """The upstream stream ended: the closing frames it still owes (an error if the answer was cut short)."""
        if self.done:
            return b""
        if self.phase is StreamPhase.FINISHED:
            return self._end()
        return self.fail("the upstream stream ended before the answer was complete", "api_error")

    def fail(self, message: str, error_type: str = "api_error") -> bytes:
        """End the stream with an OpenAI-shaped error frame and ``[DONE]`` (an upstream failure mid-stream)."""
        if self.done:
            return b""
        self.phase = StreamPhase.DONE
        return data_frame(OpenAIError(200, message, error_type).envelope()) + DONE
