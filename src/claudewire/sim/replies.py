"""Scripted replies: a test decides what the simulated model answers, one messages call at a time.

    from claudewire.testing import ToolCall, run_sim

    with run_sim(replies=[ToolCall("get_weather", {"city": "Paris"}), "It is sunny in Paris."]) as sim:
        ...   # the first messages call answers the tool call, the second the text, later ones the default reply

A reply is a ``str`` (a text answer, one token per word, ``end_turn``) or a `ToolCall` (a ``tool_use`` block,
``stop_reason: "tool_use"``). Replies are served in order to successful ``/v1/messages`` answers, streamed or not,
in every dialect; a request refused (a fault, a 400, a 429) consumes none. When the script runs out the simulator
answers as it does unscripted.
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from claudewire.sim.shapes import Reply

__all__ = ["ReplyScript", "ScriptedReply", "ToolCall", "scripted_reply"]

_PIECES = re.compile(r"\s*\S+|\s+$")


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A scripted tool call: the simulated model calls tool `name` with `input` (any JSON object)."""

    name: str
    input: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError("ToolCall needs a non-empty tool name")
        if not isinstance(self.input, Mapping):
            raise ValueError(f"ToolCall {self.name!r}: input must be a JSON object (a mapping)")
        try:
            json.dumps(self.input)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"ToolCall {self.name!r}: input is not JSON-serialisable: {exc}") from None
        object.__setattr__(self, "input", dict(self.input))


ScriptedReply = str | ToolCall
"""One scripted answer: text, or a tool call."""


def check_replies(replies: Iterable[Any]) -> tuple[ScriptedReply, ...]:
    """`replies` as a tuple, each one a non-empty ``str`` or a `ToolCall` (ValueError naming the bad one)."""
    if isinstance(replies, str | ToolCall):
        replies = (replies,)  # one reply given bare, not in a list
    out: list[ScriptedReply] = []
    for i, reply in enumerate(replies):
        if isinstance(reply, ToolCall) or (isinstance(reply, str) and reply.strip()):
            out.append(reply)
        else:
            raise ValueError(f"replies[{i}]: expected a non-empty str or a ToolCall, got {reply!r}")
    return tuple(out)


class ReplyScript:
    """The replies still to serve, in order; `take` pops the next one (thread-safe: a test may `replace` them)."""

    def __init__(self, replies: Iterable[ScriptedReply] = ()) -> None:
        self._lock = threading.Lock()
        self._queue: deque[ScriptedReply] = deque(check_replies(replies))
        self.served = 0

    def peek(self) -> ScriptedReply | None:
        """The next scripted reply, left in place (None when the script is exhausted)."""
        with self._lock:
            return self._queue[0] if self._queue else None

    def take(self) -> ScriptedReply | None:
        """The next scripted reply, or None when the script is exhausted."""
        with self._lock:
            if not self._queue:
                return None
            self.served += 1
            return self._queue.popleft()

    def replace(self, replies: Iterable[ScriptedReply]) -> None:
        """Serve `replies` next, dropping what was left of the script."""
        checked = check_replies(replies)
        with self._lock:
            self._queue = deque(checked)

    @property
    def left(self) -> int:
        """How many scripted replies are still to be served."""
        with self._lock:
            return len(self._queue)


def scripted_reply(reply: ScriptedReply, max_tokens: int, request_number: int) -> Reply:
    """The simulator's `Reply` for a scripted one; text longer than `max_tokens` words is cut (``max_tokens``)."""
    if isinstance(reply, ToolCall):
        call_id = f"toolu_01Sim{request_number:019d}"
        return Reply((), "tool_use", (call_id, reply.name, dict(reply.input)))
    pieces = tuple(_PIECES.findall(reply))
    if len(pieces) > max_tokens:
        return Reply(pieces[:max_tokens], "max_tokens")
    return Reply(pieces, "end_turn")
