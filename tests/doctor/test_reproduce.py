"""Every failing check's evidence carries the command that reproduces it by hand: the key read from the tool's
variable (never written in it), so the command runs when pasted."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from claudewire.doctor import Status, render_json, run
from claudewire.doctor.settings import ProxyChoice, Settings
from claudewire.sim import SimServer
from claudewire.testing import run_sim
from tests.doctor.conftest import KEY, settings_for


def test_a_failing_api_check_gets_a_curl_that_reads_the_key_from_its_variable(sim: SimServer) -> None:
    """A 529 on messages: `curl -v .../v1/messages -H "x-api-key: $ANTHROPIC_API_KEY"`, never the key itself, and
    no redacted key that would 401 when pasted."""
    sim.set_faults(["529:1.0,path=/v1/messages"])
    report = run(settings_for(sim.base_url))
    command = str(report.get("messages").evidence["reproduce"])
    assert command.startswith(f"curl -v {sim.base_url}/v1/messages")
    assert '-H "x-api-key: $ANTHROPIC_API_KEY"' in command
    assert "sk-ant-…" not in command
    assert KEY not in render_json(report)
    assert "reproduce" not in report.get("config").evidence  # passing checks get none


def test_the_pasted_command_authenticates_and_reproduces_the_failure() -> None:
    """Run as pasted in a shell holding ANTHROPIC_API_KEY, the model check's curl gets the same 404 (the key was
    accepted: not a 401) against a simulator that knows only that key."""
    with run_sim(seed=0, api_keys=(KEY,)) as sim:
        report = run(settings_for(sim.base_url, model="claude-haiku-9"))
        command = str(report.get("model").evidence["reproduce"])
        env = {**os.environ, "ANTHROPIC_API_KEY": KEY}
        done = subprocess.run(command + " -s -o /dev/null -w '%{http_code}'", shell=True, capture_output=True,
                              text=True, timeout=30, env=env, check=False)  # fmt: skip
    assert report.get("model").status is Status.FAIL
    assert done.stdout.strip() == "404", done.stderr[-500:]


@pytest.mark.parametrize(
    ("key_source", "header", "note"),
    [
        ("ANTHROPIC_AUTH_TOKEN", '"authorization: Bearer $ANTHROPIC_AUTH_TOKEN"', None),
        ("--api-key", '"x-api-key: $ANTHROPIC_API_KEY"', "export ANTHROPIC_API_KEY first"),
        ("ANTHROPIC_API_KEY from /home/u/.claude/settings.json", '"x-api-key: $ANTHROPIC_API_KEY"',
         "set in /home/u/.claude/settings.json"),
    ],
)  # fmt: skip
def test_the_key_comes_from_the_variable_the_tool_uses(key_source: str, header: str, note: str | None) -> None:
    """An auth token is sent as Bearer from ANTHROPIC_AUTH_TOKEN; a key the shell lacks gets a note to export it."""
    with run_sim(seed=0, faults=["529:1.0,path=/v1/messages"]) as sim:
        report = run(settings_for(sim.base_url, key_source=key_source))
    command = str(report.get("messages").evidence["reproduce"])
    assert header in command and KEY not in command
    assert (note in command) if note else ("#" not in command)


def test_claude_codes_key_helper_is_run_by_the_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A key from apiKeyHelper is read by running the helper in the command, as Claude Code does for each key."""
    monkeypatch.chdir(tmp_path)
    settings_file = tmp_path / "home" / ".claude" / "settings.json"
    settings_file.parent.mkdir(parents=True)
    settings_file.write_text(f'{{"apiKeyHelper": "echo {KEY}", "model": "claude-haiku-9"}}')
    with run_sim(seed=0, api_keys=(KEY,)) as sim:
        settings = Settings.from_env({"HOME": str(tmp_path / "home"), "ANTHROPIC_BASE_URL": sim.base_url},
                                     profile="claude-code", timeout=2.0)  # fmt: skip
        command = str(run(settings).get("model").evidence["reproduce"])
        done = subprocess.run(command + " -s -o /dev/null -w '%{http_code}'", shell=True, capture_output=True,
                              text=True, timeout=30, check=False)  # fmt: skip
    assert f"$(sh -c 'echo {KEY}')" in command  # the helper's own text, which the user wrote
    assert done.stdout.strip() == "404"


def test_a_proxy_with_a_password_is_named_by_its_variable() -> None:
    """The proxy's URL, password included, stays out of the command: curl -x "$https_proxy"."""
    proxy = ProxyChoice("http://alice:hunter2@127.0.0.1:9", "https_proxy")
    report = run(settings_for("https://127.0.0.1:9", proxy=proxy, timeout=1.0))
    command = str(report.get("proxy").evidence["reproduce"])
    assert '-x "$https_proxy"' in command and "hunter2" not in command


def test_an_untrusted_certificate_gets_openssl_s_client(tls_sim: SimServer) -> None:
    """A certificate failure comes with `openssl s_client -connect host:port -servername host`, which runs."""
    report = run(settings_for(tls_sim.base_url))
    cert = report.get("certificate")
    assert cert.status is Status.FAIL
    command = str(cert.evidence["reproduce"])
    host_port = tls_sim.base_url.removeprefix("https://")
    assert command.startswith(f"openssl s_client -connect {host_port} -servername 127.0.0.1")
    done = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=30, check=False)
    assert "verify error" in done.stdout + done.stderr or "Verify return code: 2" in done.stdout
