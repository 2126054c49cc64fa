"""Where an IP address can be reached from: the public internet, or only a private network. Pure functions.

Two tools care, in opposite directions. Cursor calls a custom base URL from its own servers, on the internet: every
address the host resolves to must be public (`is_public`), never private, loopback, link-local, carrier-grade NAT or
reserved. Claude Code signs in to a gateway only when every address of its host is private (`claude_code_private`),
as its own check judges them: the ranges Claude Code 2.1.332 accepts without ``gatewayInternalNetworks`` are
RFC 1918, loopback, link-local, carrier-grade NAT (100.64.0.0/10), IPv6 ``::1``, ``fe80::/10`` and ULA ``fc00::/7``.
An IPv4-mapped IPv6 address is judged as its IPv4 one.
"""

from __future__ import annotations

import enum
import ipaddress

__all__ = ["Scope", "claude_code_private", "is_public", "parse_address", "scope_of"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT; also Tailscale's addresses
_PRIVATE = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"))
_CLAUDE_CODE_PRIVATE = tuple(
    ipaddress.ip_network(n)
    for n in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "100.64.0.0/10",
        "::1/128",
        "fe80::/10",
        "fc00::/7",
    )
)


class Scope(enum.StrEnum):
    """Where an address is reachable from."""

    PUBLIC = "public"
    PRIVATE = "private"
    LOOPBACK = "loopback"
    LINK_LOCAL = "link-local"
    SHARED = "shared"
    RESERVED = "reserved"

    @property
    def words(self) -> str:
        """The scope as the report says it."""
        return {
            "public": "a public address",
            "private": "a private address (RFC 1918 / IPv6 ULA)",
            "loopback": "this machine (loopback)",
            "link-local": "a link-local address",
            "shared": "a carrier-grade NAT address (100.64.0.0/10, e.g. a Tailscale address)",
            "reserved": "a reserved address, not routed on the internet",
        }[self.value]


def parse_address(address: str) -> IPAddress:
    """The IP address in `address` (zone id and brackets dropped, an IPv4-mapped IPv6 address as its IPv4 one)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0].strip("[]"))
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def scope_of(address: str) -> Scope:
    """Where `address` (an IPv4 or IPv6 literal) is reachable from; ValueError if it is not an IP address."""
    ip = parse_address(address)
    if ip.is_loopback:
        return Scope.LOOPBACK
    if ip.is_link_local:
        return Scope.LINK_LOCAL
    if isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED:
        return Scope.SHARED
    if any(ip.version == net.version and ip in net for net in _PRIVATE):
        return Scope.PRIVATE
    if ip.is_global and not ip.is_multicast:
        return Scope.PUBLIC
    return Scope.RESERVED  # unspecified, multicast, documentation and benchmark ranges ...


def is_public(address: str) -> bool:
    """Whether a server on the internet (Cursor's) can reach `address`."""
    return scope_of(address) is Scope.PUBLIC


def claude_code_private(address: str) -> bool:
    """Whether Claude Code counts `address` as private, the condition of its gateway sign-in."""
    ip = parse_address(address)
    return any(ip.version == net.version and ip in net for net in _CLAUDE_CODE_PRIVATE)
