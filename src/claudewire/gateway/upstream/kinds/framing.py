"""A lean decoder for the ``application/vnd.amazon.eventstream`` framing, chosen by measurement (bench/kinds.py).

botocore's `EventStreamBuffer` parses each header with several Python calls and dominated the cost of re-emitting
a Bedrock stream as SSE; this one reads the same wire format (prelude with its CRC32, headers, payload, message
CRC32) with one `struct` call per field and checks the same CRCs. Its results are tested equal to botocore's on the
same bytes split anywhere, and a checksum or length it cannot accept raises `FramingError`, as botocore would.
"""

from __future__ import annotations

import struct
import zlib

__all__ = ["MAX_MESSAGE", "FramingError", "Message", "MessageBuffer"]

_PRELUDE = struct.Struct(">III")
_U16 = struct.Struct(">H")
_CRC = struct.Struct(">I")
# One message carries one Anthropic stream event (a delta, a content block): 4 MiB holds the largest block start
# (a fetched document, base64) many times over, and bounds what a stream can make us buffer. A prelude announcing
# more is refused at once, not waited for (botocore allows 16 MiB + 128 KiB).
MAX_MESSAGE = 4 * 1024 * 1024
_FIXED = {2: 1, 3: 2, 4: 4, 5: 8, 8: 8, 9: 16}  # byte, short, int, long, timestamp, uuid


class FramingError(ValueError):
    """Bytes that are not a valid event-stream message (bad CRC, length or header); `messages` are the complete
    ones that came before them in the same `add`."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.messages: list[Message] = []


Message = tuple[dict[str, object], bytes]
"""One decoded message: headers by name (strings as str, others as bytes or bool) and the payload."""


class MessageBuffer:
    """Feed bytes with `add`; iterate to get every complete message, in order. Holds at most one partial message."""

    __slots__ = ("_data",)

    def __init__(self) -> None:
        self._data = b""

    @property
    def pending(self) -> int:
        """Bytes of a message begun and not complete yet."""
        return len(self._data)

    def add(self, chunk: bytes) -> list[Message]:
        """Add `chunk` and return the messages it completes; `FramingError` (with those before it) at a bad one."""
        data = self._data + chunk if self._data else chunk
        out: list[Message] = []
        try:
            offset = self._messages(data, out)
        except FramingError as exc:
            self._data = b""
            exc.messages = out
            raise
        self._data = data[offset:]
        return out

    @staticmethod
    def _messages(data: bytes, out: list[Message]) -> int:
        offset = 0
        size = len(data)
        while size - offset >= 12:
            total, headers_len, prelude_crc = _PRELUDE.unpack_from(data, offset)
            if zlib.crc32(data[offset : offset + 8]) != prelude_crc:
                raise FramingError("event-stream prelude checksum mismatch")
            if total < 16 or total > MAX_MESSAGE or headers_len > total - 16:
                raise FramingError(f"event-stream message length {total} (headers {headers_len}) is not valid")
            if size - offset < total:
                break
            end = offset + total
            (message_crc,) = _CRC.unpack_from(data, end - 4)
            if zlib.crc32(data[offset : end - 4]) != message_crc:
                raise FramingError("event-stream message checksum mismatch")
            start = offset + 12
            try:
                headers = _headers(data[start : start + headers_len])
            except (IndexError, struct.error, UnicodeDecodeError) as exc:  # lengths inside the headers that lie
                raise FramingError(f"event-stream headers cannot be read: {exc}") from None
            out.append((headers, data[start + headers_len : end - 4]))
            offset = end
        return offset


def _headers(data: bytes) -> dict[str, object]:
    headers: dict[str, object] = {}
    pos, end = 0, len(data)
    while pos < end:
        name_len = data[pos]
        name = data[pos + 1 : pos + 1 + name_len].decode("utf-8")
        pos += 1 + name_len
        kind = data[pos]
        pos += 1
        value: object
        if kind == 7 or kind == 6:  # string, byte array: u16 length then the bytes
            (length,) = _U16.unpack_from(data, pos)
            raw = data[pos + 2 : pos + 2 + length]
            value = raw.decode("utf-8") if kind == 7 else raw
            pos += 2 + length
        elif kind in (0, 1):
            value = kind == 0
        elif kind in _FIXED:
            value = data[pos : pos + _FIXED[kind]]
            pos += _FIXED[kind]
        else:
            raise FramingError(f"event-stream header {name!r} has unknown type {kind}")
        if pos > end:
            raise FramingError("event-stream headers overrun their length")
        headers[name] = value
    return headers
