"""`--workers N` metrics that add up: whichever worker answers a scrape reports every worker's counts."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import pytest
from prometheus_client.parser import text_string_to_metric_families

from claudewire.gateway.workers import GAUGE_MODES, Family, merge, render
from claudewire.metrics import Metrics
from claudewire.testing import run_sim
from claudewire.top import Watch, parse
from tests.conftest import SIM_KEY, SIM_MODEL
from tests.redis_server import free_port

SENT = 30
BODY = {"model": SIM_MODEL, "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
HEADERS = {"x-api-key": SIM_KEY, "anthropic-version": "2023-06-01"}


def _ok_requests(text: str) -> float:
    """claudewire_requests_total of answered messages calls (2xx) in an exposition."""
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "claudewire_requests_total" and s.labels.get("status_class") == "2xx"
    )


def _names(text: str) -> set[str]:
    return {f.name for f in text_string_to_metric_families(text)}


def _gauge(text: str, name: str) -> float:
    return next(s.value for f in text_string_to_metric_families(text) for s in f.samples if s.name == name)


def test_every_gauge_family_has_a_mode_across_workers() -> None:
    """Each gauge the metrics export says how it adds up across workers (sum, max or min): none by accident."""
    gauges = {f.name for f in Metrics().registry.collect() if f.type == "gauge"}
    assert gauges == set(GAUGE_MODES)
    assert set(GAUGE_MODES.values()) <= {"sum", "max", "min"}


def test_merge_sums_counts_and_takes_each_gauges_meaning() -> None:
    """Counters and histograms sum; in-flight sums; breaker state takes the worst; rate-limit headroom the lowest."""

    def worker(requests: float, le_1: float, in_flight: float, breaker: float, remaining: float) -> list[Family]:
        return [
            Family("claudewire_requests", "counter", "r", [("claudewire_requests_total", {"route": "m"}, requests)]),
            Family("claudewire_request_duration_seconds", "histogram", "d", [
                ("claudewire_request_duration_seconds_bucket", {"le": "1.0"}, le_1),
                ("claudewire_request_duration_seconds_count", {}, le_1),
            ]),
            Family("claudewire_in_flight_requests", "gauge", "i", [("claudewire_in_flight_requests", {}, in_flight)]),
            Family("claudewire_breaker_state", "gauge", "b", [("claudewire_breaker_state", {"up": "a"}, breaker)]),
            Family("claudewire_ratelimit_remaining", "gauge", "r", [
                ("claudewire_ratelimit_remaining", {"upstream": "a", "family": "tokens"}, remaining)
            ]),
        ]  # fmt: skip

    merged = {f.name: {s[0]: s[2] for s in f.samples} for f in merge([worker(3, 2, 1, 0, 900), worker(4, 5, 2, 2, 40)])}
    assert merged["claudewire_requests"]["claudewire_requests_total"] == 7
    assert merged["claudewire_request_duration_seconds"]["claudewire_request_duration_seconds_bucket"] == 7
    assert merged["claudewire_in_flight_requests"]["claudewire_in_flight_requests"] == 3
    assert merged["claudewire_breaker_state"]["claudewire_breaker_state"] == 2
    assert merged["claudewire_ratelimit_remaining"]["claudewire_ratelimit_remaining"] == 40


@contextmanager
def _two_workers(upstream: str, tmp: Path) -> Iterator[str]:
    """`python -m claudewire proxy --workers 2` in front of `upstream`; its run directory under `tmp`."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "claudewire", "proxy", "--port", str(port), "--upstream", upstream,
         "--workers", "2", "--access-log", "off"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "TMPDIR": str(tmp)},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        pids: set[str] = set()
        deadline = time.monotonic() + 30
        while len(pids) < 2 and time.monotonic() < deadline:
            try:
                with httpx2.Client() as fresh:  # a new connection each time: the kernel picks a worker
                    pids.add(fresh.get(base + "/healthz").headers["x-claudewire-worker"])
            except httpx2.ConnectError:
                time.sleep(0.05)
        assert len(pids) == 2, f"only {len(pids)} of 2 workers answered"
        yield base
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate(timeout=10)


async def _own(sock: Path) -> list[Family]:
    reader, writer = await asyncio.open_unix_connection(str(sock))
    raw = await asyncio.wait_for(reader.read(-1), 5)
    writer.close()
    return [Family(n, t, d, [(s, lb, v) for s, lb, v in ss]) for n, t, d, ss in json.loads(raw)]


@pytest.mark.slow
def test_two_workers_scrape_the_same_totals_every_time(tmp_path: Path) -> None:
    """30 requests on fresh connections spread over 2 workers; every scrape, whichever worker answers it, reports
    all 30 (and 2 workers reporting); idle, `top`'s rates are zero; the run's directory is gone after stop."""
    with run_sim(seed=0) as sim, _two_workers(sim.base_url, tmp_path) as base:
        for _ in range(SENT):
            with httpx2.Client() as fresh:
                assert fresh.post(base + "/v1/messages", json=BODY, headers=HEADERS, timeout=10).status_code == 200
        (run,) = tmp_path.glob("claudewire-workers-*")
        assert oct(run.stat().st_mode & 0o777) == "0o700"
        own = [render(asyncio.run(_own(sock))).decode() for sock in sorted(run.glob("w*.sock"))]
        per_worker = [_ok_requests(text) for text in own]
        scrapes: list[str] = []
        answered_by: set[str] = set()
        watch = Watch(window=60.0)
        while len(answered_by) < 2 or len(scrapes) < 8:
            assert len(scrapes) < 60, "one worker answered every scrape"
            with httpx2.Client() as fresh:
                answer = fresh.get(base + "/metrics")
            answered_by.add(answer.headers["x-claudewire-worker"])
            scrapes.append(answer.text)
            view = watch.add(parse(answer.text, at=float(len(scrapes))))
    assert len(per_worker) == 2 and all(n > 0 for n in per_worker) and sum(per_worker) == SENT
    assert [_ok_requests(text) for text in scrapes] == [SENT] * len(scrapes)
    assert {_gauge(text, "claudewire_gateway_workers_reporting") for text in scrapes} == {2.0}
    # the same families as one worker exports (what deploy/grafana's queries and alerts read), plus the count
    assert _names(scrapes[-1]) == _names(own[0]) | {"claudewire_gateway_workers_reporting"}
    assert view.requests_total == SENT and view.requests_per_s == 0 and view.in_flight == 0
    assert list(tmp_path.glob("claudewire-workers-*")) == []
