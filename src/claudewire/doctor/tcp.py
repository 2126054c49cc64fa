"""The ``tcp`` check: a TCP connection to each address of the API host, telling refused from timed out."""

from __future__ import annotations

import asyncio
import time

from claudewire._errors import Failure, FailureKind
from claudewire.doctor.net import Target, connect
from claudewire.doctor.result import CheckResult, JSONValue, Status
from claudewire.doctor.settings import Settings

__all__ = ["check_tcp"]

_MAX_ADDRESSES = 4


async def _try(address: str, port: int, seconds: float) -> tuple[str, str, float]:
    """(address, outcome, ms): outcome is ok, refused, timeout or the error text."""
    start = time.monotonic()
    try:
        _, writer = await connect(address, port, seconds)
    except TimeoutError:
        outcome = "timeout"
    except ConnectionRefusedError:
        outcome = "refused"
    except OSError as exc:
        outcome = exc.strerror or str(exc)
    else:
        writer.close()
        outcome = "ok"
    return address, outcome, (time.monotonic() - start) * 1000


async def check_tcp(settings: Settings, target: Target, addresses: list[str]) -> tuple[CheckResult, str | None]:
    """The check result and an address that accepted the connection (None through a proxy or on failure)."""
    start = time.monotonic()
    evidence: dict[str, JSONValue] = {"port": target.port}

    def done(status: Status, detail: str, fix: str | None = None) -> CheckResult:
        return CheckResult("tcp", status, detail, fix, evidence, (time.monotonic() - start) * 1000)

    if settings.proxy.url:
        evidence["via"] = "proxy"
        return done(Status.PASS, f"the proxy connects to {target.authority} for us (CONNECT answered 2xx)"), None
    tried = await asyncio.gather(*(_try(a, target.port, settings.timeout) for a in addresses[:_MAX_ADDRESSES]))
    evidence["attempts"] = [{"address": a, "outcome": o, "ms": round(ms, 1)} for a, o, ms in tried]
    ok = [a for a, outcome, _ in tried if outcome == "ok"]
    bad = [(a, outcome) for a, outcome, _ in tried if outcome != "ok"]
    if ok:
        if bad:
            failed = ", ".join(f"{a} ({o})" for a, o in bad)
            detail = f"connected to {ok[0]}:{target.port}; but {failed} failed"
            fix = "Some addresses are unreachable (often IPv6): clients may stall before falling back to the others."
            return done(Status.WARN, detail, fix), ok[0]
        return done(Status.PASS, f"connected to {ok[0]}:{target.port}"), ok[0]
    outcomes = {o for _, o in bad}
    if outcomes == {"refused"}:
        failure = Failure.of(FailureKind.CONNECT_REFUSED)
        detail = f"connection refused at {target.authority}: nothing listens there"
    elif outcomes == {"timeout"}:
        failure = Failure.of(FailureKind.CONNECT_TIMEOUT)
        detail = f"connecting to {target.authority} timed out after {settings.timeout:g}s: packets are dropped"
    else:
        failure = Failure.of(FailureKind.CONNECT_TIMEOUT)
        detail = "could not connect: " + ", ".join(f"{a} ({o})" for a, o in bad)
    return done(Status.FAIL, detail, failure.fix), None
