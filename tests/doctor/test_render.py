"""The three views of a report — JSON contract, markdown, terminal — agree, keep their shape and hide the key."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
from rich.console import Console

from claudewire.doctor import CHECK_IDS, Report, Status, render_json, render_markdown, render_terminal, render_text, run
from claudewire.doctor.render import scrub
from claudewire.doctor.result import OPT_IN_IDS, CheckResult
from claudewire.sim import SimServer
from claudewire.testing import run_sim
from tests.doctor.conftest import KEY, OPUS_4_5_DEPRECATED, PACING, settings_for


@pytest.fixture
def sim() -> Iterator[SimServer]:
    """The doctor's simulator on a day claude-opus-4-5 is deprecated (it retires on 2027-01-22)."""
    with run_sim(seed=0, pacing=PACING, today=OPUS_4_5_DEPRECATED) as server:
        yield server


def _failing_report(sim: SimServer) -> Report:
    sim.set_faults(["529:1.0,path=/v1/messages"])  # and claude-opus-4-5 deprecated: a warning beside the failure
    return run(settings_for(sim.base_url, model="claude-opus-4-5", today=OPUS_4_5_DEPRECATED))


def test_json_contract(sim: SimServer) -> None:
    """--json has target, verdict and checks with exactly the contract's fields, in the contract's order."""
    report = _failing_report(sim)
    doc = json.loads(render_json(report))
    assert set(doc) == {"target", "verdict", "checks"}
    assert doc["target"] == sim.base_url
    assert doc["verdict"] == "fail"
    assert [c["id"] for c in doc["checks"]] == [c for c in CHECK_IDS if c not in OPT_IN_IDS]
    for check in doc["checks"]:
        assert set(check) == {"id", "status", "title", "detail", "fix", "evidence", "elapsed_ms"}
        assert check["status"] in ("pass", "warn", "fail", "skip")
        assert isinstance(check["evidence"], dict)
        assert isinstance(check["elapsed_ms"], int | float)
    assert next(c for c in doc["checks"] if c["id"] == "messages")["status"] == "fail"


def test_no_view_shows_the_key(sim: SimServer) -> None:
    """The key appears in no view, only redacted (sk-ant-…abcd)."""
    report = _failing_report(sim)
    for text in (render_json(report, [KEY]), render_markdown(report, [KEY]), render_text(report, [KEY])):
        assert KEY not in text
        assert "sk-ant-…abcd" in text


def test_scrub_redacts_keys_that_do_not_look_like_keys() -> None:
    """A gateway key of any shape that the caller names is redacted too."""
    assert "gw-secret-token-42" not in scrub("key=gw-secret-token-42", ["gw-secret-token-42"])


def test_fixes_are_ordered_failures_first_then_by_layer() -> None:
    """Fixes list failures before warnings, lower layers first, and skip checks without a fix."""
    checks = (
        CheckResult("clock", Status.WARN, "skewed", "sync the clock"),
        CheckResult("messages", Status.FAIL, "overloaded", "retry"),
        CheckResult("certificate", Status.FAIL, "untrusted", "trust the CA"),
        CheckResult("tcp", Status.PASS, "ok"),
    )
    report = Report("https://x", checks)
    assert [c.id for c in report.fixes()] == ["certificate", "messages", "clock"]
    assert report.verdict.value == "fail" and report.exit_code == 1


def test_markdown_has_a_table_fixes_and_evidence(sim: SimServer) -> None:
    """The markdown view has the verdict heading, one table row per check, the fixes and the evidence."""
    report = _failing_report(sim)
    text = render_markdown(report, [KEY])
    assert text.startswith("### claudewire doctor: FAIL")
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| |")]
    assert len(rows) == len(report.checks)
    assert "**Fixes, most important first**" in text
    assert "<details><summary>Evidence</summary>" in text


def test_terminal_view_without_a_tty_has_no_escape_codes(sim: SimServer) -> None:
    """Rendered to a non-terminal, the table has the marks and no ANSI colour codes."""
    report = _failing_report(sim)
    buffer = io.StringIO()
    render_terminal(report, Console(file=buffer, width=120), [KEY])
    text = buffer.getvalue()
    assert "\x1b[" not in text
    assert "✗  messages" in text and "!  model" in text
    assert "Fixes, most important first:" in text


def test_terminal_view_colours_on_a_terminal_unless_no_color() -> None:
    """On a terminal the marks are coloured; NO_COLOR (rich's no_color) removes the colour."""
    report = Report("https://x", (CheckResult("tcp", Status.FAIL, "refused", "start it"),))
    coloured, plain = io.StringIO(), io.StringIO()
    render_terminal(report, Console(file=coloured, force_terminal=True, width=100))
    render_terminal(report, Console(file=plain, force_terminal=True, no_color=True, width=100))
    assert "\x1b[" in coloured.getvalue() and "31m" in coloured.getvalue()
    assert "31m" not in plain.getvalue()
