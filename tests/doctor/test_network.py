"""The network layers against real sockets: black holes, refused ports, unresolvable names, TLS failures."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from claudewire.doctor import Status, run
from claudewire.doctor.dns import _sinkholed
from claudewire.sim import SimServer
from tests.doctor.conftest import TlsServer, free_port, settings_for


@pytest.mark.timeout(30)
def test_black_hole_over_https_fails_tls_within_the_bound(black_hole: int) -> None:
    """A port that accepts TCP and never speaks: tcp passes, tls fails after --timeout, the rest is skipped."""
    report = run(settings_for(f"https://127.0.0.1:{black_hole}", timeout=0.5))
    assert report.get("tcp").status is Status.PASS
    tls = report.get("tls")
    assert tls.status is Status.FAIL
    assert "no TLS answer" in tls.detail and "0.5s" in tls.detail
    assert {report.get(c).status for c in ("certificate", "http", "auth", "streaming")} == {Status.SKIP}
    assert report.get("certificate").evidence["prerequisite"] == "tls"


@pytest.mark.timeout(30)
def test_black_hole_over_http_fails_http_within_the_bound(black_hole: int) -> None:
    """Plain http:// to a black hole: tls and certificate skip (no TLS), http fails on its timeout."""
    report = run(settings_for(f"http://127.0.0.1:{black_hole}", timeout=0.5))
    assert report.get("tls").status is Status.SKIP
    assert "plain http://" in report.get("tls").detail
    assert report.get("http").status is Status.FAIL
    assert "no HTTP answer within 0.5s" in report.get("http").detail


@pytest.mark.timeout(30)
def test_run_deadline_cuts_off_a_hanging_step(black_hole: int) -> None:
    """With a run deadline shorter than the step timeout, the hanging check fails as cut off and later ones skip."""
    # 2 s: dns and tcp to 127.0.0.1 finish well inside it even on a loaded machine, so tls is the step cut off
    report = run(settings_for(f"https://127.0.0.1:{black_hole}", timeout=30.0, deadline=2.0))
    assert report.get("tls").status is Status.FAIL
    assert "not finished within the run's bound of 2s" in report.get("tls").detail
    assert report.get("http").status is Status.SKIP
    assert report.exit_code == 1


def test_refused_port_fails_tcp_as_refused() -> None:
    """Nothing listening: tcp fails as 'refused' (not a timeout), with the taxonomy's fix."""
    report = run(settings_for(f"http://127.0.0.1:{free_port()}"))
    tcp = report.get("tcp")
    assert tcp.status is Status.FAIL
    assert "refused" in tcp.detail
    assert "ANTHROPIC_BASE_URL" in (tcp.fix or "")
    assert report.get("http").evidence["prerequisite"] == "tcp"


def test_unresolvable_host_fails_dns() -> None:
    """A name that cannot resolve (.invalid is reserved) fails the dns check and skips tcp onwards."""
    report = run(settings_for("https://api.doctor-test.invalid", timeout=2.0))
    assert report.get("dns").status is Status.FAIL
    assert "does not resolve" in report.get("dns").detail or "no DNS answer" in report.get("dns").detail
    assert report.get("tcp").status is Status.SKIP


def test_sinkhole_addresses_are_recognised() -> None:
    """0.0.0.0 and :: are sinkholes for any name; loopback only for the API's own hosts."""
    assert _sinkholed("api.anthropic.com", "0.0.0.0")
    assert _sinkholed("gateway.example", "::")
    assert _sinkholed("api.anthropic.com", "127.0.0.1")
    assert not _sinkholed("gateway.internal", "127.0.1.1")
    assert not _sinkholed("api.anthropic.com", "160.79.104.10")


def test_plain_http_server_on_https_url_fails_tls_on_version(sim: SimServer) -> None:
    """https:// to a plain-HTTP port: the handshake fails on protocol version and the fix names the scheme."""
    report = run(settings_for(sim.base_url.replace("http://", "https://")))
    tls = report.get("tls")
    assert tls.status is Status.FAIL
    assert "protocol version" in tls.detail
    assert "scheme" in (tls.fix or "")


def test_untrusted_ca_fails_certificate_naming_the_issuer(tls_sim: SimServer) -> None:
    """A chain from a CA the trust store lacks: tls passes, certificate fails naming the CA and the files to trust."""
    report = run(settings_for(tls_sim.base_url))
    assert report.get("tls").status is Status.PASS
    cert = report.get("certificate")
    assert cert.status is Status.FAIL
    assert "claudewire sim" in cert.detail
    assert "SSL_CERT_FILE" in (cert.fix or "") and "NODE_EXTRA_CA_CERTS" in (cert.fix or "")
    assert cert.evidence["issuer_org"] == "claudewire sim"
    assert report.get("http").status is Status.SKIP


def test_claude_code_profile_trusts_node_extra_ca_certs_only(tls_sim: SimServer) -> None:
    """claude-code reads NODE_EXTRA_CA_CERTS (and ignores SSL_CERT_FILE, as Node does); its fix leads with it."""
    assert tls_sim.ca_path is not None
    trusted = run(settings_for(tls_sim.base_url, profile="claude-code", node_extra_ca=tls_sim.ca_path))
    assert trusted.get("certificate").status is Status.PASS
    assert "NODE_EXTRA_CA_CERTS" in trusted.get("certificate").detail
    untrusted = run(settings_for(tls_sim.base_url, profile="claude-code", ca_file=tls_sim.ca_path))
    fix = untrusted.get("certificate").fix or ""
    assert untrusted.get("certificate").status is Status.FAIL
    assert fix.index("NODE_EXTRA_CA_CERTS") < fix.index("SSL_CERT_FILE")


def test_expired_certificate_is_named_as_expired(tls_server: Callable[..., TlsServer]) -> None:
    """An expired server certificate fails the certificate check as expired, with its date."""
    server = tls_server("127.0.0.1", not_after=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    report = run(settings_for(f"https://127.0.0.1:{server.port}", ca_file=server.ca_path))
    cert = report.get("certificate")
    assert cert.status is Status.FAIL
    assert "expired" in cert.detail and "2024-01-01" in cert.detail


def test_hostname_mismatch_names_the_certificate_names(tls_server: Callable[..., TlsServer]) -> None:
    """A certificate for another host fails the certificate check naming the host it is for."""
    server = tls_server("gateway.example.org")
    report = run(settings_for(f"https://127.0.0.1:{server.port}", ca_file=server.ca_path))
    cert = report.get("certificate")
    assert cert.status is Status.FAIL
    assert "gateway.example.org" in cert.detail and "not 127.0.0.1" in cert.detail


def test_missing_ca_file_fails_config_and_stops() -> None:
    """SSL_CERT_FILE naming a missing file fails config, and no network check runs."""
    report = run(settings_for("https://127.0.0.1:9", ca_file="/nonexistent/ca.pem"))
    assert report.get("config").status is Status.FAIL
    assert "SSL_CERT_FILE=/nonexistent/ca.pem does not exist" in report.get("config").detail
    assert report.get("proxy").evidence["prerequisite"] == "config"
