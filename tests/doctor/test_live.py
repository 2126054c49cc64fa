"""The doctor shows each check as it finishes: a callback per result, and a live view on a terminal."""

from __future__ import annotations

import os
import pty
import select
import sys
import time

from claudewire.doctor import CHECK_IDS, Status, run
from claudewire.doctor.result import OPT_IN_IDS, CheckResult
from claudewire.sim import SimServer
from tests.doctor.conftest import settings_for


def test_every_result_is_reported_as_soon_as_it_is_known(sim: SimServer) -> None:
    """on_result sees every check once, config first, before run() returns the report."""
    seen: list[tuple[str, float]] = []

    def note(check: CheckResult) -> None:
        seen.append((check.id, time.monotonic()))

    report = run(settings_for(sim.base_url), on_result=note)
    done = time.monotonic()
    ids = [c for c, _ in seen]
    assert sorted(ids) == sorted(c.id for c in report.checks)
    assert ids[0] == "config" and len(set(ids)) == len(ids)
    assert all(at <= done for _, at in seen)
    assert report.get("messages").status is Status.PASS


def test_a_terminal_gets_the_rows_live_and_then_the_report() -> None:
    """On a pty, `claudewire doctor --sim` draws rows while it runs (the "checking…" title), then the full report."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(sys.executable, [sys.executable, "-m", "claudewire", "doctor", "--sim"])
    out = b""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    text = out.decode(errors="replace")
    assert "checking…" in text  # the live view was drawn
    assert all(check in text for check in CHECK_IDS if check not in OPT_IN_IDS)
    assert os.waitstatus_to_exitcode(status) == 0, text[-2000:]
