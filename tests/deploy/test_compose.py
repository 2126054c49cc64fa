"""deploy/docker-compose.yml and the example prometheus.yml: files it mounts exist, commands parse, config valid.

Docker itself is not run here (no engine in CI); what can be checked without it is.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

import click
import yaml

from claudewire.cli.proxy import proxy
from claudewire.cli.sim import sim
from tests.deploy.conftest import DEPLOY

COMPOSE = DEPLOY / "docker-compose.yml"


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def test_promtool_accepts_the_example_prometheus_config() -> None:
    """`promtool check config` accepts deploy/prometheus/prometheus.yml and the alert rules it loads."""
    binary = shutil.which("promtool")
    assert binary, "promtool is not installed (Debian package prometheus)"
    config = DEPLOY / "prometheus" / "prometheus.yml"
    done = subprocess.run([binary, "check", "config", str(config)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 rule files found" in done.stdout


def test_compose_mounts_files_that_exist() -> None:
    """Every ./ path mounted by a compose service, and every build file, is in the repository."""
    services = _compose()["services"]
    assert {"gateway", "prometheus", "grafana"} <= set(services)
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (DEPLOY / source).exists(), f"{name} mounts missing {source}"
        build = service.get("build")
        if build:
            assert (DEPLOY / build["context"] / build["dockerfile"]).is_file(), name


def test_compose_publishes_on_loopback_only() -> None:
    """Every published port is bound to 127.0.0.1 (the gateway runs with --allow-open inside the network)."""
    for name, service in _compose()["services"].items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond this machine"


def test_compose_commands_are_accepted_by_the_cli() -> None:
    """The gateway's and simulator's command lines in compose parse with today's `claudewire proxy` / `sim` flags."""
    services = _compose()["services"]
    for service, subcommand, command in (("gateway", "proxy", proxy), ("sim", "sim", sim)):
        args = [re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", arg) for arg in services[service]["command"]]
        assert args[0] == subcommand
        with command.make_context(subcommand, args[1:]) as ctx:  # raises on an unknown flag or a bad value
            assert isinstance(ctx, click.Context)


def test_grafana_provisioning_points_at_the_dashboard_and_prometheus() -> None:
    """The provisioned data source is the compose Prometheus; the dashboard provider reads the mounted JSON."""
    datasource = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text())
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"
    provider = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/claudewire.yml").read_text())
    path = provider["providers"][0]["options"]["path"]
    mounts = _compose()["services"]["grafana"]["volumes"]
    assert any(m.startswith("./grafana/claudewire.json:" + path + "/") for m in mounts)


def test_compose_runs_two_gateways_sharing_one_redis() -> None:
    """Two gateway replicas with the same --state redis://redis..., a redis service, both scraped by Prometheus."""
    services = _compose()["services"]
    states = []
    for name in ("gateway", "gateway-2"):
        command = services[name]["command"]
        states.append(command[command.index("--state") + 1])
        assert "redis" in services[name]["depends_on"]
    assert states[0] == states[1] == "redis://redis:6379/0"
    assert services["redis"]["image"].startswith("redis:")
    scrape = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    assert scrape["scrape_configs"][0]["static_configs"][0]["targets"] == ["gateway:8787", "gateway-2:8787"]
