"""--profile cursor says where Cursor's own-key requests come from (its servers) and checks only what applies: this
machine's HTTP/2 to Cursor, a key given with --api-key, and whether a --base-url is reachable from Cursor's servers."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from claudewire.doctor import Status, Verdict, run
from claudewire.doctor.cursor import unreachable_from_cursor
from claudewire.doctor.settings import Settings
from tests.doctor.conftest import KEY, TlsServer

SHELL = {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": "http://127.0.0.1:8787", "ANTHROPIC_MODEL": "x"}


def _with_local_cursor_host(settings: Settings, server: TlsServer) -> Settings:
    """`settings` with Cursor's host played by a local TLS server (no network here)."""
    return dataclasses.replace(settings, ca_file=server.ca_path, cursor_hosts=(f"127.0.0.1:{server.port}",))


def test_the_shells_anthropic_variables_are_not_cursors(tls_server: Callable[..., TlsServer]) -> None:
    """ANTHROPIC_API_KEY and ANTHROPIC_BASE_URL in the shell are ignored (Cursor does not read them); config says
    Cursor's own-key requests leave from Cursor's servers; the API path from here is not checked; http2 is."""
    settings = Settings.from_env(SHELL, profile="cursor", timeout=2.0)
    assert settings.api_key is None and settings.base_url == "https://api.anthropic.com"
    assert settings.cursor_ignored == ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "ANTHROPIC_MODEL")
    report = run(_with_local_cursor_host(settings, tls_server("127.0.0.1", alpn=("h2",))))
    config = report.get("config")
    assert config.status is Status.PASS
    assert "from Cursor's servers, not from this machine" in config.detail
    assert "not read by Cursor, ignored" in config.detail and "--api-key" in config.detail
    for check_id in ("dns", "tcp", "http", "auth", "messages"):
        check = report.get(check_id)
        assert check.status is Status.SKIP and "not checked for Cursor" in check.detail, check
    assert report.get("http2").status is Status.PASS
    assert report.verdict is Verdict.PASS


def test_a_base_url_on_this_machine_cannot_be_cursors(tls_server: Callable[..., TlsServer]) -> None:
    """--base-url http://127.0.0.1:8787 (a local gateway) fails config: Cursor's servers cannot reach it; the path to
    it is not checked from here, and the fix asks for an address Cursor's servers can reach."""
    settings = Settings.from_env({}, profile="cursor", base_url="http://127.0.0.1:8787", api_key=KEY, timeout=2.0)
    report = run(_with_local_cursor_host(settings, tls_server("127.0.0.1", alpn=("h2",))))
    config = report.get("config")
    assert config.status is Status.FAIL
    assert (
        "Cursor's servers cannot reach the base URL http://127.0.0.1:8787: 127.0.0.1 is this machine" in config.detail
    )
    assert "public https://" in (config.fix or "") and "ANTHROPIC_BASE_URL" not in (config.fix or "")
    assert report.get("tcp").status is Status.SKIP


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:8787", "is this machine"),
        ("http://localhost:8787", "is this machine"),
        ("https://10.1.2.3", "is a private address"),
        ("https://192.168.1.20:8443", "is a private address"),
        ("https://gateway.local", "only a local network resolves"),
        ("https://gateway", "only a local network resolves"),
        ("https://gateway.example.com", None),
        ("https://160.79.104.10", None),
    ],
)
def test_what_cursors_servers_cannot_reach(url: str, why: str | None) -> None:
    """Loopback, private addresses and local-only names are out of reach of Cursor's servers; public ones are not."""
    said = unreachable_from_cursor(url)
    if why is None:
        assert said is None
    else:
        assert said is not None and why in said
