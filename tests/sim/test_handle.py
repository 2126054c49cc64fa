"""The run_sim handle: faults changed while running, counters, the bounded request log, the catalogue API."""

from __future__ import annotations

import contextlib
import socket
import threading

import anthropic
import httpx2
import pytest

from claudewire.sim import Catalogue, FaultSpecError, SimServer
from claudewire.testing import run_sim
from tests.conftest import SIM_KEY, SIM_MODEL

HELLO = [{"role": "user", "content": "Hello"}]


def create(sim: SimServer, **headers: str) -> None:
    c = anthropic.Anthropic(base_url=sim.base_url, api_key=SIM_KEY, max_retries=0, default_headers=headers)
    c.messages.create(model=SIM_MODEL, max_tokens=8, messages=HELLO)


def test_faults_change_while_running(sim: SimServer) -> None:
    """set_faults and set_profile take effect on the next request; an unknown profile is refused."""
    create(sim)
    sim.set_profile("down")
    with pytest.raises(anthropic.ServiceUnavailableError):
        create(sim)
    sim.set_profile("healthy")
    create(sim)
    sim.set_faults(["402"])
    with pytest.raises(anthropic.PaymentRequiredError):
        create(sim)
    with pytest.raises(FaultSpecError):
        sim.set_profile("nonsense")


def test_set_faults_is_safe_from_other_threads(sim: SimServer) -> None:
    """Swapping faults from several threads while requests run never breaks the server."""
    stop = threading.Event()

    def flip() -> None:
        while not stop.is_set():
            sim.set_faults(["529:0.5"])
            sim.set_faults([])

    flippers = [threading.Thread(target=flip) for _ in range(2)]
    for t in flippers:
        t.start()
    try:
        for _ in range(20):
            with contextlib.suppress(anthropic.OverloadedError):
                create(sim)
    finally:
        stop.set()
        for t in flippers:
            t.join()
    assert sim.stats.total == 20


def test_stats_count_and_reset(sim: SimServer) -> None:
    """stats counts requests by path, status and fault; reset() zeroes them and empties the log."""
    create(sim)
    sim.set_faults(["529:1.0,count=1"])
    with pytest.raises(anthropic.OverloadedError):
        create(sim)
    snapshot = sim.stats.snapshot()
    assert snapshot == {"total": 2, "by_path": {"/v1/messages": 2}, "by_status": {200: 1, 529: 1},
                        "by_fault": {"529": 1}}  # fmt: skip
    assert [r.faults for r in sim.requests] == [(), ("529",)]
    sim.stats.reset()
    assert sim.stats.total == 0 and sim.requests == [] and not sim.stats.by_path


def test_request_log_keeps_headers_bounded_and_redacted_in_repr() -> None:
    """The log keeps the newest N requests with their headers; its repr never shows the key."""
    with run_sim(request_log_size=3) as sim:
        for i in range(5):
            create(sim, **{"x-custom": str(i)})
        records = sim.requests
    assert [r.headers["x-custom"] for r in records] == ["2", "3", "4"]
    assert records[-1].api_key == SIM_KEY
    assert records[-1].headers["anthropic-version"]
    assert SIM_KEY not in repr(records[-1]) and SIM_KEY not in str(records[-1].safe_headers())


def test_catalogue_names_a_current_replacement(sim: SimServer) -> None:
    """replacement_for maps retired and deprecated ids (and aliases) to an active model: the one the deprecation
    notice names, else the newest of the same line."""
    catalogue = sim.catalogue
    assert [m.id for m in catalogue] == [m.id for m in Catalogue()]
    assert catalogue.replacement_for("claude-3-opus-20240229").id == "claude-opus-4-6"  # type: ignore[union-attr]
    assert catalogue.replacement_for("claude-sonnet-4-5").id == "claude-sonnet-5-5"  # type: ignore[union-attr]
    assert catalogue.replacement_for("claude-haiku-4-5").id == "claude-haiku-4-5-20251001"  # type: ignore[union-attr]
    assert catalogue.replacement_for("claude-2.1").id == "claude-sonnet-5-5"  # type: ignore[union-attr]


def _outcomes(seed: int) -> list[str]:
    outcomes: list[str] = []
    with run_sim(profile="flaky", faults=["latency:0"], seed=seed) as sim:
        headers = {"x-api-key": SIM_KEY, "anthropic-version": "2023-06-01"}
        for _ in range(40):
            try:
                outcomes.append(str(httpx2.get(sim.base_url + "/v1/models", headers=headers).status_code))
            except httpx2.TransportError:
                outcomes.append("reset")
    return outcomes


def test_seeded_server_replays_the_same_faults() -> None:
    """Two servers with the same seed answer the same sequence of requests with the same faults."""
    first = _outcomes(11)
    assert first == _outcomes(11)
    assert set(first) - {"200"}  # the flaky profile did inject something in 40 requests


def test_start_failure_is_raised_by_run_sim() -> None:
    """A port that cannot be bound makes run_sim raise the OSError instead of hanging."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError), run_sim(port=taken.getsockname()[1]):
            pass
