"""The streaming check's judgement: a burst is buffering only if the doctor itself was not kept from reading."""

from __future__ import annotations

import asyncio
import time

from claudewire.doctor import Status
from claudewire.doctor.api import make_client
from claudewire.doctor.inference import StreamProbe, check_streaming, probe_stream
from claudewire.sim import Pacing
from claudewire.testing import run_sim
from tests.doctor.conftest import settings_for

_TYPES = ("message_start", "content_block_start", "ping", *("content_block_delta",) * 12, "content_block_stop")
_TYPES = (*_TYPES, "message_delta", "message_stop")


def _burst(at: float, stalls: tuple[tuple[float, float], ...] = ()) -> StreamProbe:
    """17 events within 2 ms, `at` seconds after the request was sent."""
    return StreamProbe(tuple((kind, at + i * 0.0001) for i, kind in enumerate(_TYPES)), stalls=stalls)


def test_a_burst_after_a_wait_with_the_doctor_running_freely_is_buffering() -> None:
    """All events at once after 500 ms, and the doctor's loop was never held: a proxy buffers (warn)."""
    result = check_streaming(_burst(0.5, stalls=((0.2, 0.03),)))
    assert result.status is Status.WARN
    assert "buffers the stream" in result.detail


def test_a_burst_right_after_the_doctor_was_held_is_not_called_buffering() -> None:
    """The same burst arriving just as a 450 ms stall of the doctor's own loop ends: cannot tell, no warning."""
    result = check_streaming(_burst(0.5, stalls=((0.5, 0.45),)))
    assert result.status is Status.PASS
    assert "cannot tell" in result.detail
    assert result.evidence["own_stall_ms"] == 450.0


def test_a_stall_long_before_the_burst_does_not_excuse_it() -> None:
    """A stall that ended well before the burst could not have squeezed it: still a warning."""
    assert check_streaming(_burst(0.9, stalls=((0.3, 0.25),))).status is Status.WARN


def test_the_probe_measures_its_own_loop_being_held() -> None:
    """A real stream read by a doctor whose loop is blocked 400 ms mid-stream is judged "cannot tell", not buffered."""

    async def main(base_url: str) -> StreamProbe:
        settings = settings_for(base_url)
        client = make_client(settings)
        # what a loaded machine does to the doctor: its loop cannot run while the simulator streams
        asyncio.get_running_loop().call_later(0.15, time.sleep, 0.4)
        try:
            return await probe_stream(client, settings)
        finally:
            await client.close()

    with run_sim(seed=0, pacing=Pacing(ttft=0.1, per_token=0.01)) as sim:
        probe = asyncio.run(main(sim.base_url))
    assert probe.complete
    assert max(length for _, length in probe.stalls) >= 0.35
    assert check_streaming(probe).status is Status.PASS
