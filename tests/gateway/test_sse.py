"""The stream scanner: whatever the chunking, it finds the first delta, usage, message_stop and error events."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from claudewire._sse import StreamScanner


def _event(name: str, data: dict[str, object], sep: str = "\n") -> bytes:
    return f"event: {name}{sep}data: {json.dumps(data)}{sep}{sep}".encode()


def _stream(deltas: int, *, error: bool = False, sep: str = "\n") -> bytes:
    usage = {"input_tokens": 12, "output_tokens": 1, "cache_read_input_tokens": 5}
    parts = [
        _event("message_start", {"type": "message_start", "message": {"model": "claude-x", "usage": usage}}, sep),
        _event("content_block_start", {"type": "content_block_start", "index": 0}, sep),
        _event("ping", {"type": "ping"}, sep),
    ]
    for i in range(deltas):
        text = f"word {i} mentions message_ and error in passing "
        parts.append(_event("content_block_delta", {"type": "content_block_delta", "delta": {"text": text}}, sep))
    if error:
        parts.append(_event("error", {"type": "error", "error": {"type": "overloaded_error", "message": "x"}}, sep))
        return b"".join(parts)
    parts.append(_event("content_block_stop", {"type": "content_block_stop", "index": 0}, sep))
    parts.append(_event("message_delta", {"type": "message_delta", "usage": {"output_tokens": 77}}, sep))
    parts.append(_event("message_stop", {"type": "message_stop"}, sep))
    return b"".join(parts)


def _scan(data: bytes, cuts: list[int]) -> StreamScanner:
    scanner = StreamScanner()
    at = 0
    for cut in [*sorted(set(cuts)), len(data)]:
        scanner.feed(data[at:cut])
        at = cut
    return scanner


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    deltas=st.integers(min_value=1, max_value=40),
    error=st.booleans(),
    sep=st.sampled_from(["\n", "\r\n"]),
    cuts=st.lists(st.integers(min_value=0, max_value=6000), max_size=30),
)
def test_any_chunking_finds_the_same_delta_usage_stop_and_error(
    deltas: int, error: bool, sep: str, cuts: list[int]
) -> None:
    """Split anywhere (markers cut in two included), the scanner sees what the whole stream says."""
    data = _stream(deltas, error=error, sep=sep)
    scanner = _scan(data, [c for c in cuts if c < len(data)])
    assert scanner.saw_delta
    assert scanner.usage.model == "claude-x" and scanner.usage.input_tokens == 12 and scanner.usage.cache_read == 5
    if error:
        assert scanner.error is not None and scanner.error["error"]["type"] == "overloaded_error"
        assert not scanner.saw_stop
    else:
        assert scanner.error is None and scanner.saw_stop
        assert scanner.usage.output_tokens == 77


def test_one_byte_at_a_time_still_reads_the_final_usage() -> None:
    """The worst chunking (one byte per feed) still finds message_delta's usage and message_stop."""
    data = _stream(5)
    scanner = _scan(data, list(range(1, len(data))))
    assert scanner.saw_stop and scanner.usage.output_tokens == 77
