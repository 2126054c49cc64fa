"""The lean event-stream decoder agrees with botocore's on the same bytes, however they are split."""

from __future__ import annotations

import pytest
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer
from hypothesis import given, settings
from hypothesis import strategies as st

from claudewire.gateway.upstream.kinds.framing import FramingError, MessageBuffer
from claudewire.sim.eventstream import encode_message

_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz:-", min_size=1, max_size=20)
_messages = st.lists(
    st.tuples(st.dictionaries(_names, st.text(max_size=40), max_size=4), st.binary(max_size=300)),
    min_size=1,
    max_size=6,
)


def _botocore(data: bytes) -> list[tuple[dict[str, object], bytes]]:
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return [(dict(m.headers), m.payload) for m in buffer]


@settings(max_examples=150, deadline=None)
@given(_messages, st.lists(st.integers(min_value=1, max_value=64), min_size=1, max_size=20))
def test_same_messages_as_botocore_for_any_split(messages: list[tuple[dict[str, str], bytes]], cuts: list[int]) -> None:
    """Any messages, fed in any chunk sizes, decode to what botocore decodes from the whole bytes."""
    data = b"".join(encode_message(headers, payload) for headers, payload in messages)
    buffer = MessageBuffer()
    got: list[tuple[dict[str, object], bytes]] = []
    pos = i = 0
    while pos < len(data):
        size = cuts[i % len(cuts)]
        got.extend(buffer.add(data[pos : pos + size]))
        pos, i = pos + size, i + 1
    assert got == _botocore(data) == [(dict(h), p) for h, p in messages]


@pytest.mark.parametrize("where", [2, 9, -3])
def test_a_flipped_byte_is_refused_like_botocore(where: int) -> None:
    """A flipped byte in the prelude, headers or CRC fails both decoders' checksums."""
    frame = bytearray(encode_message({":event-type": "chunk"}, b'{"bytes":"e30="}'))
    frame[where] ^= 0x10
    with pytest.raises(FramingError):
        MessageBuffer().add(bytes(frame))
    with pytest.raises(ChecksumMismatch):
        _botocore(bytes(frame))
