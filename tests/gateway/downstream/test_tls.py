"""The gateway serves HTTPS itself (--tls-cert/--tls-key): real clients trust it, SIGHUP swaps the certificate."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import anthropic
import httpx2
import pytest
import trustme
from click.testing import CliRunner

from claudewire.cli.proxy import proxy
from claudewire.gateway import ConfigError, GatewayConfig
from claudewire.gateway.downstream.tls import server_context
from claudewire.sim import SimServer
from tests.conftest import SIM_KEY, SIM_MODEL
from tests.gateway.conftest import run_gateway
from tests.redis_server import free_port


def _issue(ca: trustme.CA, directory: Path, name: str = "gw") -> tuple[Path, Path, str]:
    """A leaf for 127.0.0.1 signed by `ca`, written as PEM files; (cert, key, sha256 of its DER)."""
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    leaf.private_key_pem.write_to_path(str(key))
    with cert.open("wb") as fh:
        for blob in leaf.cert_chain_pems:
            fh.write(blob.bytes())
    der = ssl.PEM_cert_to_DER_cert(leaf.cert_chain_pems[0].bytes().decode())
    return cert, key, hashlib.sha256(der).hexdigest()


def _served_fingerprint(port: int, ca: trustme.CA) -> str:
    """The sha256 of the certificate a new TLS connection to 127.0.0.1:`port` is shown (verified against `ca`)."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
        assert der is not None
        return hashlib.sha256(der).hexdigest()


def test_the_official_sdk_calls_through_the_gateway_over_https(sim: SimServer, tmp_path: Path) -> None:
    """anthropic.Anthropic with an httpx client trusting the gateway's CA gets its answer; the server asks TLS 1.2+."""
    ca = trustme.CA()
    cert, key, _ = _issue(ca, tmp_path)
    with run_gateway(sim.base_url, tls_cert=str(cert), tls_key=str(key)) as gw:
        assert gw.base_url.startswith("https://")
        context = ssl.create_default_context()
        ca.configure_trust(context)
        with httpx2.Client(verify=context) as http:
            client = anthropic.Anthropic(base_url=gw.base_url, api_key=SIM_KEY, http_client=http, max_retries=0)
            message = client.messages.create(
                model=SIM_MODEL, max_tokens=16, messages=[{"role": "user", "content": "hi"}]
            )
        assert message.content
        with socket.create_connection(("127.0.0.1", gw.port), timeout=5) as raw:  # plain HTTP gets no answer
            raw.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
            assert not raw.recv(1024).startswith(b"HTTP/1.1 200")
    assert server_context(str(cert), str(key)).minimum_version is ssl.TLSVersion.TLSv1_2


def test_an_untrusted_client_is_refused_by_its_own_verification(sim: SimServer, tmp_path: Path) -> None:
    """A client that does not trust the gateway's CA fails its handshake (verification stays on)."""
    cert, key, _ = _issue(trustme.CA(), tmp_path)
    with (
        run_gateway(sim.base_url, tls_cert=str(cert), tls_key=str(key)) as gw,
        pytest.raises(httpx2.ConnectError, match="CERTIFICATE_VERIFY_FAILED"),
        httpx2.Client() as http,
    ):
        http.get(gw.base_url + "/healthz")


def test_tls_settings_are_checked_at_start(tmp_path: Path) -> None:
    """A cert without key, a missing file or a key of another cert is a ConfigError naming the problem."""
    cert, key, _ = _issue(trustme.CA(), tmp_path)
    other_cert, _, _ = _issue(trustme.CA(), tmp_path, "other")
    with pytest.raises(ConfigError, match="both tls_cert and tls_key"):
        GatewayConfig(tls_cert=str(cert))
    with pytest.raises(ConfigError, match="does not exist"):
        GatewayConfig(tls_cert=str(tmp_path / "nope.pem"), tls_key=str(key))
    with pytest.raises(ConfigError, match="do not load"):
        GatewayConfig(tls_cert=str(other_cert), tls_key=str(key))
    config = GatewayConfig.from_mapping({"proxy": {"tls_cert": str(cert), "tls_key": str(key)}})
    assert config.base_url == "https://127.0.0.1:8787"
    with pytest.raises(ConfigError, match="exposes your upstream key"):  # TLS does not replace client tokens
        GatewayConfig(host="0.0.0.0", tls_cert=str(cert), tls_key=str(key))


def test_the_cli_takes_tls_flags(tmp_path: Path) -> None:
    """`proxy --tls-cert FILE` without --tls-key exits non-zero with the config's message."""
    cert, _, _ = _issue(trustme.CA(), tmp_path)
    result = CliRunner().invoke(proxy, ["--tls-cert", str(cert), "--port", "0"])
    assert result.exit_code != 0
    assert "both tls_cert and tls_key" in result.output


@pytest.mark.slow
def test_sighup_serves_the_rewritten_certificate_to_new_connections(sim: SimServer, tmp_path: Path) -> None:
    """A `claudewire proxy` process re-reads its files on SIGHUP: a new connection sees the new certificate."""
    ca = trustme.CA()
    cert, key, first = _issue(ca, tmp_path)
    port = free_port()
    args = [sys.executable, "-m", "claudewire", "proxy", "--upstream", sim.base_url, "--port", str(port),
            "--tls-cert", str(cert), "--tls-key", str(key), "--access-log", "off"]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    lines: list[str] = []
    refused = threading.Event()

    def read_stderr() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if "TLS certificate not reloaded" in line:
                refused.set()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        assert proc.stdout is not None
        banner = ""
        for _ in range(20):
            line = proc.stdout.readline()
            banner += line
            if not line or "metrics:" in line:
                break
        assert f"sha256 {first}" in banner, banner
        assert _served_fingerprint(port, ca) == first
        new_cert, new_key, second = _issue(ca, tmp_path, "renewed")
        os.replace(new_cert, cert)
        os.replace(new_key, key)
        os.kill(proc.pid, signal.SIGHUP)
        deadline = time.monotonic() + 10
        seen = first
        while seen != second and time.monotonic() < deadline:  # the signal is handled by the loop, soon
            time.sleep(0.05)
            seen = _served_fingerprint(port, ca)
        assert seen == second
        cert.write_text("not a certificate")  # a broken rewrite keeps the last good certificate served
        os.kill(proc.pid, signal.SIGHUP)
        assert refused.wait(10), "".join(lines)
        assert proc.poll() is None
        assert _served_fingerprint(port, ca) == second
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        reader.join(5)
    assert any("TLS certificate reloaded" in line for line in lines)
