"""Each simulator fault is diagnosed by the right check, with the right status, and the rest of the report agrees."""

from __future__ import annotations

import anthropic
import pytest

from claudewire.doctor import CHECK_IDS, Status, run
from claudewire.doctor.result import OPT_IN_IDS
from claudewire.sim import RateLimits, SimServer
from claudewire.testing import run_sim
from tests.doctor.conftest import KEY, OPUS_4_5_DEPRECATED, PACING, settings_for

# fault spec → (check that names it, its status, words its detail must contain)
FAULTS: list[tuple[str, str, Status, str]] = [
    ("401", "auth", Status.FAIL, "401"),
    ("403", "auth", Status.FAIL, "permission"),
    ("402", "auth", Status.FAIL, "billing"),
    ("billing", "auth", Status.FAIL, "credit balance"),
    ("400", "version", Status.FAIL, "rejected"),
    ("404", "model", Status.FAIL, "not the API root"),  # everything 404: the base URL is wrong
    ("404,path=/v1/models/", "model", Status.FAIL, "does not exist"),
    ("429:1.0,retry_after=7", "ratelimit", Status.FAIL, "retry after 7s"),
    ("spend_limit", "ratelimit", Status.FAIL, "spend limit"),
    ("529", "messages", Status.FAIL, "overloaded"),
    ("529:1.0,path=/v1/messages", "messages", Status.FAIL, "not your setup"),
    ("500", "messages", Status.FAIL, "500"),
    ("503", "messages", Status.FAIL, "503"),
    ("504", "messages", Status.FAIL, "504"),
    ("408,path=/v1/messages", "messages", Status.FAIL, "408"),
    ("portal", "http", Status.FAIL, "Guest Wi-Fi"),
    ("reset", "http", Status.FAIL, "no HTTP answer"),
    ("stall", "http", Status.FAIL, "no HTTP answer within"),
    ("midstream_error:1.0,after=3", "streaming", Status.FAIL, "overloaded"),
    ("cut:1.0,after=3", "streaming", Status.FAIL, "broke after"),
    ("buffered:1.0,ms=400", "streaming", Status.WARN, "one burst"),
    ("slow:1.0,ms=200", "streaming", Status.WARN, "slow stream"),
    ("skew:1.0,seconds=300", "clock", Status.WARN, "behind"),
    ("skew:1.0,seconds=-600", "clock", Status.WARN, "ahead of"),
]


@pytest.mark.parametrize(("fault", "check_id", "status", "words"), FAULTS, ids=[f[0] for f in FAULTS])
def test_fault_is_named_by_its_check(sim: SimServer, fault: str, check_id: str, status: Status, words: str) -> None:
    """The simulator fault is reported by the check that owns it, with the expected status and words."""
    sim.set_faults([fault])
    report = run(settings_for(sim.base_url, timeout=1.5))
    result = report.get(check_id)
    assert result.status is status, result
    assert words.lower() in result.detail.lower(), result.detail
    assert [c.id for c in report.checks] == [c for c in CHECK_IDS if c not in OPT_IN_IDS]
    if status is Status.FAIL:
        assert report.exit_code == 1
        assert result.fix
        # every check after a failed one is either skipped or explains itself; none passes on its behalf
        later = [c for c in report.checks if CHECK_IDS.index(c.id) > CHECK_IDS.index(check_id)]
        assert all(c.status is Status.SKIP for c in later), later
    else:
        assert report.exit_code == 0


def test_failed_prerequisite_is_named_by_skipped_checks(sim: SimServer) -> None:
    """After auth fails, every later keyed check is skip and names auth as its prerequisite."""
    sim.set_faults(["401"])
    report = run(settings_for(sim.base_url))
    for check_id in ("version", "model", "ratelimit", "messages", "streaming"):
        skipped = report.get(check_id)
        assert skipped.status is Status.SKIP
        assert skipped.evidence["prerequisite"] == "auth"
        assert "auth" in skipped.detail


def test_overload_everywhere_leaves_auth_unverified_not_failed(sim: SimServer) -> None:
    """A 529 on every path is the API's trouble: auth and model are 'not verified', messages fails."""
    sim.set_faults(["529"])
    report = run(settings_for(sim.base_url))
    assert report.get("auth").status is Status.SKIP
    assert "not verified" in report.get("auth").detail
    assert report.get("messages").status is Status.FAIL
    assert "Anthropic's side" in report.get("messages").detail


def test_retired_model_fails_naming_a_current_replacement(sim: SimServer) -> None:
    """A retired model fails the model check, and the fix names the newest active model of the same line."""
    report = run(settings_for(sim.base_url, model="claude-3-opus-20240229"))
    model = report.get("model")
    assert model.status is Status.FAIL
    assert "retired" in model.detail
    newest_opus = next(m.id for m in sim.catalogue.models if m.line == "opus" and m.lifecycle.value == "active")
    assert newest_opus == "claude-opus-5-5"
    assert newest_opus in (model.fix or "")
    assert report.get("messages").status is Status.SKIP


def test_deprecated_model_warns_with_its_retirement_date() -> None:
    """A deprecated model warns with the retirement date and a replacement, and the run still exits 0."""
    with run_sim(seed=0, today=OPUS_4_5_DEPRECATED) as sim:  # claude-opus-4-5 retires on 2027-01-22
        report = run(settings_for(sim.base_url, model="claude-opus-4-5", today=OPUS_4_5_DEPRECATED))
    model = report.get("model")
    assert model.status is Status.WARN
    assert "2027-01-22" in model.detail
    assert "claude-opus-5-5" in (model.fix or "")  # the same tier: an Opus user is pointed at an Opus
    assert report.exit_code == 0
    assert report.get("messages").status is Status.PASS


def test_unknown_model_fails(sim: SimServer) -> None:
    """A model id the API does not know fails the model check and suggests a current one."""
    report = run(settings_for(sim.base_url, model="claude-nonexistent-9"))
    assert report.get("model").status is Status.FAIL
    assert "does not exist" in report.get("model").detail


def test_rejected_anthropic_version_fails_the_version_check(sim: SimServer) -> None:
    """A deprecated anthropic-version header is rejected by the API and reported by the version check."""
    report = run(settings_for(sim.base_url, anthropic_version="2023-01-01"))
    version = report.get("version")
    assert version.status is Status.FAIL
    assert "2023-01-01" in version.detail
    assert report.get("auth").status is Status.PASS


def test_low_headroom_warns() -> None:
    """Rate-limit headers showing little headroom left make the ratelimit check warn (and name the family)."""
    with run_sim(rate_limits=RateLimits(requests_per_minute=20), pacing=PACING) as tight:
        client = anthropic.Anthropic(base_url=tight.base_url, api_key=KEY, max_retries=0)
        for _ in range(18):  # use up 18 of the 20 requests this minute with the same key
            client.messages.create(model="claude-haiku-4-5", max_tokens=4, messages=[{"role": "user", "content": "x"}])
        report = run(settings_for(tight.base_url))
    ratelimit = report.get("ratelimit")
    assert ratelimit.status is Status.WARN, ratelimit
    assert "requests" in ratelimit.detail
    assert ratelimit.fix


def test_no_spend_skips_messages_and_streaming(sim: SimServer) -> None:
    """--no-spend marks messages and streaming skip, sends no messages request, and still reads rate limits."""
    report = run(settings_for(sim.base_url, spend=False))
    assert report.get("messages").status is Status.SKIP
    assert report.get("streaming").status is Status.SKIP
    assert "--no-spend" in report.get("messages").detail
    assert not [r for r in sim.requests if r.path.startswith("/v1/messages")]
    assert report.get("ratelimit").status is Status.PASS


def test_healthy_simulator_passes_every_check(tls_sim: SimServer) -> None:
    """Against a healthy TLS simulator whose CA is trusted, every check passes."""
    report = run(settings_for(tls_sim.base_url, ca_file=tls_sim.ca_path))
    assert [(c.id, c.status) for c in report.checks if c.status is not Status.PASS] == []
    assert report.exit_code == 0
