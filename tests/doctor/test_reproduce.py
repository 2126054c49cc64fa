"""Every failing check's evidence carries the command that reproduces it by hand, with the key redacted."""

from __future__ import annotations

import subprocess

from claudewire.doctor import Status, render_json, run
from claudewire.sim import SimServer
from tests.doctor.conftest import KEY, settings_for


def test_a_failing_api_check_gets_a_curl_with_the_key_redacted(sim: SimServer) -> None:
    """A 529 on messages: `curl -v .../v1/messages` with x-api-key sk-ant-…last4, never the key itself."""
    sim.set_faults(["529:1.0,path=/v1/messages"])
    report = run(settings_for(sim.base_url))
    command = str(report.get("messages").evidence["reproduce"])
    assert command.startswith(f"curl -v {sim.base_url}/v1/messages")
    assert "x-api-key: sk-ant-…abcd" in command
    assert KEY not in render_json(report)
    assert "reproduce" not in report.get("config").evidence  # passing checks get none


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
