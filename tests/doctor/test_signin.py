"""--profile claude-code with a gateway URL: the preconditions of Claude Code's gateway sign-in — https:// (plain http
only on loopback), private addresses (a pure judgement of addresses), a certificate its trust store verifies with the
SHA-256 fingerprint printed as Claude Code shows it, and RFC 8414 metadata naming a device authorization endpoint —
end to end against an HTTPS server on 127.0.0.1 with a trustme certificate."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from claudewire.doctor import Report, Settings, Status, run
from claudewire.doctor.claude_code import claude_code_view, managed_settings_path
from claudewire.doctor.result import SIGNIN_IDS
from claudewire.doctor.scope import claude_code_private
from claudewire.doctor.signin import check_signin_dns, check_signin_https
from claudewire.doctor.urlprobe import Lookup, UrlTarget
from claudewire.sim import SimServer
from tests.doctor.conftest import KEY
from tests.doctor.https_app import Handler, HttpsApp, metadata_handler, models_handler, serve_https


@pytest.mark.parametrize(
    ("address", "private"),
    [
        ("10.20.30.40", True),
        ("172.16.0.1", True),
        ("172.31.255.254", True),
        ("192.168.1.1", True),
        ("127.0.0.1", True),
        ("169.254.10.10", True),
        ("100.64.0.1", True),
        ("::1", True),
        ("fe80::1%en0", True),
        ("fd00:1234::1", True),
        ("::ffff:192.168.1.1", True),
        ("8.8.8.8", False),
        ("172.32.0.1", False),
        ("100.128.0.1", False),
        ("192.0.2.10", False),
        ("2606:4700:4700::1111", False),
        ("::ffff:8.8.8.8", False),
    ],
)
def test_private_as_claude_code_judges_it(address: str, private: bool) -> None:
    """RFC 1918, loopback, link-local, 100.64.0.0/10, ::1, fe80::/10 and fc00::/7 are private; nothing else is."""
    assert claude_code_private(address) is private


def test_a_gateway_with_a_public_address_fails_and_a_private_one_passes() -> None:
    """One public address among private ones fails naming it, with the private-network fix; all-private passes."""
    mixed = check_signin_dns(Lookup("claude-gw.corp.example", ("10.0.0.7", "8.8.8.8")))
    assert mixed.status is Status.FAIL
    assert "8.8.8.8 (a public address) is not private" in mixed.detail and "10.0.0.7 (" not in mixed.detail
    assert "internal load balancer" in (mixed.fix or "") and "gatewayInternalNetworks" in (mixed.fix or "")
    private = check_signin_dns(Lookup("claude-gw.corp.internal", ("10.0.0.7", "fd00::7")))
    assert private.status is Status.PASS and "private" in private.detail


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("https://claude-gw.corp.internal:8787", Status.PASS),
        ("http://127.0.0.1:8787", Status.PASS),
        ("http://localhost:8787", Status.PASS),
        ("http://claude-gw.corp.internal:8787", Status.FAIL),
        ("http://10.0.0.7:8787", Status.FAIL),
    ],
)
def test_https_or_plain_http_on_loopback(url: str, status: Status) -> None:
    """https:// passes; plain http:// passes only on loopback, else fails with the TLS fix."""
    target = UrlTarget.parse(url)
    assert target is not None
    result = check_signin_https(target)
    assert result.status is status
    if status is Status.FAIL:
        assert "--tls-cert" in (result.fix or "")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh HOME and working directory (no Claude Code settings of this machine leak in)."""
    work = tmp_path / "project"
    work.mkdir()
    monkeypatch.chdir(work)
    return tmp_path / "home"


Serve = Callable[[Handler], HttpsApp]
"""Starts a gateway-like HTTPS server answering with a handler."""


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    """Start gateway-like HTTPS servers with a chosen handler (all stopped after the test)."""
    with contextlib.ExitStack() as stack:
        yield lambda handler: stack.enter_context(serve_https(tmp_path, handler))


def _run(home: Path, *, url: str | None = None, **env: str) -> Report:
    settings = Settings.from_env(
        {"HOME": str(home), **env}, profile="claude-code", url=url, model="claude-haiku-4-5", timeout=2.0
    )
    return run(settings)


def _leaf_sha256(app: HttpsApp) -> str:
    """The served leaf's SHA-256 fingerprint as cryptography computes it (lower-case hex, as Claude Code shows it)."""
    return x509.load_der_x509_certificate(app.leaf_der).fingerprint(hashes.SHA256()).hex()


@pytest.mark.timeout(60)
def test_a_gateway_offering_sign_in_passes_with_its_fingerprint(home: Path, serve: Serve) -> None:
    """--url of a private https gateway whose CA NODE_EXTRA_CA_CERTS trusts, serving sign-in metadata: the four
    checks pass, and the certificate check prints the SHA-256 fingerprint exactly as Claude Code's trust prompt does
    (cryptography's computation of the same certificate, lower-case hex without colons)."""
    app = serve(metadata_handler())
    report = _run(home, url=app.url(), NODE_EXTRA_CA_CERTS=app.ca_path, ANTHROPIC_BASE_URL=app.url())
    assert [c.id for c in report.checks][-4:] == list(SIGNIN_IDS)
    for check_id in ("signin_https", "signin_dns", "signin_metadata"):
        assert report.get(check_id).status is Status.PASS, report.get(check_id)
    certificate = report.get("signin_certificate")
    assert certificate.status is Status.PASS, certificate
    expected = _leaf_sha256(app)
    assert len(expected) == 64 and expected == expected.lower() and ":" not in expected
    assert certificate.evidence["fingerprint_sha256"] == expected
    assert f"Certificate fingerprint (SHA-256): {expected}" in certificate.detail
    assert 'Claude Code asks "Trust gateway 127.0.0.1?"' in certificate.detail
    assert "| openssl x509 -noout -fingerprint -sha256" in str(certificate.evidence["fingerprint_command"])
    metadata = report.get("signin_metadata")
    assert f"device authorization at {app.url('/oauth/device_authorization')}" in metadata.detail
    assert ("/.well-known/oauth-authorization-server", None) in [
        (p, h.get("authorization")) for p, h in app.requests
    ]  # asked without a credential


@pytest.mark.timeout(60)
def test_a_certificate_claude_code_does_not_trust_fails_but_still_shows_its_fingerprint(
    home: Path, serve: Serve
) -> None:
    """Without NODE_EXTRA_CA_CERTS the private CA is not trusted: signin_certificate fails with the fingerprint in
    its detail and the NODE_EXTRA_CA_CERTS fix (never verification off); the metadata check cannot read it either."""
    app = serve(metadata_handler())
    report = _run(home, url=app.url())
    certificate = report.get("signin_certificate")
    assert certificate.status is Status.FAIL
    assert _leaf_sha256(app) in certificate.detail and "doctor url test CA" in certificate.detail
    assert "NODE_EXTRA_CA_CERTS=/path/to/ca.pem" in (certificate.fix or "")
    assert "NODE_TLS_REJECT_UNAUTHORIZED" not in (certificate.fix or "")
    assert "openssl s_client" in str(certificate.evidence["reproduce"])
    metadata = report.get("signin_metadata")
    assert metadata.status is Status.FAIL and "does not trust" in metadata.detail


@pytest.mark.timeout(60)
def test_a_gateway_without_sign_in_or_with_another_public_url(home: Path, serve: Serve) -> None:
    """Metadata without a device endpoint fails (the gateway offers no sign-in: turn [signin] on); endpoints of
    another origin than the URL given warn (Claude Code uses only same-origin ones: set public_url)."""
    none = serve(metadata_handler(device=False))
    off = _run(home, url=none.url(), NODE_EXTRA_CA_CERTS=none.ca_path).get("signin_metadata")
    assert off.status is Status.FAIL and "does not offer sign-in" in off.detail and "[signin]" in (off.fix or "")
    assert "curl -v --cacert" in str(off.evidence["reproduce"])
    elsewhere = serve(metadata_handler(public_url="https://claude-gw.corp.internal:8787"))
    moved = _run(home, url=elsewhere.url(), NODE_EXTRA_CA_CERTS=elsewhere.ca_path).get("signin_metadata")
    assert moved.status is Status.WARN and "same-origin" in moved.detail
    assert f"exactly {elsewhere.url()}" in (moved.fix or "")


@pytest.mark.timeout(60)
def test_a_base_url_gateway_is_checked_only_when_it_offers_sign_in(home: Path, serve: Serve) -> None:
    """ANTHROPIC_BASE_URL pointing at a gateway: one offering sign-in gets the four checks; one that offers none gets
    only signin_metadata, skipped, saying so and how to check a gateway with --url."""
    offering = serve(metadata_handler())
    report = _run(home, ANTHROPIC_BASE_URL=offering.url(), ANTHROPIC_API_KEY=KEY, NODE_EXTRA_CA_CERTS=offering.ca_path)
    assert [c.id for c in report.checks][-4:] == list(SIGNIN_IDS)
    assert report.get("signin_metadata").status is Status.PASS
    plain = serve(models_handler("unused-token-0123456789"))
    report = _run(home, ANTHROPIC_BASE_URL=plain.url(), ANTHROPIC_API_KEY=KEY, NODE_EXTRA_CA_CERTS=plain.ca_path)
    ids = [c.id for c in report.checks]
    assert "signin_metadata" in ids and not {"signin_https", "signin_dns", "signin_certificate"} & set(ids)
    skipped = report.get("signin_metadata")
    assert skipped.status is Status.SKIP and "does not offer sign-in" in skipped.detail and "--url" in skipped.detail
    api = run(Settings.from_env({"ANTHROPIC_BASE_URL": plain.url(), "ANTHROPIC_API_KEY": KEY}, timeout=2.0))
    assert not set(SIGNIN_IDS) & {c.id for c in api.checks}  # the api profile has no sign-in


@pytest.mark.timeout(60)
def test_plain_http_on_loopback_has_no_certificate(home: Path, sim: SimServer) -> None:
    """http://127.0.0.1 (the simulator, which offers no sign-in): https passes as loopback, the certificate check is
    skipped, and --url's metadata check fails saying the gateway offers no sign-in."""
    report = _run(home, url=sim.base_url)
    assert report.get("signin_https").status is Status.PASS and "loopback" in report.get("signin_https").detail
    assert report.get("signin_certificate").status is Status.SKIP
    assert report.get("signin_metadata").status is Status.FAIL


def test_force_login_gateway_url_is_the_gateway_to_check(home: Path, tmp_path: Path) -> None:
    """forceLoginGatewayUrl is read from the managed settings, or from the user's own settings when there are none
    (never from a project's): it becomes the gateway URL the sign-in checks use, named by its file."""
    user = home / ".claude" / "settings.json"
    user.parent.mkdir(parents=True)
    user.write_text(json.dumps({"forceLoginMethod": "gateway", "forceLoginGatewayUrl": "https://user-gw:8787"}))
    project = Path.cwd() / ".claude" / "settings.json"
    project.parent.mkdir(parents=True)
    project.write_text(json.dumps({"forceLoginGatewayUrl": "https://project-gw:8787"}))
    managed = tmp_path / "managed.json"
    managed.write_text(json.dumps({"forceLoginGatewayUrl": "https://managed-gw:8787"}))
    view = claude_code_view({"HOME": str(home)}, managed=managed)
    assert (view.gateway_url, view.gateway_url_source) == ("https://managed-gw:8787", str(managed))
    empty = tmp_path / "managed-empty.json"
    empty.write_text("{}")
    assert claude_code_view({"HOME": str(home)}, managed=empty).gateway_url is None  # the managed file wins whole
    unmanaged = claude_code_view({"HOME": str(home)}, managed=tmp_path / "absent.json")
    assert (unmanaged.gateway_url, unmanaged.gateway_url_source) == ("https://user-gw:8787", str(user))
    if managed_settings_path().exists():
        pytest.skip("this machine has Claude Code managed settings: Settings.from_env reads them")
    settings = Settings.from_env({"HOME": str(home)}, profile="claude-code", model="claude-haiku-4-5")
    assert settings.url == "https://user-gw:8787"
    assert settings.url_source == f"forceLoginGatewayUrl in {user}"
