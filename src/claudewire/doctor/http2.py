"""The ``http2`` check (cursor profile): HTTP/2 is negotiated (ALPN ``h2``) with Cursor's hosts.

Cursor speaks HTTP/2 to its own backend; a proxy or TLS inspection that only speaks HTTP/1.1 breaks it. The fix
is Cursor's HTTP compatibility mode (HTTP/1.1), or an exemption for Cursor's hosts.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time

from claudewire.doctor.net import Target, open_route, tls_handshake
from claudewire.doctor.result import CheckResult, JSONValue, Status
from claudewire.doctor.settings import Settings

__all__ = ["check_http2"]

_COMPAT_FIX = (
    "In Cursor: Settings → Network → HTTP Compatibility Mode → HTTP/1.1 (or 'Disable HTTP/2'); or ask IT to exempt "
    "Cursor's hosts (*.cursor.sh) from TLS inspection."
)


def _target(entry: str) -> Target:
    host, sep, port = entry.rpartition(":")
    if sep and port.isdigit() and "]" not in port:
        return Target("https", host.strip("[]"), int(port))
    return Target("https", entry.strip("[]"), 443)


async def _one(settings: Settings, entry: str) -> tuple[str, str | None, str | None]:
    """(host, negotiated ALPN or None, error text or None)."""
    target = _target(entry)
    ctx = settings.trust_context()
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    try:
        stream = await open_route(target, settings.proxy.url, None, settings.timeout)
        shake = await tls_handshake(stream, ctx, target.host, settings.timeout)
    except TimeoutError:
        return entry, None, f"no answer within {settings.timeout:g}s"
    except socket.gaierror as exc:
        return entry, None, f"does not resolve ({exc})"
    except ssl.SSLCertVerificationError as exc:
        return entry, None, f"certificate not trusted ({exc.verify_message})"
    except (OSError, ValueError) as exc:
        return entry, None, f"{type(exc).__name__}: {exc}"
    return entry, shake.alpn, None


async def check_http2(settings: Settings) -> CheckResult:
    """Pass when every Cursor host negotiates h2; fail naming the host that did not, and why."""
    if not settings.cursor_hosts:
        return CheckResult("http2", Status.SKIP, "no Cursor host to check (the simulator does not serve Cursor's)")
    start = time.monotonic()
    results = await asyncio.gather(*(_one(settings, h) for h in settings.cursor_hosts))
    evidence: dict[str, JSONValue] = {
        "hosts": [{"host": h, "alpn": alpn, "error": err} for h, alpn, err in results],
    }
    ms = (time.monotonic() - start) * 1000
    unreachable = [(h, err) for h, _, err in results if err]
    downgraded = [(h, alpn) for h, alpn, err in results if not err and alpn != "h2"]
    if unreachable:
        detail = "; ".join(f"{h}: {err}" for h, err in unreachable)
        fix = "Cursor cannot reach its backend from here: check the network, proxy and firewall for *.cursor.sh."
        return CheckResult("http2", Status.FAIL, f"cannot check HTTP/2: {detail}", fix, evidence, ms)
    if downgraded:
        detail = "; ".join(f"{h} negotiated {alpn or 'no ALPN'} instead of h2" for h, alpn in downgraded)
        return CheckResult(
            "http2", Status.FAIL, detail + ": something in the path downgrades HTTP/2", _COMPAT_FIX, evidence, ms
        )
    hosts = ", ".join(h for h, _, _ in results)
    return CheckResult("http2", Status.PASS, f"h2 negotiated with {hosts}", None, evidence, ms)
