"""The ``dns`` check: the API host resolves, how long it took, and whether a DNS filter sinkholes it."""

from __future__ import annotations

import ipaddress
import socket
import time

from claudewire._errors import Failure, FailureKind
from claudewire.doctor.net import Target, is_ip, resolve
from claudewire.doctor.result import CheckResult, JSONValue, Status
from claudewire.doctor.settings import Settings

__all__ = ["check_dns"]

_SLOW_MS = 1000.0
_DNS_FIX = Failure.of(FailureKind.DNS).fix


# Hosts that never legitimately resolve to loopback: a 127.x answer for them is a hosts-file or DNS-filter block.
_PUBLIC_API_DOMAINS = ("anthropic.com", "claude.ai", "cursor.sh")


def _sinkholed(host: str, address: str) -> bool:
    """Whether `address` is a block answer for `host`: 0.0.0.0/:: always, loopback for the API's own hosts."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.is_unspecified:
        return True
    public = any(host == d or host.endswith("." + d) for d in _PUBLIC_API_DOMAINS)
    return ip.is_loopback and public


async def check_dns(settings: Settings, target: Target) -> tuple[CheckResult, list[str]]:
    """The check result and the addresses found (empty when the proxy resolves or resolution failed)."""
    start = time.monotonic()
    evidence: dict[str, JSONValue] = {"host": target.host}

    def done(status: Status, detail: str, fix: str | None = None) -> CheckResult:
        return CheckResult("dns", status, detail, fix, evidence, (time.monotonic() - start) * 1000)

    if settings.proxy.url:
        evidence["resolved_by"] = "proxy"
        return done(Status.PASS, f"{target.host} is resolved by the proxy (the tunnel opened)"), []
    if is_ip(target.host):
        return done(Status.PASS, f"{target.host} is an IP address: no lookup needed"), [target.host.strip("[]")]
    try:
        addresses = await resolve(target.host, target.port, settings.timeout)
    except TimeoutError:
        return done(Status.FAIL, f"no DNS answer for {target.host} within {settings.timeout:g}s", _DNS_FIX), []
    except (socket.gaierror, OSError, UnicodeError) as exc:
        evidence["error"] = str(exc)
        return done(Status.FAIL, f"{target.host} does not resolve: {exc}", _DNS_FIX), []
    elapsed = (time.monotonic() - start) * 1000
    evidence["addresses"] = list(addresses)
    evidence["lookup_ms"] = round(elapsed, 1)
    holes = [a for a in addresses if _sinkholed(target.host, a)]
    if holes:
        detail = f"{target.host} resolves to {', '.join(holes)}: a DNS filter or hosts-file entry sinkholes it"
        fix = f"Remove the {target.host} entry from /etc/hosts or ask for the DNS filter to allow it. {_DNS_FIX}"
        return done(Status.FAIL, detail, fix), []
    shown = ", ".join(addresses[:4]) + (f" (+{len(addresses) - 4})" if len(addresses) > 4 else "")
    if elapsed > _SLOW_MS:
        detail = f"{target.host} → {shown}, but the lookup took {elapsed:.0f} ms"
        return done(Status.WARN, detail, "A slow resolver delays every new connection: check DNS/VPN settings."), (
            addresses
        )
    return done(Status.PASS, f"{target.host} → {shown}"), addresses
