"""The simulator's event-stream encoder, read back by botocore's decoder (the one the SDK's AnthropicBedrock uses)."""

from __future__ import annotations

import base64
import json

import pytest
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer

from claudewire.sim.eventstream import chunk_frame, encode_message, exception_frame, sse_to_chunk
from claudewire.sim.shapes import sse


def _decode(data: bytes) -> list[object]:
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return list(buffer)


def test_botocore_decodes_a_chunk_with_its_headers_and_payload() -> None:
    """A chunk frame decodes with botocore: prelude lengths, both CRCs, the three string headers, base64 bytes."""
    event = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "hé"}}
    frame = chunk_frame(event)
    (message,) = _decode(frame)
    assert message.prelude.total_length == len(frame)  # type: ignore[attr-defined]
    assert message.headers == {":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"}  # type: ignore[attr-defined]
    payload = json.loads(message.payload)  # type: ignore[attr-defined]
    assert json.loads(base64.b64decode(payload["bytes"])) == event


def test_frames_split_anywhere_decode_in_order() -> None:
    """Frames fed to botocore one byte at a time come out whole and in order (no framing state is lost)."""
    frames = b"".join(chunk_frame({"type": "ping", "n": i}) for i in range(5))
    buffer = EventStreamBuffer()
    seen = []
    for i in range(len(frames)):
        buffer.add_data(frames[i : i + 1])
        seen.extend(json.loads(base64.b64decode(json.loads(m.payload)["bytes"]))["n"] for m in buffer)
    assert seen == [0, 1, 2, 3, 4]


def test_a_corrupted_byte_fails_the_message_crc() -> None:
    """Flipping one payload byte makes botocore reject the message with ChecksumMismatch: the CRC covers it."""
    frame = bytearray(encode_message({":message-type": "event"}, b'{"x":1}'))
    frame[-6] ^= 0x01
    with pytest.raises(ChecksumMismatch):
        _decode(bytes(frame))


def test_exception_frame_parses_as_the_bedrock_exception() -> None:
    """An exception frame reads back as botocore's error response: status 400 and the exception type and message."""
    (message,) = _decode(exception_frame("throttlingException", "Too many requests"))
    response = message.to_response_dict()  # type: ignore[attr-defined]
    assert response["status_code"] == 400
    assert response["headers"][":exception-type"] == "throttlingException"
    assert json.loads(response["body"]) == {"message": "Too many requests"}


def test_message_stop_carries_invocation_metrics() -> None:
    """sse_to_chunk adds amazon-bedrock-invocationMetrics to message_stop only, as Bedrock does."""
    metrics = {"inputTokenCount": 3, "outputTokenCount": 4}
    stop = _decode(sse_to_chunk(sse("message_stop", {"type": "message_stop"}), metrics))[0]
    ping = _decode(sse_to_chunk(sse("ping", {"type": "ping"}), metrics))[0]
    assert (
        json.loads(base64.b64decode(json.loads(stop.payload)["bytes"]))["amazon-bedrock-invocationMetrics"] == metrics
    )  # type: ignore[attr-defined]
    assert json.loads(base64.b64decode(json.loads(ping.payload)["bytes"])) == {"type": "ping"}  # type: ignore[attr-defined]
