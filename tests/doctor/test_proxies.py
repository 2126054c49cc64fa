"""Real proxies: tinyproxy (a plain CONNECT proxy) and mitmproxy (a TLS-intercepting one), started on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest

from claudewire.doctor import Status, render_json, render_markdown, render_text, run
from claudewire.doctor.net import Target
from claudewire.doctor.proxy import proxy_fix
from claudewire.doctor.settings import ProxyChoice
from claudewire.sim import SimServer
from tests.doctor.conftest import KEY, mitmdump, settings_for, tinyproxy

pytestmark = pytest.mark.timeout(90)


def test_healthy_path_through_tinyproxy(tls_sim: SimServer, tmp_path: Path) -> None:
    """Through a working CONNECT proxy every check passes; dns and tcp say the proxy did that part."""
    with tinyproxy(tmp_path) as url:
        report = run(settings_for(tls_sim.base_url, ca_file=tls_sim.ca_path, proxy=ProxyChoice(url, "HTTPS_PROXY")))
    assert [(c.id, c.status) for c in report.checks if c.status is not Status.PASS] == []
    assert "answered CONNECT" in report.get("proxy").detail
    assert str(report.get("proxy").evidence["answer"]).startswith("HTTP/1.")
    assert report.get("dns").evidence["resolved_by"] == "proxy"
    assert report.get("tcp").evidence["via"] == "proxy"


def test_tinyproxy_refusing_connect_fails_the_proxy_check(tls_sim: SimServer, tmp_path: Path) -> None:
    """A proxy that refuses CONNECT to the API's port fails proxy (not tcp), quoting its answer; the rest skips."""
    with tinyproxy(tmp_path, "ConnectPort 443") as url:
        report = run(settings_for(tls_sim.base_url, ca_file=tls_sim.ca_path, proxy=ProxyChoice(url, "HTTPS_PROXY")))
    proxy = report.get("proxy")
    assert proxy.status is Status.FAIL
    assert "refused the tunnel" in proxy.detail and "403" in proxy.detail
    assert "HTTPS_PROXY" in (proxy.fix or "")
    assert {report.get(c).status for c in ("dns", "tcp", "tls", "http")} == {Status.SKIP}
    # the fix names the target the tunnel was for (here on this machine: NO_PROXY), never a stock api.anthropic.com
    authority = tls_sim.base_url.removeprefix("https://")
    assert authority in (proxy.fix or "") and "NO_PROXY=127.0.0.1" in (proxy.fix or "")
    assert "api.anthropic.com" not in (proxy.fix or "")


def test_the_proxy_fix_names_a_remote_target_by_its_host_and_port() -> None:
    """For a gateway at gateway.corp.example:8443 the fix asks to allow CONNECT to that host:port (or NO_PROXY it)."""
    settings = settings_for("https://gateway.corp.example:8443", proxy=ProxyChoice("http://proxy:3128", "https_proxy"))
    fix = proxy_fix(settings, Target("https", "gateway.corp.example", 8443))
    assert "allow CONNECT to gateway.corp.example:8443" in fix and "NO_PROXY=gateway.corp.example" in fix
    assert "https_proxy" in fix and "api.anthropic.com" not in fix


def test_tinyproxy_wanting_credentials_is_a_407_with_the_credentials_fix(tls_sim: SimServer, tmp_path: Path) -> None:
    """Without credentials the proxy check fails on 407; with them in the URL it passes, the password redacted."""
    with tinyproxy(tmp_path, "BasicAuth doctor s3cret-pass") as url:
        without = run(settings_for(tls_sim.base_url, ca_file=tls_sim.ca_path, proxy=ProxyChoice(url, "HTTPS_PROXY")))
        with_auth = url.replace("http://", "http://doctor:s3cret-pass@")
        settings = settings_for(tls_sim.base_url, ca_file=tls_sim.ca_path, proxy=ProxyChoice(with_auth, "HTTPS_PROXY"))
        authed = run(settings)
    assert without.get("proxy").status is Status.FAIL
    assert "407" in without.get("proxy").detail
    assert "user:password@" in (without.get("proxy").fix or "")
    assert authed.get("proxy").status is Status.PASS
    assert authed.get("messages").status is Status.PASS
    for text in (render_json(authed), render_markdown(authed), render_text(authed)):
        assert "s3cret-pass" not in text


def test_unreachable_proxy_fails_the_proxy_check(tls_sim: SimServer) -> None:
    """A proxy variable pointing at nothing is reported by the proxy check, not as a tcp failure."""
    from tests.doctor.conftest import free_port

    proxy = ProxyChoice(f"http://127.0.0.1:{free_port()}", "HTTPS_PROXY")
    report = run(settings_for(tls_sim.base_url, ca_file=tls_sim.ca_path, proxy=proxy))
    assert report.get("proxy").status is Status.FAIL
    assert "connection refused" in report.get("proxy").detail
    assert report.get("tcp").status is Status.SKIP


def test_mitmproxy_interception_names_its_ca_and_the_files_to_trust(tls_sim: SimServer, tmp_path: Path) -> None:
    """Through mitmproxy with its CA untrusted: certificate fails naming mitmproxy's CA, with both trust variables."""
    with mitmdump(tmp_path) as mitm:
        report = run(
            settings_for(tls_sim.base_url, ca_file=tls_sim.ca_path, proxy=ProxyChoice(mitm.url, "HTTPS_PROXY"))
        )
    assert report.get("proxy").status is Status.PASS
    assert report.get("tls").status is Status.PASS
    cert = report.get("certificate")
    assert cert.status is Status.FAIL
    assert "'mitmproxy'" in cert.detail and "intercepts TLS" in cert.detail
    fix = cert.fix or ""
    assert "SSL_CERT_FILE" in fix and "NODE_EXTRA_CA_CERTS" in fix and "mitmproxy" in fix
    for forbidden in ("verify=False", "NODE_TLS_REJECT_UNAUTHORIZED", " -k", "--insecure"):
        assert forbidden not in render_text(report)
    assert report.get("http").status is Status.SKIP
    assert report.exit_code == 1


def test_mitmproxy_with_its_ca_trusted_passes_but_buffers_the_stream(tls_sim: SimServer, tmp_path: Path) -> None:
    """Trusting mitmproxy's CA (SSL_CERT_FILE) gets every request through; its buffering shows in streaming."""
    with mitmdump(tmp_path) as mitm:
        report = run(settings_for(tls_sim.base_url, ca_file=mitm.ca_path, proxy=ProxyChoice(mitm.url, "HTTPS_PROXY")))
    assert report.get("certificate").status is Status.PASS
    assert "'mitmproxy'" in report.get("certificate").detail
    assert report.get("messages").status is Status.PASS
    streaming = report.get("streaming")
    assert streaming.status is Status.WARN, streaming
    assert "buffers the stream" in streaming.detail
    assert KEY not in render_json(report)


@pytest.mark.timeout(30)
def test_black_holed_proxy_fails_the_proxy_check_within_the_bound(tls_sim: SimServer, black_hole: int) -> None:
    """A proxy address that accepts and never answers CONNECT fails the proxy check after --timeout."""
    proxy = ProxyChoice(f"http://127.0.0.1:{black_hole}", "HTTPS_PROXY")
    report = run(settings_for(tls_sim.base_url, ca_file=tls_sim.ca_path, proxy=proxy, timeout=0.5))
    assert report.get("proxy").status is Status.FAIL
    assert "did not answer CONNECT within 0.5s" in report.get("proxy").detail
    assert report.get("dns").evidence["prerequisite"] == "proxy"
