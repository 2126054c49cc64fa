"""The getting-started files: the example claudewire.toml and the systemd unit work as shipped."""

from __future__ import annotations

import dataclasses
import re
import shutil
import signal
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import anthropic
import click
import httpx2
import pytest

from claudewire.cli.proxy import proxy
from claudewire.gateway.config import GatewayConfig
from claudewire.gateway.downstream.signin.config import GroupSpec, SignInConfig
from claudewire.gateway.openai.settings import OpenAISettings
from claudewire.policy import Policy, RetryBudget
from claudewire.state import ClientLimits
from claudewire.testing import run_sim
from tests.conftest import SIM_KEY, SIM_MODEL
from tests.gateway.conftest import run_gateway

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
    internal = {"upstreams", "clients", "policy", "state", "signin", "openai"}  # tables of their own
    fields = {f.name for f in dataclasses.fields(GatewayConfig)} - internal
    fields = {name.removeprefix("state_") for name in fields}  # state_X is `X = ...` under [state]
    fields |= {f.name for f in dataclasses.fields(Policy)} - {"retry_budget"}
    fields |= {f.name for f in dataclasses.fields(RetryBudget)}
    fields |= {f.name for f in dataclasses.fields(SignInConfig)} - {"groups"}
    fields |= ({f.name for f in dataclasses.fields(GroupSpec)} - {"limits", "managed"}) | {"managed_settings"}
    fields |= {f.name for f in dataclasses.fields(ClientLimits)} - {"name"}
    fields |= {f.name for f in dataclasses.fields(OpenAISettings)}
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


def _install_steps() -> list[str]:
    """The commands in the unit's header comment, in order."""
    return [line[1:].strip() for line in UNIT.read_text().splitlines() if line.startswith("#   ")]


def test_the_unit_install_steps_create_the_venv_it_runs() -> None:
    """The install steps create the venv ExecStart runs and install claudewire into it, before enabling the unit."""
    unit = UNIT.read_text()
    binary = next(line for line in unit.splitlines() if line.startswith("ExecStart=")).split("=", 1)[1].split()[0]
    venv = str(Path(binary).parent.parent)
    steps = _install_steps()
    create = next(i for i, s in enumerate(steps) if re.search(rf"python3 -m venv {re.escape(venv)}(\s|$)", s))
    install = next(i for i, s in enumerate(steps) if s.startswith(f"sudo {venv}/bin/pip install "))
    enable = next(i for i, s in enumerate(steps) if "systemctl enable" in s)
    assert create < install < enable


def test_the_unit_can_read_the_config_its_steps_install() -> None:
    """DynamicUser runs as a user of its own: the config directory and file the steps create are world-readable, and
    the env file with the key (read by systemd as root) is not."""
    steps = " ".join(_install_steps())
    assert "DynamicUser=yes" in UNIT.read_text()
    directory = re.search(r"install -d -m (\d{4}) /etc/claudewire\b", steps)
    config = re.search(r"install -m (\d{4}) claudewire\.example\.toml /etc/claudewire/claudewire\.toml", steps)
    assert directory and config
    assert int(directory.group(1), 8) & 0o005 == 0o005 and int(config.group(1), 8) & 0o004
    assert "chmod 0600 /etc/claudewire/env" in steps


def test_the_example_says_where_the_access_log_goes_and_it_goes_there(tmp_path: Path) -> None:
    """access_log = "-" in the example is documented as stderr; a gateway started from the example writes the
    access line to stderr, and stdout holds the banner only."""
    line = next(ln for ln in EXAMPLE.read_text().splitlines() if ln.startswith("access_log"))
    assert '"-" for stderr' in line and "stdout" not in line
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with run_sim(seed=0) as sim:
        proc = subprocess.Popen(
            [sys.executable, "-m", "claudewire", "proxy", "--config", str(EXAMPLE), "--upstream", sim.base_url,
             "--port", str(port)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        )  # fmt: skip
        try:
            assert proc.stdout is not None
            assert "ANTHROPIC_BASE_URL" in proc.stdout.readline() + proc.stdout.readline()
            client = anthropic.Anthropic(base_url=f"http://127.0.0.1:{port}", api_key=SIM_KEY, max_retries=0)
            client.messages.create(model=SIM_MODEL, max_tokens=8, messages=[{"role": "user", "content": "hi"}])
        finally:
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=15)
    assert '"route":"messages"' in err
    assert '"route":"messages"' not in out


def _base_url_rows() -> list[list[str]]:
    """The README's "which base URL for which client" table: [client, where, base URL, path it adds] per row."""
    text = (ROOT / "README.md").read_text()
    table = text[text.index("Which base URL each client takes") :].split("\n\n")[1]
    rows = [[cell.strip().strip("`") for cell in line.strip("|").split("|")] for line in table.splitlines()]
    return [row for row in rows[2:] if len(row) == 4]


def test_the_readme_keeps_its_first_two_commands() -> None:
    """The README still opens with the install-and-doctor command and the test script, exactly."""
    first = (ROOT / "README.md").read_text().split("```")[1]
    assert first.splitlines()[1:3] == [
        "pip install -e . && claudewire doctor --sim     # install, then diagnose the built-in simulator (no key, no "
        "network)",
        "./scripts/test                                   # install everything the tests need, then run them",
    ]


def test_each_base_url_in_the_readme_reaches_the_messages_api_through_the_gateway() -> None:
    """For every client row, the base URL plus the path that client adds is a gateway path that answers a Messages
    request (the root for Claude Code, the SDKs, LangChain and LiteLLM; /v1 for the Vercel AI SDK; /v1 and /cursor
    answer Chat Completions for OpenAI-format clients), and the Python SDK given the root as base_url works."""
    rows = _base_url_rows()
    clients = {row[0].split(" (")[0] for row in rows}
    assert {"Claude Code", "the Anthropic SDKs", "LangChain", "LiteLLM", "the Vercel AI SDK"} <= clients
    vercel = next(row for row in rows if row[0].startswith("the Vercel AI SDK"))
    assert vercel[2].endswith("/v1") and vercel[3] == "/messages"
    body = {"model": SIM_MODEL, "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
    headers = {"x-api-key": SIM_KEY, "anthropic-version": "2023-06-01"}
    openai_rows = [row for row in rows if row[3].startswith("/chat/completions")]
    assert {row[0].split(":")[0] for row in openai_rows} == {"OpenAI-format clients", "Cursor"}
    with run_sim(seed=0) as sim, run_gateway(sim.base_url) as gateway:
        for client, _, base_url, adds in rows:
            url = base_url.replace("http://127.0.0.1:8787", gateway.base_url).replace(
                "https://<your host>", gateway.base_url
            )
            if adds.startswith("/chat/completions"):  # the OpenAI ingress: a Chat Completions request and answer
                bearer = {"authorization": f"Bearer {SIM_KEY}"}
                answer = httpx2.post(url + "/chat/completions", json=body, headers=bearer, timeout=10)
                assert answer.status_code == 200, (client, url, answer.text)
                assert answer.json()["object"] == "chat.completion"
                continue
            answer = httpx2.post(url + adds, json=body, headers=headers, timeout=10)
            assert answer.status_code == 200, (client, url, answer.text)
            assert answer.json()["type"] == "message"
        root = next(row[2] for row in rows if row[0].startswith("the Anthropic SDKs"))
        sdk = anthropic.Anthropic(base_url=root.replace("http://127.0.0.1:8787", gateway.base_url), api_key=SIM_KEY)
        assert sdk.messages.create(**body).type == "message"  # type: ignore[call-overload]
