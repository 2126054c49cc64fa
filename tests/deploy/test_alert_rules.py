"""deploy/prometheus/alerts.yml: valid for promtool, its unit tests pass, and it reads only exported metrics."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from tests.deploy.conftest import DEPLOY, LiveGateway, exported_series, referenced_metrics

RULES = DEPLOY / "prometheus" / "alerts.yml"
RULE_TESTS = DEPLOY / "prometheus" / "alerts_test.yml"


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    assert binary, "promtool is not installed (Debian package prometheus, see scripts/apt-packages.txt)"
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=60, check=False)


def test_promtool_checks_the_rules() -> None:
    """`promtool check rules` accepts alerts.yml (syntax, PromQL, templates)."""
    done = _promtool("check", "rules", str(RULES))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_promtool_unit_tests_pass() -> None:
    """`promtool test rules` runs alerts_test.yml: each alert fires on its scenario and stays quiet otherwise."""
    done = _promtool("test", "rules", str(RULE_TESTS))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_promtool_rejects_a_broken_rule(tmp_path: Path) -> None:
    """The check above can fail: a rule file with bad PromQL is rejected by promtool."""
    broken = tmp_path / "broken.yml"
    broken.write_text(RULES.read_text().replace("> (14.4 * 0.01)", "> (14.4 * 0.01", 1))
    done = _promtool("check", "rules", str(broken))
    assert done.returncode != 0


def test_rules_read_only_metrics_the_gateway_exports(live_gateway: LiveGateway) -> None:
    """Every claudewire_* name in alerts.yml is a series a live gateway's /metrics exports."""
    exported = exported_series(live_gateway.scrape())
    used = referenced_metrics(RULES.read_text())
    assert used, "alerts.yml reads no claudewire metric"
    assert used <= exported, f"not exported by the gateway: {sorted(used - exported)}"


def test_every_alert_has_a_severity_a_summary_and_a_unit_test() -> None:
    """Each alert carries a severity label and summary/description, and alerts_test.yml exercises it by name."""
    groups = yaml.safe_load(RULES.read_text())["groups"]
    alerts = [rule for group in groups for rule in group["rules"] if "alert" in rule]
    assert len(alerts) >= 8
    tested = {
        case["alertname"]
        for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
    }
    for alert in alerts:
        assert alert["labels"]["severity"] in {"page", "ticket", "warning"}, alert["alert"]
        assert alert["annotations"]["summary"] and alert["annotations"]["description"], alert["alert"]
        assert alert["alert"] in tested, f"{alert['alert']} has no promtool unit test"
