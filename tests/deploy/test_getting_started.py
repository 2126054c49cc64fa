"""The getting-started files: the example claudewire.toml and the systemd unit work as shipped."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import click
import pytest

from claudewire.cli.proxy import proxy
from claudewire.gateway.config import GatewayConfig
from claudewire.gateway.downstream.signin.config import GroupSpec, SignInConfig
from claudewire.policy import Policy, RetryBudget
from claudewire.state import ClientLimits

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "claudewire.example.toml"
UNIT = ROOT / "deploy" / "systemd" / "claudewire-proxy.service"


def test_the_example_config_loads_and_states_the_defaults() -> None:
    """claudewire.example.toml loads, and every value it sets is the default it claims (it is documentation)."""
    config = GatewayConfig.from_toml(str(EXAMPLE))
    default = GatewayConfig()
    data = tomllib.loads(EXAMPLE.read_text())
    for name, value in data["proxy"].items():
        shipped = getattr(default, name)
        assert (list(shipped) if isinstance(shipped, tuple) else shipped) == value, name
    assert config.policy == Policy()


def test_the_example_config_names_every_field() -> None:
    """Every gateway, policy and retry-budget field appears in the example (set or commented), so none is hidden."""
    text = EXAMPLE.read_text()
    named = set(re.findall(r"^#?\s*([a-z_]+)\s*=", text, re.MULTILINE))
    internal = {"upstreams", "clients", "policy", "state", "signin"}  # tables of their own
    fields = {f.name for f in dataclasses.fields(GatewayConfig)} - internal
    fields = {name.removeprefix("state_") for name in fields}  # state_X is `X = ...` under [state]
    fields |= {f.name for f in dataclasses.fields(Policy)} - {"retry_budget"}
    fields |= {f.name for f in dataclasses.fields(RetryBudget)}
    fields |= {f.name for f in dataclasses.fields(SignInConfig)} - {"groups"}
    fields |= ({f.name for f in dataclasses.fields(GroupSpec)} - {"limits", "managed"}) | {"managed_settings"}
    fields |= {f.name for f in dataclasses.fields(ClientLimits)} - {"name"}
    assert not fields - named, f"add to claudewire.example.toml: {sorted(fields - named)}"


def test_the_systemd_unit_runs_the_proxy_with_the_config() -> None:
    """The unit's ExecStart is `claudewire proxy --config ...` with flags the CLI accepts; systemd-analyze agrees."""
    unit = UNIT.read_text()
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    args = exec_start.split()[1:]
    assert args[0] == "proxy"
    with proxy.make_context("proxy", args[1:]) as ctx:
        assert isinstance(ctx, click.Context) and ctx.params["config_path"] == "/etc/claudewire/claudewire.toml"


def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    """`systemd-analyze verify` finds nothing wrong (ExecStart pointed at this interpreter)."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    unit = tmp_path / "claudewire-proxy.service"
    unit.write_text(UNIT.read_text().replace("/opt/claudewire/venv/bin/claudewire", f"{sys.executable} -m claudewire"))
    done = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
