"""OTLP never holds a gateway's stop: a black-holing collector, SIGTERM, a bounded exit and a quiet log."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import time

import anthropic

from claudewire.telemetry.quiet import RateLimit
from claudewire.testing import run_sim
from tests.conftest import SIM_KEY, SIM_MODEL
from tests.telemetry.receiver import BlackHole

# the lines the OpenTelemetry exporters write for a failed, retried or abandoned export
EXPORT_FAILURE = re.compile(r"Failed to export|Transient error|Exception while exporting|aborting retry")


def _stop_after(hole: BlackHole, attempts: int, env: dict[str, str]) -> tuple[float, str]:
    """A proxy exporting to `hole`, one call through it, SIGTERM once `attempts` exports hung: (seconds to exit,
    stderr)."""
    with run_sim(seed=0) as sim:
        proc = subprocess.Popen(
            [sys.executable, "-m", "claudewire", "proxy", "--port", "0", "--upstream", sim.base_url,
             "--otlp", hole.url, "--access-log", "off"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **env},
        )  # fmt: skip
        try:
            assert proc.stdout is not None
            banner = proc.stdout.readline() + proc.stdout.readline()
            base_url = banner.split("export ANTHROPIC_BASE_URL=")[1].split()[0]
            client = anthropic.Anthropic(base_url=base_url, api_key=SIM_KEY, max_retries=0)
            client.messages.create(model=SIM_MODEL, max_tokens=8, messages=[{"role": "user", "content": "hi"}])
            hole.wait_connections(attempts)
        finally:
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return time.monotonic() - started, err


def test_sigterm_exits_promptly_while_an_export_hangs_on_a_black_hole() -> None:
    """With the SDK's 10 s export timeout and both signals' exports hung, SIGTERM exits in well under 10 s."""
    with BlackHole() as hole:
        # metrics every 200 ms and spans every 100 ms: both exporters are stuck in a request when SIGTERM comes
        took, err = _stop_after(hole, 2, {"OTEL_METRIC_EXPORT_INTERVAL": "200", "OTEL_BSP_SCHEDULE_DELAY": "100"})
    assert took < 10.0, err  # it was 20 s here (33-43 s in the issue): a 10 s export per signal, one after the other
    assert len([line for line in err.splitlines() if EXPORT_FAILURE.search(line)]) <= 1, err
    assert "did not finish within 2 s of shutdown" in err  # what was dropped is said, once


def test_repeated_export_failures_are_logged_once() -> None:
    """Exports failing every half second for several rounds leave at most one failure line on stderr."""
    with BlackHole() as hole:
        env = {
            "OTEL_METRIC_EXPORT_INTERVAL": "100",
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            "OTEL_EXPORTER_OTLP_TIMEOUT": "0.5",
        }
        took, err = _stop_after(hole, 6, env)  # six exports hung and timed out (or were abandoned at the stop)
    failures = [line for line in err.splitlines() if EXPORT_FAILURE.search(line)]
    assert 1 <= len(failures) <= 2, err
    assert took < 10.0, err


def test_the_rate_limit_lets_one_through_a_period_and_counts_the_rest() -> None:
    """The first warning passes, the next ones within the period do not, and the one after says how many were cut."""
    now = [0.0]
    limit = RateLimit(period=60.0, clock=lambda: now[0])

    def record(level: int, msg: str = "Failed to export %s batch") -> logging.LogRecord:
        return logging.LogRecord("opentelemetry.x", level, __file__, 1, msg, ("spans",), None)

    assert limit.filter(record(logging.ERROR))
    now[0] = 30.0
    assert not limit.filter(record(logging.WARNING)) and not limit.filter(record(logging.ERROR))
    assert limit.filter(record(logging.DEBUG))  # below WARNING: untouched
    now[0] = 60.0
    later = record(logging.ERROR)
    assert limit.filter(later)
    assert later.getMessage() == "Failed to export spans batch (2 more OTLP export message(s) left out since the last)"
