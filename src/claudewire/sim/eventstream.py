"""The ``application/vnd.amazon.eventstream`` framing Bedrock streams in: an encoder for the simulator.

botocore ships the decoder (``botocore.eventstream``) but no encoder, so this is the small half it lacks, tested
against botocore's decoder. One message::

    total length (u32) | headers length (u32) | prelude CRC32 (u32) | headers | payload | message CRC32 (u32)

Each header is ``name length (u8) | name | type (u8, 7 = string) | value length (u16) | value``. Bedrock sends
three string headers per message: ``:event-type`` (``chunk``) or ``:exception-type``, ``:content-type`` and
``:message-type`` (``event`` or ``exception``).
"""

from __future__ import annotations

import base64
import json
import struct
import zlib
from collections.abc import Mapping
from typing import Any

__all__ = ["chunk_frame", "encode_message", "exception_frame", "sse_to_chunk"]

_STRING = 7
_PRELUDE = struct.Struct(">II")
_CRC = struct.Struct(">I")


def _header(name: str, value: str) -> bytes:
    n, v = name.encode(), value.encode()
    return struct.pack(">B", len(n)) + n + struct.pack(">BH", _STRING, len(v)) + v


def encode_message(headers: Mapping[str, str], payload: bytes) -> bytes:
    """One event-stream message with string `headers` and `payload`, both CRCs computed."""
    head = b"".join(_header(k, v) for k, v in headers.items())
    total = _PRELUDE.size + _CRC.size + len(head) + len(payload) + _CRC.size
    prelude = _PRELUDE.pack(total, len(head))
    prelude += _CRC.pack(zlib.crc32(prelude))
    message = prelude + head + payload
    return message + _CRC.pack(zlib.crc32(message))


def chunk_frame(event: Mapping[str, Any]) -> bytes:
    """A ``chunk`` event carrying one Anthropic stream event, base64 in ``bytes`` as Bedrock sends it."""
    data = json.dumps(event, separators=(",", ":")).encode()
    padding = "abcdefghijklmnopqrstuvwxyz"[: len(data) % 26]  # Bedrock pads chunks to hide their length
    payload = json.dumps({"bytes": base64.b64encode(data).decode(), "p": padding})
    headers = {":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"}
    return encode_message(headers, payload.encode())


def exception_frame(exception_type: str, message: str, **extra: Any) -> bytes:
    """An exception message (``throttlingException`` ...) ending a stream, with its ``message`` and extra fields."""
    payload = json.dumps({"message": message, **extra}).encode()
    headers = {":exception-type": exception_type, ":content-type": "application/json", ":message-type": "exception"}
    return encode_message(headers, payload)


def sse_to_chunk(event: bytes, metrics: Mapping[str, Any] | None = None) -> bytes:
    """The chunk frame for one SSE-framed Anthropic event (``event: ...\\ndata: {...}\\n\\n``).

    `metrics` go into ``message_stop`` as ``amazon-bedrock-invocationMetrics``, as Bedrock adds them.
    """
    for line in event.split(b"\n"):
        if line.startswith(b"data: "):
            data = json.loads(line[6:])
            if metrics is not None and data.get("type") == "message_stop":
                data["amazon-bedrock-invocationMetrics"] = dict(metrics)
            return chunk_frame(data)
    raise ValueError("an SSE event without a data line")
