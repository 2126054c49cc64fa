"""Messages SSE -> Responses SSE: every event parsed by the SDK's ResponseStreamEvent union, in the SDK's order."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types.responses import ResponseStreamEvent
from pydantic import TypeAdapter

from claudewire.dialects import ResponsesStream
from tests.dialects.test_chat_stream import upstream_streams
from tests.dialects.upstream import (
    Event,
    answer,
    message_start,
    named_events,
    sse,
    text_block,
    thinking_block,
    tool_block,
)

EVENTS: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)
ECHO = {"tools": [{"type": "function", "name": "get", "parameters": {"type": "object"}}], "tool_choice": "auto"}


def run(events: list[Event], split: int = 0) -> list[Any]:
    """Feed the upstream's bytes, close, and parse every event with the SDK's union."""
    stream = ResponsesStream(model="cw-sonnet", created=1700000000, echo=ECHO)
    raw = sse(events)
    step = split or len(raw)
    out = b"".join(stream.feed(raw[i : i + step]) for i in range(0, len(raw), step)) + stream.close()
    return [EVENTS.validate_python(e) for e in named_events(out)]


def types(events: list[Any]) -> list[str]:
    return [e.type for e in events]


def test_text_stream_event_sequence() -> None:
    """A text answer streams created, in_progress, item and part added, deltas, the dones, then completed."""
    got = run(answer(text_block(0, "Hel", "lo")))
    assert types(got) == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert got[6].text == "Hello" and got[-1].response.output_text == "Hello"


def test_sequence_numbers_count_from_zero() -> None:
    """sequence_number counts every event from 0 without a gap."""
    got = run(answer(text_block(0, "a"), tool_block(1, "t", "get", "{}"), stop_reason="tool_use"))
    assert [e.sequence_number for e in got] == list(range(len(got)))


def test_function_calls_stream_with_call_id_name_then_arguments() -> None:
    """Each tool call is added with its call_id and name, streams argument deltas, and is done with the whole."""
    got = run(
        answer(
            tool_block(0, "toolu_a", "get", '{"c":', '"Oslo"}'),
            tool_block(1, "toolu_b", "get"),
            stop_reason="tool_use",
        )
    )
    added = [e.item for e in got if e.type == "response.output_item.added"]
    assert [(i.call_id, i.name, i.arguments) for i in added] == [("toolu_a", "get", ""), ("toolu_b", "get", "")]
    done = [e for e in got if e.type == "response.function_call_arguments.done"]
    assert [d.arguments for d in done] == ['{"c":"Oslo"}', "{}"]
    deltas = "".join(e.delta for e in got if e.type == "response.function_call_arguments.delta" and e.output_index == 0)
    assert deltas == '{"c":"Oslo"}'
    final = got[-1].response
    assert [(o.call_id, o.arguments) for o in final.output] == [("toolu_a", '{"c":"Oslo"}'), ("toolu_b", "{}")]


def test_thinking_streams_as_reasoning_summary_and_seals_the_signature() -> None:
    """Thinking streams as a reasoning item's summary; the done item seals the signature in encrypted_content."""
    got = run(answer(thinking_block(0, "plan", signature="EqQB"), text_block(1, "42")))
    assert [e.delta for e in got if e.type == "response.reasoning_summary_text.delta"] == ["plan"]
    done = next(e.item for e in got if e.type == "response.output_item.done" and e.item.type == "reasoning")
    assert done.encrypted_content == "EqQB" and done.summary[0].text == "plan"
    assert [o.type for o in got[-1].response.output] == ["reasoning", "message"]


def test_completed_carries_usage_with_cache() -> None:
    """response.completed carries the final usage, cached input included and broken out."""
    final = run(answer(text_block(0, "x"), cache_read_input_tokens=90))[-1].response
    assert final.usage.input_tokens == 100 and final.usage.input_tokens_details.cached_tokens == 90
    assert final.usage.output_tokens == 20 and final.status == "completed"


def test_limit_hit_is_response_incomplete() -> None:
    """An answer cut by max_tokens ends with response.incomplete, reason max_output_tokens."""
    last = run(answer(text_block(0, "x"), stop_reason="max_tokens"))[-1]
    assert last.type == "response.incomplete" and last.response.incomplete_details.reason == "max_output_tokens"


def test_upstream_error_becomes_error_then_response_failed() -> None:
    """An upstream error event becomes an error event then response.failed, and the stream ends."""
    error = ("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    got = run([message_start(), *text_block(0, "x"), error, *text_block(1, "late")])
    assert types(got)[-2:] == ["error", "response.failed"]
    assert got[-2].code == "overloaded_error" and got[-2].message == "Overloaded"
    failed = got[-1].response
    assert failed.status == "failed" and failed.error.code == "server_error" and failed.error.type == "overloaded_error"


def test_cut_short_upstream_fails_the_response() -> None:
    """An upstream that ends before the answer is complete ends with response.failed."""
    assert types(run([message_start(), *text_block(0, "x")]))[-1] == "response.failed"


@settings(max_examples=200, deadline=None)
@given(upstream_streams(), st.integers(1, 64))
def test_any_upstream_gives_a_well_formed_event_sequence(events: list[Event], split: int) -> None:
    """Whatever the upstream sends: created first, one terminal event last, gapless sequence numbers, items closed."""
    got = run(events, split)
    assert got[0].type == "response.created"
    assert got[-1].type in ("response.completed", "response.incomplete", "response.failed")
    assert sum(e.type in ("response.completed", "response.incomplete", "response.failed") for e in got) == 1
    assert [e.sequence_number for e in got] == list(range(len(got)))
    added = {e.output_index for e in got if e.type == "response.output_item.added"}
    done = {e.output_index for e in got if e.type == "response.output_item.done"}
    assert sorted(added) == list(range(len(added)))
    if got[-1].type != "response.failed":
        assert added == done
