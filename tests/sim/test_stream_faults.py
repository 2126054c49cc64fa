"""Streaming: event shapes, pacing, and the stream faults (error event, cut, slow, buffered, pause)."""

from __future__ import annotations

import json

import anthropic
import pytest

from claudewire import FailureKind, classify
from claudewire.sim import Pacing, SimServer
from claudewire.testing import run_sim
from tests.conftest import SIM_KEY, SIM_MODEL
from tests.sim.helpers import event_times, exchange, request_bytes, stream_body

HELLO = [{"role": "user", "content": "Hello"}]


def stream_pieces(sim: SimServer, sink: list[str]) -> None:
    c = anthropic.Anthropic(base_url=sim.base_url, api_key=SIM_KEY, max_retries=0)
    with c.messages.stream(model=SIM_MODEL, max_tokens=64, messages=HELLO) as stream:
        sink.extend(stream.text_stream)


def test_event_sequence_and_shapes(sim: SimServer) -> None:
    """Events come as message_start, content_block_start, ping, deltas, block stop, message_delta, message_stop."""
    chunks = exchange(sim.base_url, request_bytes(sim.base_url, stream_body()))
    raw = b"".join(c.data for c in chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"content-type: text/event-stream" in head.lower()
    names = [name for _, name in event_times(chunks)]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert set(names[3:-3]) == {"content_block_delta"} and len(names[3:-3]) == 12
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    datas = [json.loads(line[6:]) for line in body.split(b"\n") if line.startswith(b"data: ")]
    start, delta = datas[0], datas[-2]
    assert start["message"]["usage"]["input_tokens"] > 0 and start["message"]["content"] == []
    assert delta["delta"]["stop_reason"] == "end_turn" and delta["usage"]["output_tokens"] == 12


def test_pacing_spreads_events_over_time() -> None:
    """With pacing on, content deltas are spread over time, not sent in one burst.

    Delta i cannot arrive before the server sent it, ttft + per_token x (i + 1) after the request; a loaded
    reader may merge arrivals, so only these lower bounds are asserted.
    """
    with run_sim(pacing=Pacing(ttft=0.1, per_token=0.03)) as paced:
        chunks = exchange(paced.base_url, request_bytes(paced.base_url, stream_body()))
    times = [at for at, name in event_times(chunks) if name == "content_block_delta"]
    assert len(times) == 12
    assert all(at >= (0.1 + 0.03 * (i + 1)) * 0.95 for i, at in enumerate(times)), times


def test_midstream_error_after_n_deltas(sim: SimServer) -> None:
    """midstream_error,after=3: three text deltas, then an overloaded_error event the SDK raises."""
    sim.set_faults(["midstream_error:1.0,after=3"])
    pieces: list[str] = []
    with pytest.raises(anthropic.APIStatusError) as info:
        stream_pieces(sim, pieces)
    assert len(pieces) == 3
    assert info.value.body == {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    failure = classify(info.value.body)  # type: ignore[arg-type]
    assert failure is not None and failure.kind is FailureKind.OVERLOADED


def test_cut_stream_after_n_deltas(sim: SimServer) -> None:
    """cut,after=2: two deltas, then the connection closes mid-body; the SDK's stream fails as interrupted."""
    sim.set_faults(["cut:1.0,after=2"])
    pieces: list[str] = []
    with pytest.raises(Exception) as info:  # the SDK lets httpx2's RemoteProtocolError through here
        stream_pieces(sim, pieces)
    assert len(pieces) == 2
    failure = classify(info.value)
    assert failure is not None and failure.kind is FailureKind.STREAM_INTERRUPTED
    raw = b"".join(c.data for c in exchange(sim.base_url, request_bytes(sim.base_url, stream_body())))
    assert b"message_stop" not in raw and not raw.endswith(b"0\r\n\r\n")


def test_slow_stream_spaces_deltas(sim: SimServer) -> None:
    """slow,ms=60 holds the first token 60 ms and each delta 60 ms more; the text still arrives whole.

    Asserted as arrival no earlier than the server could have sent it (delta i after 60 ms x (i + 2)): a loaded
    reader may see two deltas in one recv, so the gaps between arrivals prove nothing, but nothing arrives early.
    """
    sim.set_faults(["slow:1.0,ms=60"])
    chunks = exchange(sim.base_url, request_bytes(sim.base_url, stream_body(max_tokens=4)))
    times = [at for at, name in event_times(chunks) if name == "content_block_delta"]
    assert len(times) == 4
    assert all(at >= 0.06 * (i + 2) * 0.95 for i, at in enumerate(times)), times
    assert event_times(chunks)[-1][1] == "message_stop"


def test_buffered_stream_arrives_all_at_once(sim: SimServer) -> None:
    """buffered,ms=300: nothing for 300 ms after the headers, then every event in a single write."""
    sim.set_faults(["buffered:1.0,ms=300"])
    chunks = exchange(sim.base_url, request_bytes(sim.base_url, stream_body()))
    events = event_times(chunks)
    assert events[0][0] >= 0.3
    assert {at for at, _ in events} == {events[0][0]}  # all in one recv
    assert events[-1][1] == "message_stop"
    pieces: list[str] = []
    stream_pieces(sim, pieces)  # and the SDK still assembles the whole text
    assert len(pieces) == 12


def test_stream_faults_leave_plain_requests_alone(sim: SimServer) -> None:
    """A stream fault does not touch a non-streaming call."""
    sim.set_faults(["cut:1.0", "midstream_error:1.0"])
    c = anthropic.Anthropic(base_url=sim.base_url, api_key=SIM_KEY, max_retries=0)
    assert c.messages.create(model=SIM_MODEL, max_tokens=8, messages=HELLO).stop_reason == "max_tokens"
    assert not sim.stats.by_fault


def test_pause_is_a_silent_gap_after_n_deltas(sim: SimServer) -> None:
    """pause,after=2,seconds=0.6: two deltas, not a byte for the pause, then the whole rest of the stream."""
    sim.set_faults(["pause:1.0,after=2,seconds=0.6"])
    chunks = exchange(sim.base_url, request_bytes(sim.base_url, stream_body()))
    timed = event_times(chunks)
    deltas = [at for at, name in timed if name == "content_block_delta"]
    assert len(deltas) == 12 and timed[-1][1] == "message_stop"
    assert deltas[2] - deltas[1] >= 0.6 * 0.95  # a lower bound only: the silence is at least the pause
