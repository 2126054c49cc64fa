"""The SSE decoder the stream translators read the upstream with."""

from __future__ import annotations

from claudewire.dialects.sse import SSEDecoder, SSEEvent


def test_events_split_whatever_the_chunking_and_line_endings() -> None:
    """Events come out whole whether split mid-line or framed with CRLF."""
    raw = b'event: ping\r\ndata: {"type": "ping"}\r\n\r\nevent: message_stop\ndata: {"type":"message_stop"}\n\n'
    decoder = SSEDecoder()
    events = [e for i in range(len(raw)) for e in decoder.feed(raw[i : i + 1])]
    assert events == [SSEEvent("ping", {"type": "ping"}), SSEEvent("message_stop", {"type": "message_stop"})]


def test_name_from_data_type_and_comments_skipped() -> None:
    """An event without an event: line is named by its data's type; comment lines are skipped."""
    events = SSEDecoder().feed(b': keep-alive\n\ndata: {"type":"message_stop"}\n\n')
    assert events == [SSEEvent("message_stop", {"type": "message_stop"})]


def test_multi_line_data_joined() -> None:
    """Several data: lines of one event join with a newline before parsing."""
    events = SSEDecoder().feed(b'event: x\ndata: {"a":\ndata: 1}\n\n')
    assert events == [SSEEvent("x", {"a": 1})]


def test_unreadable_event_is_one_error_then_nothing() -> None:
    """Data that is not JSON yields one error event, and the decoder reads nothing more."""
    decoder = SSEDecoder()
    events = decoder.feed(b"event: content_block_delta\ndata: {nope\n\n")
    assert [e.name for e in events] == ["error"] and events[0].data["error"]["type"] == "api_error"
    assert decoder.feed(b'data: {"type":"ping"}\n\n') == []
