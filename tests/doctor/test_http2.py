"""The cursor profile's http2 check against local TLS servers (h2 offered or not) and an unreachable host."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from claudewire.doctor import CHECK_IDS, Settings, Status, diagnose
from claudewire.doctor.http2 import check_http2
from claudewire.doctor.result import OPT_IN_IDS
from claudewire.sim import SimServer
from tests.doctor.conftest import TlsServer, settings_for


def _settings(server: TlsServer) -> Settings:
    return settings_for(
        "https://127.0.0.1:9", profile="cursor", ca_file=server.ca_path, cursor_hosts=(f"127.0.0.1:{server.port}",)
    )


def test_h2_negotiated_passes(tls_server: Callable[..., TlsServer]) -> None:
    """A host that negotiates h2 over ALPN passes."""
    server = tls_server("127.0.0.1", alpn=("h2", "http/1.1"))
    result = asyncio.run(check_http2(_settings(server)))
    assert result.status is Status.PASS
    assert "h2 negotiated" in result.detail


def test_http11_only_fails_with_compatibility_mode_fix(tls_server: Callable[..., TlsServer]) -> None:
    """A path that only speaks HTTP/1.1 fails and points at Cursor's HTTP compatibility mode."""
    server = tls_server("127.0.0.1", alpn=("http/1.1",))
    result = asyncio.run(check_http2(_settings(server)))
    assert result.status is Status.FAIL
    assert "http/1.1 instead of h2" in result.detail
    assert "HTTP Compatibility Mode" in (result.fix or "")


@pytest.mark.timeout(30)
def test_unreachable_cursor_host_fails_quickly_with_a_clear_message() -> None:
    """Without network, Cursor's real host does not resolve: http2 fails (bounded) saying it cannot check."""
    result = asyncio.run(check_http2(settings_for("https://127.0.0.1:9", profile="cursor", timeout=1.0)))
    assert result.status is Status.FAIL
    assert "cannot check HTTP/2" in result.detail and "api2.cursor.sh" in result.detail


@pytest.mark.timeout(30)
def test_cursor_profile_adds_http2_last_and_runs_it_beside_the_chain(
    sim: SimServer, tls_server: Callable[..., TlsServer]
) -> None:
    """The cursor profile's report ends with http2; the other profiles have no http2 entry."""
    server = tls_server("127.0.0.1", alpn=("h2",))
    cursor = asyncio.run(
        diagnose(
            settings_for(
                sim.base_url, profile="cursor", ca_file=server.ca_path, cursor_hosts=(f"127.0.0.1:{server.port}",)
            )
        )
    )
    assert [c.id for c in cursor.checks] == [c for c in CHECK_IDS if c not in OPT_IN_IDS or c == "http2"]
    assert cursor.get("http2").status is Status.PASS
    plain = asyncio.run(diagnose(settings_for(sim.base_url)))
    assert "http2" not in [c.id for c in plain.checks]
