"""is_loopback decides which addresses the gateway may bind without tokens and the doctor may call over http."""

from __future__ import annotations

import pytest

from claudewire._net import is_loopback, origin


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("10.0.0.5", False),
        ("api.anthropic.com", False),
        ("", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    """Only the loopback range, ::1 and the name localhost count as this machine."""
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(
    ("url", "scheme", "host", "port", "authority", "path"),
    [
        (
            "https://API.anthropic.com/v1/messages?x=1",
            "https",
            "api.anthropic.com",
            443,
            "api.anthropic.com",
            "/v1/messages",
        ),
        ("http://127.0.0.1:8780", "http", "127.0.0.1", 8780, "127.0.0.1:8780", ""),
        ("http://127.0.0.1:80/", "http", "127.0.0.1", 80, "127.0.0.1", "/"),
        ("https://gw.corp.example/anthropic/", "https", "gw.corp.example", 443, "gw.corp.example", "/anthropic/"),
        ("http://[::1]:9000", "http", "::1", 9000, "[::1]:9000", ""),
        ("  https://api.anthropic.com  ", "https", "api.anthropic.com", 443, "api.anthropic.com", ""),
    ],
)
def test_origin_of_a_url(url: str, scheme: str, host: str, port: int, authority: str, path: str) -> None:
    """One parse for every URL → scheme/host/port: default ports filled, IPv6 bare for sockets, bracketed to show."""
    where = origin(url)
    assert (where.scheme, where.host, where.port, where.authority, where.path) == (scheme, host, port, authority, path)
    assert where.key == f"{scheme}://{where.address}"


def test_origin_of_a_proxy_with_credentials_and_no_scheme() -> None:
    """A proxy written without a scheme is http; its user info comes back unquoted, and never in the address."""
    where = origin("user%40corp:p%3Ass@proxy.corp:3128", assume="http")
    assert (where.scheme, where.address, where.username, where.password) == (
        "http",
        "proxy.corp:3128",
        "user@corp",
        "p:ss",
    )
    assert origin("redis://cache:6380/0", schemes=("redis",)).address == "cache:6380"


@pytest.mark.parametrize(
    ("url", "why"),
    [("api.anthropic.com", "http"), ("ftp://x", "http"), ("https://", "host"), ("http://h:99999", "port")],
)
def test_origin_refuses_what_is_not_a_url_of_its_schemes(url: str, why: str) -> None:
    """No host, another scheme or a bad port: a ValueError that names the URL."""
    with pytest.raises(ValueError, match=why) as info:
        origin(url)
    assert repr(url) in str(info.value)
