"""Verdicts that agree: no pass beside the failure it causes, no headroom from errors, root causes first."""

from __future__ import annotations

import httpx2

from claudewire._errors import Failure, FailureKind
from claudewire.doctor import Status, run
from claudewire.doctor.api import Answer
from claudewire.doctor.http import HttpProbe, check_http
from claudewire.doctor.inference import StreamProbe, check_ratelimit, check_streaming
from claudewire.sim import SimServer
from tests.doctor.conftest import settings_for

LIMITS = {
    "anthropic-ratelimit-requests-limit": "50",
    "anthropic-ratelimit-requests-remaining": "50",
    "anthropic-ratelimit-requests-reset": "2026-12-01T00:00:00Z",
}


def test_a_429_on_the_streamed_request_fails_ratelimit_even_when_the_plain_one_passed() -> None:
    """One request 200, the other 429: ratelimit fails (not ✓), so "streaming skipped: ratelimit failed" is true."""
    limited = Failure.of(FailureKind.RATE_LIMIT, status=429, retry_after=7.0)
    ratelimit = check_ratelimit(Answer(headers=LIMITS), {}, limited)
    streaming = check_streaming(StreamProbe(failure=limited))
    assert ratelimit.status is Status.FAIL
    assert "retry after 7s" in ratelimit.detail
    assert streaming.status is Status.SKIP and "ratelimit failed" in streaming.detail


def test_no_headroom_is_read_from_an_error_answer() -> None:
    """A 503 carrying rate-limit headers gives no "100% headroom"; the check says what answered instead."""
    failed = Answer(headers=LIMITS, failure=Failure.of(FailureKind.SERVER, status=503))
    result = check_ratelimit(failed, {})
    assert "headroom" not in result.detail
    assert "503" in result.detail
    assert result.status is not Status.PASS


def test_a_base_url_ending_in_v1_is_the_first_fix(sim: SimServer) -> None:
    """With ANTHROPIC_BASE_URL=.../v1 the config fix ranks first and the model check says to drop /v1, no portal."""
    report = run(settings_for(sim.base_url + "/v1"))
    fixes = report.fixes()
    assert fixes[0].id == "config"
    model = report.get("model")
    assert model.status is Status.FAIL
    assert "without /v1" in (model.fix or "") and "portal" not in (model.fix or "")


def test_an_error_without_a_message_still_says_something() -> None:
    """An httpx ReadError with an empty message is not printed as "ReadError:" and nothing after it."""
    probe = HttpProbe(url="https://127.0.0.1:1/v1/models", error=httpx2.ReadError(""))
    result = check_http(probe, settings_for("https://127.0.0.1:1"))
    assert result.status is Status.FAIL
    assert not result.detail.rstrip().endswith(":")
    assert "closed before any answer" in result.detail
