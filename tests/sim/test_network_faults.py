"""Faults a network path causes: connection reset, stall, captive portal, added latency, a skewed clock."""

from __future__ import annotations

import email.utils
import time

import anthropic
import httpx2
import pytest

from claudewire import FailureKind, classify
from claudewire.sim import SimServer
from tests.conftest import SIM_KEY, SIM_MODEL
from tests.sim.helpers import exchange, request_bytes

HELLO = [{"role": "user", "content": "Hello"}]
HEADERS = {"x-api-key": SIM_KEY, "anthropic-version": "2023-06-01"}


def client(sim: SimServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=sim.base_url, api_key=SIM_KEY, max_retries=0)


def test_reset_is_a_tcp_reset_before_any_answer(sim: SimServer) -> None:
    """reset closes the connection with RST before a byte of answer: the SDK raises APIConnectionError."""
    sim.set_faults(["reset"])
    with pytest.raises(ConnectionResetError):
        exchange(sim.base_url, request_bytes(sim.base_url, {"model": SIM_MODEL}))
    with pytest.raises(anthropic.APIConnectionError) as info:
        client(sim).messages.create(model=SIM_MODEL, max_tokens=8, messages=HELLO)
    failure = classify(info.value)
    assert failure is not None and failure.kind is FailureKind.CONNECTION_RESET
    assert sim.stats.by_fault["reset"] == 2


def test_stall_accepts_and_never_answers(sim: SimServer) -> None:
    """stall reads the request and answers nothing: the SDK's read timeout fires (APITimeoutError)."""
    sim.set_faults(["stall"])
    with pytest.raises(anthropic.APITimeoutError):
        client(sim).messages.create(model=SIM_MODEL, max_tokens=8, messages=HELLO, timeout=0.3)
    assert sim.stats.by_fault["stall"] == 1  # and the fixture's shutdown still completes: stalls are released


def test_stall_with_seconds_gives_up_by_resetting(sim: SimServer) -> None:
    """stall,seconds=S holds the request S seconds, then drops the connection without an answer."""
    sim.set_faults(["stall,seconds=0.2"])
    started = time.monotonic()
    with pytest.raises(ConnectionResetError):
        exchange(sim.base_url, request_bytes(sim.base_url, {"model": SIM_MODEL}))
    assert time.monotonic() - started >= 0.2


def test_portal_answers_html_200_to_everything(sim: SimServer) -> None:
    """portal answers every path with a 200 HTML sign-in page, which classify calls not_anthropic."""
    sim.set_faults(["portal"])
    for method, path in [("GET", "/v1/models"), ("POST", "/v1/messages"), ("GET", "/")]:
        answer = httpx2.request(method, sim.base_url + path, headers=HEADERS, json={})
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/html")
        assert "<html>" in answer.text and "request-id" not in answer.headers
    failure = classify(200, headers=dict(answer.headers), body=answer.content)
    assert failure is not None and failure.kind is FailureKind.NOT_ANTHROPIC


def test_latency_delays_the_answer(sim: SimServer) -> None:
    """latency,ms=N holds every answer at least N ms (fixed) or within the range (uniform)."""
    sim.set_faults(["latency:1.0,ms=250"])
    started = time.monotonic()
    client(sim).models.list()
    assert time.monotonic() - started >= 0.25
    sim.set_faults(["latency:1.0,ms=100-150"])
    started = time.monotonic()
    client(sim).models.list()
    assert time.monotonic() - started >= 0.1


def test_date_is_accurate_and_skew_shifts_it(sim: SimServer) -> None:
    """The Date header tells the real time; skew,seconds=S shifts it by S seconds."""

    def date_offset() -> float:
        answer = httpx2.get(sim.base_url + "/v1/models", headers=HEADERS)
        stamp = email.utils.parsedate_to_datetime(answer.headers["date"]).timestamp()
        return stamp - time.time()

    assert abs(date_offset()) < 5
    sim.set_faults(["skew:1.0,seconds=300"])
    assert 290 < date_offset() < 310
    sim.set_faults(["skew:1.0,seconds=-3600"])
    assert -3610 < date_offset() < -3590


def test_skewed_clock_for_the_whole_server() -> None:
    """SimConfig.clock_skew shifts the Date of every answer."""
    from claudewire.testing import run_sim

    with run_sim(clock_skew=-600) as skewed:
        answer = httpx2.get(skewed.base_url + "/v1/models", headers=HEADERS)
    stamp = email.utils.parsedate_to_datetime(answer.headers["date"]).timestamp()
    assert -610 < stamp - time.time() < -590


def test_stalled_handler_is_released_when_the_client_leaves(sim: SimServer) -> None:
    """A client that gives up on a stall frees the server's handler: in_flight drops back to zero."""
    sim.set_faults(["stall"])
    for _ in range(3):
        with pytest.raises(anthropic.APITimeoutError):
            client(sim).messages.create(model=SIM_MODEL, max_tokens=8, messages=HELLO, timeout=0.2)
    deadline = time.monotonic() + 5
    while sim.stats.in_flight and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sim.stats.in_flight == 0
    assert sim.stats.by_fault["stall"] == 3
