"""Address helpers shared by the doctor, the client and the gateway: where a URL points, and whether that is here."""

from __future__ import annotations

import ipaddress
from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

__all__ = ["DEFAULT_PORTS", "Origin", "is_loopback", "origin"]

DEFAULT_PORTS: dict[str, int] = {
    "http": 80,
    "https": 443,
    "socks4": 1080,
    "socks5": 1080,
    "socks5h": 1080,
    "redis": 6379,
    "rediss": 6379,
}
"""The port a URL of each scheme means when it names none."""


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a URL points: `scheme`, `host` (an IPv6 address without brackets, as sockets take it), `port` (the
    scheme's default when the URL names none), the `path` below it, and the user info it carried (unquoted)."""

    scheme: str
    host: str
    port: int
    path: str = ""
    username: str | None = None
    password: str | None = None

    @property
    def default_port(self) -> bool:
        """Whether `port` is the scheme's default (a Host header then leaves it out)."""
        return DEFAULT_PORTS.get(self.scheme) == self.port

    @property
    def address(self) -> str:
        """``host:port``, the port always written (IPv6 in brackets): what a connect line or ``-proxy`` takes."""
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"{shown}:{self.port}"

    @property
    def authority(self) -> str:
        """``host`` or ``host:port`` (port only when not the default; IPv6 in brackets): what a Host header says."""
        return self.address.rpartition(":")[0] if self.default_port else self.address

    @property
    def key(self) -> str:
        """``scheme://host:port`` with the port always written: one name per server, whatever the path."""
        return f"{self.scheme}://{self.address}"


def origin(url: str, *, schemes: Collection[str] = ("http", "https"), assume: str | None = None) -> Origin:
    """Parse `url` into its `Origin`; `ValueError` naming the URL when it has no host, a bad port, or a scheme
    outside `schemes`.

    `assume` is the scheme of a URL written without one (``proxy.corp:3128`` for a proxy). Scheme and host are
    lower-cased; a port of 0 or none is the scheme's default.
    """
    text = url.strip()
    if assume is not None and "://" not in text:
        text = f"{assume}://{text}"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise ValueError(f"has a bad port: {url!r}") from None
    scheme = parts.scheme.lower()
    if scheme not in schemes or not parts.hostname:
        wanted = " or ".join(f"{s}://" for s in schemes)
        article = "an" if wanted[:1] in ("a", "e", "h", "i", "o", "u") else "a"
        raise ValueError(f"must be {article} {wanted} URL with a host, got {url!r}")
    return Origin(
        scheme,
        parts.hostname,
        port or DEFAULT_PORTS.get(scheme, 0),
        parts.path,
        unquote(parts.username) if parts.username is not None else None,
        unquote(parts.password) if parts.password is not None else None,
    )


def is_loopback(host: str) -> bool:
    """True when `host` (a name, an IPv4 or a bracketed/plain IPv6 address) only reaches this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
