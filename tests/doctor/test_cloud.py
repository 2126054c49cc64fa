"""`claudewire doctor --target bedrock|bedrock-mantle|vertex|foundry` against the simulator speaking each dialect:
healthy, an expired credential, a wrong region, a model not enabled, a skewed clock, rejected betas."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from claudewire.doctor.cloud import cloud_target, run_cloud
from claudewire.doctor.cloud_checks import CloudReport, Status
from claudewire.doctor.cloud_render import render_cloud_json, render_cloud_text
from claudewire.testing import run_sim

AKID, SECRET = "AKIDDOCTORCLOUD0001", "doctor-cloud-secret-0001"
TOKEN = "cloud-doctor-token-0123456789"  # a Bedrock API key / Google token / Foundry key in these tests
KINDS = ("bedrock", "bedrock-mantle", "vertex", "foundry")


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Static AWS credentials in the environment; no profile files, no metadata lookups, no Bedrock API key."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", AKID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_BEARER_TOKEN_BEDROCK", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)


def sim_for(kind: str, **extra: Any) -> Any:
    """The simulator speaking `kind`: AWS kinds verify SigV4 with the test pair, the others accept TOKEN only."""
    if kind in ("bedrock", "bedrock-mantle"):
        return run_sim(api=kind, seed=0, aws_access_key_id=AKID, aws_secret_access_key=SECRET, **extra)
    region = {"region": "us-east5"} if kind == "vertex" else {}
    return run_sim(api=kind, seed=0, api_keys=(TOKEN,), **region, **extra)


def check(kind: str, base_url: str, **flags: Any) -> CloudReport:
    """Run the cloud doctor for `kind` at `base_url` (region us-east-1 / us-east5, project p, key where needed)."""
    defaults: dict[str, Any] = {"region": "us-east5" if kind == "vertex" else "us-east-1"}
    if kind == "vertex":
        defaults.update(project="p", api_key=TOKEN, base_url=base_url + "/v1")
    elif kind == "foundry":
        defaults.update(api_key=TOKEN, base_url=base_url + "/anthropic", region=None)
    else:
        defaults["base_url"] = base_url
    return run_cloud(cloud_target(kind, **{**defaults, **flags}), timeout=30)


def statuses(report: CloudReport) -> dict[str, str]:
    return {c.id: c.status.value for c in report.checks}


@pytest.mark.parametrize("kind", KINDS)
def test_a_healthy_target_passes_and_names_its_credential_source(kind: str) -> None:
    """Credentials found and taken, region, clock and model pass; the secret never shows, its source does."""
    with sim_for(kind) as sim:
        report = check(kind, sim.base_url, betas=("interleaved-thinking-2025-05-14",))
    assert statuses(report) == {
        "credentials": "pass",
        "region": "skip" if kind == "foundry" else "pass",
        "clock": "pass",
        "model": "pass",
        "betas": "pass",
    }
    source = report.get("credentials").detail
    expected = "AWS environment variables" if kind in ("bedrock", "bedrock-mantle") else "from --api-key"
    assert expected in source
    shown = render_cloud_text([report]) + render_cloud_json([report])
    assert SECRET not in shown and TOKEN not in shown and AKID not in shown


@pytest.mark.parametrize("kind", KINDS)
def test_an_expired_credential_fails_with_its_fix(kind: str) -> None:
    """The service says the credential expired: credentials fail with how to refresh it and how to reproduce."""
    with sim_for(kind, expired_keys=(AKID, TOKEN)) as sim:
        report = check(kind, sim.base_url)
    credentials = report.get("credentials")
    # Google words an expired token as any invalid one: "refused", with the same fix (sign in again)
    assert credentials.status is Status.FAIL and ("refused" if kind == "vertex" else "expired") in credentials.detail
    assert credentials.fix and credentials.reproduce
    if kind in ("bedrock", "bedrock-mantle"):
        assert "aws sso login" in credentials.fix and credentials.reproduce == "aws sts get-caller-identity"
    if kind == "vertex":
        assert "gcloud auth application-default login" in credentials.fix
    assert report.get("model").status is Status.SKIP


@pytest.mark.parametrize("kind", ["bedrock", "bedrock-mantle", "vertex"])
def test_a_wrong_region_fails_the_region_check(kind: str) -> None:
    """Signed for (or asking) another region than the endpoint serves: the region check fails, naming both."""
    with sim_for(kind) as sim:
        report = check(kind, sim.base_url, region="eu-west-1" if kind != "vertex" else "europe-west1")
    region = report.get("region")
    assert region.status is Status.FAIL and region.fix and "does not serve" in region.fix
    assert report.get("credentials").status is Status.PASS and report.get("model").status is Status.SKIP


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("bedrock", "claude-haiku-4-5-20251001"),
        ("bedrock-mantle", "claude-haiku-4-5"),
        ("vertex", "claude-haiku-4-5-20251001"),
        ("foundry", "claude-haiku-4-5"),
    ],
)
def test_a_model_not_enabled_fails_the_model_check(kind: str, name: str) -> None:
    """The account has no access to the model: the model check fails with where to enable it."""
    with sim_for(kind, disabled_models=(name,)) as sim:
        report = check(kind, sim.base_url)
    model = report.get("model")
    assert model.status is Status.FAIL and "not enabled" in model.detail, model
    assert model.fix and model.reproduce
    assert report.get("credentials").status is Status.PASS
    if kind == "bedrock":
        assert "aws bedrock-runtime invoke-model" in model.reproduce
        assert "Model access" in model.fix


def test_clock_skew_against_the_services_date_fails() -> None:
    """A Date ten minutes off the local clock fails the clock check (SigV4's five-minute window)."""
    with sim_for("bedrock", clock_skew=600) as sim:
        report = check("bedrock", sim.base_url)
    clock = report.get("clock")
    assert clock.status is Status.FAIL and clock.fix and "5 minutes" in clock.fix
    assert 590 <= clock.evidence["skew_s"] <= 610  # type: ignore[operator]


def test_betas_the_target_rejects_are_named() -> None:
    """Bedrock refuses a beta outside its list with "invalid beta flag": named as rejected, with the fix."""
    with sim_for("bedrock") as sim:
        report = check("bedrock", sim.base_url, betas=("claude-code-20250219", "interleaved-thinking-2025-05-14"))
    betas = report.get("betas")
    assert betas.status is Status.WARN
    assert betas.evidence["rejected"] == ["claude-code-20250219"]
    assert betas.evidence["accepted"] == ["interleaved-thinking-2025-05-14"]


def test_no_credential_found_fails_before_any_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """No AWS credentials anywhere, no Foundry key: credentials fail with the fix; nothing is sent."""
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with sim_for("bedrock") as sim:
        report = check("bedrock", sim.base_url)
        sent = sim.stats.total
    assert report.get("credentials").status is Status.FAIL and sent == 0
    assert "aws configure" in (report.get("credentials").fix or "")
    with sim_for("foundry") as sim:
        report = check("foundry", sim.base_url, api_key=None)
    assert report.get("credentials").status is Status.FAIL


@pytest.fixture
def two_clouds(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A gateway config with an anthropic, a bedrock (API key) and a bedrock-mantle (SigV4) upstream."""
    with sim_for("bedrock", api_keys=(TOKEN,)) as bedrock, sim_for("bedrock-mantle") as mantle:
        config = tmp_path / "claudewire.toml"
        config.write_text(
            f"""
[[upstreams]]
name = "primary"
url = "https://api.anthropic.com"
keys = ["sk-ant-api03-never-used-0000"]

[[upstreams]]
name = "bedrock-east"
kind = "bedrock"
url = "{bedrock.base_url}"
region = "us-east-1"
keys = ["{TOKEN}"]

[[upstreams]]
name = "mantle"
kind = "bedrock-mantle"
url = "{mantle.base_url}"
region = "us-east-1"
"""
        )
        yield config, mantle.base_url


def test_cli_checks_every_upstream_of_a_gateway_config(two_clouds: tuple[Path, str]) -> None:
    """--config checks each cloud upstream with the gateway's own ids and keys; --json is the same reports."""
    config, _ = two_clouds
    # --timeout 30: a bound roomy enough for a loaded CI machine (the default 5 s is for a real endpoint)
    cmd = [sys.executable, "-m", "claudewire", "doctor", "--config", str(config), "--timeout", "30"]
    cmd += ["--beta", "context-1m-2025-08-07"]
    text = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    as_json = subprocess.run([*cmd, "--json"], capture_output=True, text=True, timeout=120)
    assert text.returncode == 0, text.stdout + text.stderr
    assert "bedrock-east (bedrock)" in text.stdout and "mantle (bedrock-mantle)" in text.stdout
    assert "primary: an anthropic upstream" in text.stdout
    assert TOKEN not in text.stdout + as_json.stdout and SECRET not in text.stdout + as_json.stdout
    document = json.loads(as_json.stdout)
    assert document["verdict"] == "pass" and [t["target"] for t in document["targets"]] == ["bedrock-east", "mantle"]
    sources = [t["checks"][0]["detail"] for t in document["targets"]]
    assert "Bedrock API key" in sources[0] and "upstreams (bedrock-east).keys[0]" in sources[0]
    assert "AWS environment variables" in sources[1]


def test_cli_target_exit_code_and_usage_errors(two_clouds: tuple[Path, str]) -> None:
    """--target exits 1 when a check fails (a wrong region); --region without --target is a usage error (2)."""
    _, mantle_url = two_clouds
    base = [sys.executable, "-m", "claudewire", "doctor", "--timeout", "30"]
    wrong = subprocess.run(
        [*base, "--target", "bedrock-mantle", "--base-url", mantle_url, "--region", "eu-west-1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert wrong.returncode == 1 and "✗ Region" in wrong.stdout and "reproduce:" in wrong.stdout
    usage = subprocess.run([*base, "--region", "us-east-1"], capture_output=True, text=True, timeout=60)
    assert usage.returncode == 2 and "--target" in usage.stderr
