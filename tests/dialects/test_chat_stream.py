"""Messages SSE -> Chat Completions SSE: the state machine, each chunk parsed by the SDK's ChatCompletionChunk."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types.chat import ChatCompletionChunk

from claudewire.dialects import ChatStream
from tests.dialects.upstream import (
    PING,
    STOP,
    Event,
    answer,
    block_start,
    block_stop,
    chunks,
    delta,
    frames,
    message_delta,
    message_start,
    sse,
    text_block,
    thinking_block,
    tool_block,
)


def run(events: list[Event], *, include_usage: bool = False, split: int = 0) -> bytes:
    """Feed the stream's bytes (in pieces of `split` bytes when set) and close it."""
    stream = ChatStream(model="cw-sonnet", created=1700000000, include_usage=include_usage)
    raw = sse(events)
    step = split or len(raw)
    out = b"".join(stream.feed(raw[i : i + step]) for i in range(0, len(raw), step))
    return out + stream.close()


def parsed(out: bytes) -> list[ChatCompletionChunk]:
    """Every chunk through the SDK's model (strict validation)."""
    return [ChatCompletionChunk.model_validate(c) for c in chunks(out)]


def test_first_chunk_carries_the_role_then_text_deltas() -> None:
    """The first chunk carries role assistant; text deltas follow as delta.content; [DONE] ends the stream."""
    out = run(answer(text_block(0, "Hel", "lo")))
    got = parsed(out)
    assert got[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].delta.content for c in got[1:3]] == ["Hel", "lo"]
    assert all(c.id == "msg_01abc" and c.model == "cw-sonnet" for c in got)
    assert frames(out)[-1] == "[DONE]"


def test_finish_reason_only_on_the_last_choice_chunk() -> None:
    """finish_reason is null on every choice chunk but the last, which carries the mapped reason."""
    got = parsed(run(answer(text_block(0, "a", "b"), stop_reason="max_tokens")))
    reasons = [c.choices[0].finish_reason for c in got if c.choices]
    assert reasons[-1] == "length" and all(r is None for r in reasons[:-1])


def test_tool_name_kept_when_text_precedes_tool_calls() -> None:
    """A tool call after text still opens with its id and function name (LiteLLM #18238)."""
    got = parsed(run(answer(text_block(0, "Let me check."), tool_block(1, "toolu_1", "get", '{"a":1}'))))
    calls = [c.choices[0].delta.tool_calls for c in got if c.choices and c.choices[0].delta.tool_calls]
    first = calls[0][0]
    assert (first.index, first.id, first.type) == (0, "toolu_1", "function")
    assert first.function is not None and first.function.name == "get"


def test_several_tool_calls_stream_each_with_its_own_index_id_and_name() -> None:
    """Every tool call streams (Bifrost #3441, Portkey #1275): own index, id and name first, then its fragments."""
    events = answer(
        tool_block(0, "toolu_a", "alpha", '{"x":', "1}"),
        tool_block(1, "toolu_b", "beta", '{"y":2}'),
        tool_block(2, "toolu_c", "gamma"),
        stop_reason="tool_use",
    )
    got = parsed(run(events))
    calls: dict[int, dict[str, Any]] = {}
    for chunk in got:
        for call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            entry = calls.setdefault(call.index, {"id": None, "name": None, "args": ""})
            if call.id is not None:
                assert entry["id"] is None, "id sent twice"
                entry["id"], entry["name"] = call.id, call.function.name if call.function else None
            else:
                assert entry["id"] is not None, "arguments before the id"
            entry["args"] += (call.function.arguments or "") if call.function else ""
    assert calls == {
        0: {"id": "toolu_a", "name": "alpha", "args": '{"x":1}'},
        1: {"id": "toolu_b", "name": "beta", "args": '{"y":2}'},
        2: {"id": "toolu_c", "name": "gamma", "args": "{}"},
    }
    assert got[-1].choices[0].finish_reason == "tool_calls"


def test_usage_chunk_only_after_the_final_usage() -> None:
    """With include_usage the usage chunk (empty choices) comes last, after message_delta's final counts."""
    stream = ChatStream(model="m", created=1, include_usage=True)
    before = stream.feed(sse([message_start(), *text_block(0, "hi")]))
    assert all(c["usage"] is None for c in chunks(before))
    after = stream.feed(sse([message_delta("end_turn", output_tokens=42), STOP]))
    got = parsed(after)
    assert got[-1].choices == [] and got[-1].usage is not None
    assert got[-1].usage.completion_tokens == 42
    assert frames(after)[-1] == "[DONE]"


def test_usage_reports_cache_tokens() -> None:
    """The streamed usage counts cache reads in prompt_tokens and reports them as cached_tokens."""
    events = answer(text_block(0, "x"), cache_read_input_tokens=500, cache_creation_input_tokens=50)
    usage = parsed(run(events, include_usage=True))[-1].usage
    assert usage is not None and usage.prompt_tokens_details is not None
    assert usage.prompt_tokens == 10 + 500 + 50 and usage.prompt_tokens_details.cached_tokens == 500
    assert usage.prompt_tokens_details.cache_write_tokens == 50


def test_no_usage_chunk_without_include_usage() -> None:
    """Without include_usage no chunk carries a usage key."""
    assert all("usage" not in c for c in chunks(run(answer(text_block(0, "x")))))


def test_thinking_streams_as_reasoning_content() -> None:
    """Thinking deltas stream as delta.reasoning_content; the signature is not sent as text."""
    out = run(answer(thinking_block(0, "pondering"), text_block(1, "42")))
    got = chunks(out)
    assert [c["choices"][0]["delta"].get("reasoning_content") for c in got if c["choices"]][1] == "pondering"
    assert b"sig-abc" not in out


def test_mid_stream_error_becomes_openai_error_then_done() -> None:
    """An upstream error event mid-stream becomes an OpenAI error frame, then [DONE], and nothing after."""
    stream = ChatStream(model="m", created=1)
    out = stream.feed(sse([message_start(), *text_block(0, "par")]))
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    out += stream.feed(sse([("error", error)]))
    tail = frames(out)[-2:]
    assert json.loads(tail[0]) == {
        "error": {"message": "Overloaded", "type": "overloaded_error", "param": None, "code": None}
    }
    assert tail[1] == "[DONE]"
    assert stream.done and stream.feed(sse([message_delta(), STOP])) == b"" and stream.close() == b""


def test_upstream_cut_short_becomes_an_error_then_done() -> None:
    """An upstream that ends before the answer is complete ends the stream with an error frame and [DONE]."""
    out = run([message_start(), *text_block(0, "par")])
    assert json.loads(frames(out)[-2])["error"]["type"] == "api_error"
    assert frames(out)[-1] == "[DONE]"


def test_upstream_ending_after_message_delta_ends_cleanly() -> None:
    """An upstream that ends after message_delta but before message_stop ends the stream normally."""
    out = run([message_start(), *text_block(0, "x"), message_delta()], include_usage=True)
    assert "error" not in out.decode() and frames(out)[-1] == "[DONE]"
    assert parsed(out)[-1].usage is not None


def test_unreadable_event_becomes_an_error() -> None:
    """An event whose data is not JSON ends the stream with an OpenAI error frame."""
    stream = ChatStream(model="m", created=1)
    out = stream.feed(sse([message_start()]) + b"event: content_block_delta\ndata: {oops\n\n")
    assert json.loads(frames(out)[-2])["error"]["message"].startswith("the upstream sent an event")
    assert stream.done


def test_pings_and_unknown_events_write_nothing() -> None:
    """ping and events with no Chat Completions counterpart write nothing."""
    stream = ChatStream(model="m", created=1)
    stream.feed(sse([message_start()]))
    assert stream.feed(sse([PING, ("future_event", {"type": "future_event"})])) == b""


def test_byte_at_a_time_feeding_gives_the_same_frames() -> None:
    """Feeding one byte at a time gives exactly the frames of feeding the whole stream at once."""
    events = answer(text_block(0, "héllo"), tool_block(1, "t", "f", '{"a":', "1}"), stop_reason="tool_use")
    assert run(events, include_usage=True, split=1) == run(events, include_usage=True)


def test_fail_after_headers_sent_ends_cleanly() -> None:
    """fail() (the upstream connection broke) writes an error frame and [DONE] once; later calls write nothing."""
    stream = ChatStream(model="m", created=1)
    stream.feed(sse([message_start()]))
    out = stream.fail("connection reset", "api_error")
    assert frames(out)[-1] == "[DONE]" and stream.fail("again") == b""


# --- property: never a chunk after [DONE], tool call indexes stable -------------------------------------------------

_TEXT = st.text(min_size=0, max_size=5)


@st.composite
def upstream_streams(draw: st.DrawFn) -> list[Event]:
    """Plausible and implausible upstream event sequences: blocks of every kind, errors, truncation, junk."""
    events: list[Event] = []
    if draw(st.booleans()):
        events.append(message_start())
    for index in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from(["text", "tool", "thinking", "other", "error", "ping", "stray"]))
        if kind == "text":
            events += text_block(index, *draw(st.lists(_TEXT, max_size=3)))
        elif kind == "tool":
            events += tool_block(index, f"toolu_{index}", f"fn{index}", *draw(st.lists(_TEXT, max_size=3)))
        elif kind == "thinking":
            events += thinking_block(index, draw(_TEXT))
        elif kind == "other":
            events += [block_start(index, {"type": "server_tool_use", "id": "s", "name": "web_search", "input": {}})]
            events += [delta(index, {"type": "input_json_delta", "partial_json": "{}"}), block_stop(index)]
        elif kind == "error":
            events.append(("error", {"type": "error", "error": {"type": "api_error", "message": "boom"}}))
        elif kind == "ping":
            events.append(PING)
        else:
            events.append(delta(draw(st.integers(0, 9)), {"type": "input_json_delta", "partial_json": "x"}))
    if draw(st.booleans()):
        events.append(message_delta(draw(st.sampled_from(["end_turn", "tool_use", "max_tokens", "weird"]))))
    if draw(st.booleans()):
        events.append(STOP)
    if draw(st.booleans()):
        events += text_block(9, "late")
    return events


@settings(max_examples=300, deadline=None)
@given(upstream_streams(), st.integers(1, 64), st.booleans())
def test_never_a_chunk_after_done_and_tool_indexes_stable(events: list[Event], split: int, usage: bool) -> None:
    """Whatever the upstream sends: one [DONE], last; every chunk parses; each tool call keeps one index and id."""
    out = run(events, include_usage=usage, split=split)
    payloads = frames(out)
    assert payloads.count("[DONE]") == 1 and payloads[-1] == "[DONE]"
    ids_by_index: dict[int, str] = {}
    for payload in payloads[:-1]:
        chunk = json.loads(payload)
        if "error" in chunk:
            assert payload is payloads[-2]
            continue
        parsed_chunk = ChatCompletionChunk.model_validate(chunk)
        for choice in parsed_chunk.choices:
            for call in choice.delta.tool_calls or []:
                if call.id is not None:
                    assert call.index not in ids_by_index, "a tool index reused"
                    assert call.id not in ids_by_index.values(), "a tool id under two indexes"
                    ids_by_index[call.index] = call.id
                else:
                    assert call.index in ids_by_index, "arguments for an index never opened"
    assert sorted(ids_by_index) == list(range(len(ids_by_index)))


def test_text_deltas_read_by_their_bytes_equal_the_parsed_translation() -> None:
    """The fast path for the API's compact text deltas writes exactly what parsing them would (escapes kept)."""
    start = (
        b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","usage":{"input_tokens":3}}}\n\n'
        b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
        b'"content_block":{"type":"text","text":""}}\n\n'
    )
    end = (
        b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},'
        b'"usage":{"output_tokens":2}}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n'
    )
    text = 'He said "hi"\n\u00e9 \\ done'
    compact = json.dumps({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}})
    compact = compact.replace(": ", ":").replace(", ", ",")  # the API's own form: read by its bytes
    spaced = json.dumps({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}})
    outputs = []
    for data in (compact, spaced):  # the spaced form is parsed like any event
        frames = start + b"event: content_block_delta\ndata: " + data.encode() + b"\n\n" + end
        out = ChatStream(model="m", created=1).feed(frames)
        outputs.append([json.loads(line[6:]) for line in out.split(b"\n\n") if line.startswith(b"data: {")])
    assert outputs[0] == outputs[1]
    assert outputs[0][1]["choices"][0]["delta"]["content"] == text
