"""--profile cursor --url: the URL checked as Cursor's servers reach it — public addresses (a pure judgement of
addresses), https://, a chain the public roots alone trust, /models with the token — end to end against an HTTPS
server on 127.0.0.1 with a trustme certificate."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from claudewire.doctor import Report, Settings, Status, render_json, render_markdown, render_text, run
from claudewire.doctor.reach import check_reach_dns, check_reach_https
from claudewire.doctor.result import REACH_IDS
from claudewire.doctor.scope import Scope, is_public, scope_of
from claudewire.doctor.urlprobe import Lookup, UrlTarget
from tests.doctor.https_app import HttpsApp, models_handler, serve_https

TOKEN = "cw-gateway-token-0123456789-wxyz"


@pytest.mark.parametrize(
    ("address", "scope"),
    [
        ("8.8.8.8", Scope.PUBLIC),
        ("2606:4700:4700::1111", Scope.PUBLIC),
        ("10.1.2.3", Scope.PRIVATE),
        ("172.16.5.4", Scope.PRIVATE),
        ("172.32.0.1", Scope.PUBLIC),
        ("192.168.1.1", Scope.PRIVATE),
        ("fd12:3456::1", Scope.PRIVATE),
        ("127.0.0.1", Scope.LOOPBACK),
        ("::1", Scope.LOOPBACK),
        ("169.254.169.254", Scope.LINK_LOCAL),
        ("fe80::1%eth0", Scope.LINK_LOCAL),
        ("100.64.0.1", Scope.SHARED),
        ("100.127.255.254", Scope.SHARED),
        ("::ffff:10.0.0.1", Scope.PRIVATE),
        ("::ffff:8.8.8.8", Scope.PUBLIC),
        ("0.0.0.0", Scope.RESERVED),
        ("192.0.2.10", Scope.RESERVED),
        ("224.0.0.1", Scope.RESERVED),
    ],
)
def test_where_an_address_is_reachable_from(address: str, scope: Scope) -> None:
    """Each address gets its scope; only a public one is reachable from Cursor's servers."""
    assert scope_of(address) is scope
    assert is_public(address) is (scope is Scope.PUBLIC)


def test_a_host_with_one_private_address_fails_naming_it() -> None:
    """A host resolving to a public and a private address fails, naming the private one; the fix offers a public
    hostname or a tunnel."""
    result = check_reach_dns(Lookup("gw.example.com", ("8.8.8.8", "10.1.2.3")))
    assert result.status is Status.FAIL
    assert "10.1.2.3 is a private address" in result.detail and "8.8.8.8 is" not in result.detail
    assert "public hostname" in (result.fix or "") and "tunnel" in (result.fix or "")
    assert result.evidence["addresses"] == [
        {"address": "8.8.8.8", "scope": "public"},
        {"address": "10.1.2.3", "scope": "private"},
    ]


def test_a_host_with_public_addresses_passes_and_one_that_does_not_resolve_fails() -> None:
    """All-public answers pass; no answer at all fails (Cursor's servers cannot find the host either)."""
    assert check_reach_dns(Lookup("gw.example.com", ("8.8.8.8", "2606:4700:4700::1111"))).status is Status.PASS
    missing = check_reach_dns(Lookup("gw.example.invalid", error="Name or service not known"))
    assert missing.status is Status.FAIL and "does not resolve" in missing.detail


def test_plain_http_fails_with_a_way_to_serve_https() -> None:
    """http:// fails: the token would cross the internet in clear; the fix serves HTTPS, never verification off."""
    target = UrlTarget.parse("http://gw.example.com/cursor")
    assert target is not None
    result = check_reach_https(target)
    assert result.status is Status.FAIL
    assert "--tls-cert" in (result.fix or "") and "verif" not in (result.fix or "")


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[HttpsApp]:
    """A gateway-like HTTPS server on 127.0.0.1 whose /cursor/models wants TOKEN, its certificate from a private CA."""
    with serve_https(tmp_path, models_handler(TOKEN)) as app:
        yield app


def _run(app: HttpsApp, url: str, token: str | None, **env: str) -> Report:
    """The cursor profile with --url `url` (and `token`), this machine trusting the server's CA (SSL_CERT_FILE)."""
    settings = Settings.from_env({"SSL_CERT_FILE": app.ca_path, **env}, profile="cursor", url=url, token=token,
                                 timeout=2.0)  # fmt: skip
    return run(dataclasses.replace(settings, cursor_hosts=()))  # Cursor's own hosts are not reachable here


def _rendered(report: Report) -> str:
    secrets = (TOKEN,)
    return render_json(report, secrets) + render_markdown(report, secrets) + render_text(report, secrets)


@pytest.mark.timeout(60)
def test_a_gateway_on_this_machine_with_a_private_ca(gateway: HttpsApp) -> None:
    """Served on 127.0.0.1 with a private CA this machine trusts (SSL_CERT_FILE): reach_dns fails (loopback),
    reach_certificate fails (the public roots alone do not trust it, whatever SSL_CERT_FILE says) with the fix of a
    public certificate or a tunnel, and /cursor/models answers the model list with the token (sent as Bearer)."""
    report = _run(gateway, gateway.url("/cursor"), TOKEN)
    assert [c.id for c in report.checks][-4:] == list(REACH_IDS)
    dns = report.get("reach_dns")
    assert dns.status is Status.FAIL
    assert "127.0.0.1 is this machine (loopback)" in dns.detail and "tunnel" in (dns.fix or "")
    assert report.get("reach_https").status is Status.PASS
    cert = report.get("reach_certificate")
    assert cert.status is Status.FAIL
    assert "not publicly trusted" in cert.detail and "doctor url test CA" in cert.detail
    assert "Let's Encrypt" in (cert.fix or "") and "tunnel" in (cert.fix or "")
    assert "verif" not in (cert.fix or "").lower() and "insecure" not in (cert.fix or "").lower()
    assert cert.evidence["trust_store"] == "public roots only (certifi's copy of Mozilla's CA bundle)"
    assert "python3 -m certifi" in str(cert.evidence["reproduce"])
    models = report.get("reach_models")
    assert models.status is Status.PASS, models
    assert "2 models listed" in models.detail and "cw-sonnet" in models.detail
    assert ("/cursor/models", "Bearer " + TOKEN) in [(p, h.get("authorization")) for p, h in gateway.requests]
    text = _rendered(report)
    assert TOKEN not in text and "…wxyz" in text


@pytest.mark.timeout(60)
def test_a_refused_token_fails_the_models_check_and_stays_hidden(gateway: HttpsApp) -> None:
    """A wrong token (from CLAUDEWIRE_TOKEN) gets 401: reach_models fails naming the redacted token and its source;
    the by-hand command reads $CLAUDEWIRE_TOKEN, never the token itself."""
    wrong = "cw-wrong-token-9876543210-abcd"
    report = _run(gateway, gateway.url("/cursor"), None, CLAUDEWIRE_TOKEN=wrong)
    models = report.get("reach_models")
    assert models.status is Status.FAIL
    assert "401" in models.detail and "…abcd (CLAUDEWIRE_TOKEN)" in models.detail and "invalid token" in models.detail
    assert "--token" in (models.fix or "")
    command = str(models.evidence["reproduce"])
    assert '"Authorization: Bearer $CLAUDEWIRE_TOKEN"' in command and "/cursor/models" in command
    assert wrong not in render_json(report, (wrong,)) and wrong not in command


@pytest.mark.timeout(60)
def test_no_token_and_a_wrong_path_say_what_to_give(gateway: HttpsApp) -> None:
    """Without any token the 401 asks for --token; a URL without the /cursor route gets 404 and the route fix."""
    no_token = _run(gateway, gateway.url("/cursor"), None).get("reach_models")
    assert no_token.status is Status.FAIL and "Pass the token Cursor uses with --token" in (no_token.fix or "")
    wrong_path = _run(gateway, gateway.url("/v9"), TOKEN).get("reach_models")
    assert wrong_path.status is Status.FAIL and "404" in wrong_path.detail
    assert "https://HOST/cursor" in (wrong_path.fix or "")


@pytest.mark.timeout(60)
def test_plain_http_sends_no_token(gateway: HttpsApp) -> None:
    """An http:// URL fails reach_https; the certificate and models checks are skipped and nothing is requested."""
    report = _run(gateway, f"http://127.0.0.1:{gateway.port}/cursor", TOKEN)
    assert report.get("reach_https").status is Status.FAIL
    assert report.get("reach_certificate").status is Status.SKIP
    models = report.get("reach_models")
    assert models.status is Status.SKIP and "not sent over plain http" in models.detail
    assert gateway.requests == []


def test_without_url_there_are_no_reach_checks() -> None:
    """The reach_* checks appear only for the cursor profile with --url."""
    settings = Settings.from_env({}, profile="cursor", base_url="http://127.0.0.1:9", timeout=1.0)
    report = run(dataclasses.replace(settings, cursor_hosts=()))
    assert not set(REACH_IDS) & {c.id for c in report.checks}
