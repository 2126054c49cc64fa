"""The ``proxy`` check: the configured proxy is reachable and opens a tunnel (CONNECT) to the API.

Failures reaching the proxy or in its CONNECT answer are reported here, never as dns or tcp: when a proxy is in use
the client resolves and connects to the proxy, and the proxy does the rest.
"""

from __future__ import annotations

import socket
import time
import urllib.parse

from claudewire._net import is_loopback
from claudewire.doctor.net import ProxyRefusedError, Target, proxy_connect
from claudewire.doctor.result import CheckResult, JSONValue, Status
from claudewire.doctor.settings import Settings, redact_url

__all__ = ["check_proxy", "proxy_fix"]


def proxy_fix(settings: Settings, target: Target) -> str:
    """What to do when the proxy refuses the tunnel to `target`: named by its own host:port, never a stock host."""
    source = settings.proxy.source or "HTTPS_PROXY"
    check = f"Check {source} (host, port, credentials as http://user:pass@host:port)"
    if is_loopback(target.host):
        return (
            f"The proxy cannot reach {target.authority}, which is on this machine: set NO_PROXY=127.0.0.1,localhost "
            f"so clients connect to it directly. {check}."
        )
    return (
        f"Ask the proxy's admins to allow CONNECT to {target.authority}, or set NO_PROXY={target.host} if that host "
        f"must bypass the proxy. {check}."
    )


def _ms(start: float) -> float:
    return (time.monotonic() - start) * 1000


async def check_proxy(settings: Settings, target: Target) -> CheckResult:
    """Pass when there is no proxy or it answers CONNECT with 2xx; fail naming what the proxy did otherwise."""
    start = time.monotonic()
    choice = settings.proxy
    evidence: dict[str, JSONValue] = {"source": choice.source, "no_proxy": choice.no_proxy}
    if choice.url is None:
        if choice.bypassed:
            evidence["bypassed"] = redact_url(choice.bypassed)
            detail = (
                f"{choice.source} is set but NO_PROXY={choice.no_proxy!r} matches {target.host}: the client "
                "connects directly"
            )
            return CheckResult("proxy", Status.PASS, detail, None, evidence, _ms(start))
        return CheckResult("proxy", Status.PASS, "no proxy configured: direct connection", None, evidence, _ms(start))
    shown = redact_url(choice.url)
    evidence["proxy"] = shown
    scheme = urllib.parse.urlsplit(choice.url if "://" in choice.url else f"http://{choice.url}").scheme.lower()
    if scheme != "http":
        detail = f"{choice.source}={shown}: a {scheme} proxy is not probed by the doctor; later checks go through it"
        return CheckResult("proxy", Status.WARN, detail, None, evidence, _ms(start))
    try:
        (_, writer), answer = await proxy_connect(choice.url, target, settings.timeout)
        writer.close()
    except ProxyRefusedError as exc:
        evidence["answer"] = exc.answer.status_line if exc.answer else None
        status = exc.answer.status if exc.answer else None
        if status == 407:
            detail = f"the proxy {shown} requires authentication (407) for CONNECT {target.authority}"
            fix = f"Put the proxy credentials in {choice.source}: http://user:password@host:port."
        else:
            detail = f"the proxy {shown} refused the tunnel: {exc}"
            fix = proxy_fix(settings, target)
        return CheckResult("proxy", Status.FAIL, detail, fix, evidence, _ms(start))
    except TimeoutError:
        detail = f"the proxy {shown} did not answer CONNECT within {settings.timeout:g}s"
        fix = f"Check that {choice.source} names a running proxy (host and port); a firewall may drop the traffic."
        return CheckResult("proxy", Status.FAIL, detail, fix, evidence, _ms(start))
    except (OSError, ValueError) as exc:
        evidence["error"] = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, socket.gaierror):
            detail = f"the proxy host of {shown} does not resolve: {exc}"
        elif isinstance(exc, ConnectionRefusedError):
            detail = f"nothing listens at the proxy {shown} (connection refused)"
        else:
            detail = f"could not reach the proxy {shown}: {exc}"
        fix = f"Check {choice.source} (host and port), or unset it if you do not need a proxy."
        return CheckResult("proxy", Status.FAIL, detail, fix, evidence, _ms(start))
    evidence["answer"] = answer.status_line
    detail = f"{shown} answered CONNECT {target.authority} with {answer.status}"
    return CheckResult("proxy", Status.PASS, detail, None, evidence, _ms(start))
