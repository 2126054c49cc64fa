"""The upstream client's URL handling: scheme, default ports, path prefixes and the Host header."""

from __future__ import annotations

import pytest

from claudewire.gateway.upstream.pool import UpstreamTarget


@pytest.mark.parametrize(
    ("url", "host", "port", "prefix", "host_header"),
    [
        ("https://api.anthropic.com", "api.anthropic.com", 443, "", b"api.anthropic.com"),
        ("http://127.0.0.1:8780/", "127.0.0.1", 8780, "", b"127.0.0.1:8780"),
        ("https://gw.corp.example/anthropic/", "gw.corp.example", 443, "/anthropic", b"gw.corp.example"),
        ("http://[::1]:9000", "::1", 9000, "", b"[::1]:9000"),
    ],
)
def test_target_parse(url: str, host: str, port: int, prefix: str, host_header: bytes) -> None:
    """Base URLs give the host, port, path prefix and Host header the upstream requests use."""
    target = UpstreamTarget.parse(url)
    assert (target.host, target.port, target.prefix, target.host_header) == (host, port, prefix, host_header)


@pytest.mark.parametrize("url", ["api.anthropic.com", "ftp://x", "https://"])
def test_target_rejects_non_http_urls(url: str) -> None:
    """Anything but an http(s) URL with a host is refused with a message naming the URL."""
    with pytest.raises(ValueError, match="http"):
        UpstreamTarget.parse(url)
