"""The ``tls`` check: a TLS handshake with the API host (version >= 1.2, ALPN), over the same route the client uses.

`probe_tls` does the handshake once with the trust store the client would use. Only when that handshake fails on
certificate verification does it shake hands a second time without verification, on a connection that is closed
right after and carries nothing, to read the certificate the server presented: that is how the ``certificate`` check
can name the CA of a TLS-intercepting proxy. With ``--save-ca PATH`` (`Settings.save_ca`) a third connection reads
the whole chain the server presents and writes its CA part to PATH (`claudewire.doctor.chain`). Nothing else ever
connects without verification.
"""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass

from claudewire._errors import Failure, FailureKind, classify
from claudewire.doctor.chain import SavedChain, save_presented_chain
from claudewire.doctor.net import Handshake, Target, open_route, tls_handshake
from claudewire.doctor.result import CheckResult, JSONValue, Status
from claudewire.doctor.settings import Settings

__all__ = ["TlsProbe", "check_tls", "probe_tls"]

_OK_VERSIONS = ("TLSv1.2", "TLSv1.3")
ALPN = ["h2", "http/1.1"]


@dataclass(frozen=True, slots=True)
class TlsProbe:
    """What the handshakes saw: the verified one, or the verification error and the inspected (unverified) one.

    `saved` is what ``--save-ca`` wrote, when it was asked for and a handshake completed.
    """

    verified: Handshake | None = None
    verify_error: ssl.SSLCertVerificationError | None = None
    inspected: Handshake | None = None
    error: BaseException | None = None
    elapsed_ms: float = 0.0
    saved: SavedChain | None = None


def _inspect_context() -> ssl.SSLContext:
    # Only to read the presented certificate after verification already failed; the connection carries nothing.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(ALPN)
    return ctx


async def _handshake(settings: Settings, target: Target, address: str | None, ctx: ssl.SSLContext) -> Handshake:
    stream = await open_route(target, settings.proxy.url, address, settings.timeout)
    return await tls_handshake(stream, ctx, target.host.strip("[]"), settings.timeout)


async def probe_tls(
    settings: Settings, target: Target, address: str | None, context: ssl.SSLContext | None = None
) -> TlsProbe:
    """Shake hands with `target` (through the proxy, or at `address`) using the profile's trust store, or `context`
    (the ``--url`` checks verify against the public roots alone)."""
    start = time.monotonic()
    ctx = context if context is not None else settings.trust_context()
    ctx.set_alpn_protocols(ALPN)
    try:
        verified = await _handshake(settings, target, address, ctx)
    except ssl.SSLCertVerificationError as exc:
        verify_error = exc
    except (OSError, TimeoutError, ValueError) as exc:
        return TlsProbe(error=exc, elapsed_ms=(time.monotonic() - start) * 1000)
    else:
        elapsed_ms = (time.monotonic() - start) * 1000  # the handshake's, not the chain's second look
        return TlsProbe(verified=verified, elapsed_ms=elapsed_ms, saved=await _save(settings, target, address))
    try:
        inspected = await _handshake(settings, target, address, _inspect_context())
    except (OSError, TimeoutError, ValueError):
        inspected = None
    elapsed_ms = (time.monotonic() - start) * 1000
    saved = await _save(settings, target, address) if inspected is not None else None
    return TlsProbe(verify_error=verify_error, inspected=inspected, elapsed_ms=elapsed_ms, saved=saved)


async def _save(settings: Settings, target: Target, address: str | None) -> SavedChain | None:
    if settings.save_ca is None:
        return None
    return await save_presented_chain(settings, target, address, settings.save_ca)


def _error_detail(exc: BaseException, target: Target, timeout: float) -> tuple[str, str]:
    if isinstance(exc, TimeoutError):
        return (
            f"no TLS answer from {target.authority} within {timeout:g}s: something accepts the connection but "
            "does not speak TLS (a black hole or a filtering middlebox)",
            "Check ANTHROPIC_BASE_URL's port and scheme; a firewall or proxy may hold TLS to this host: "
            "try another network or ask for the API host to be allowed.",
        )
    failure = classify(exc) or Failure.of(FailureKind.UNKNOWN)
    if failure.kind is FailureKind.TLS_VERSION:
        return f"the TLS handshake failed on protocol version ({exc}): that port does not speak TLS", failure.fix
    if isinstance(exc, ssl.SSLError | ConnectionError) or failure.kind is FailureKind.CONNECTION_RESET:
        return (
            f"the connection was closed during the TLS handshake ({type(exc).__name__}: {exc})",
            "A firewall or proxy cuts TLS to this host: ask for it to be allowed, or set HTTPS_PROXY to your proxy.",
        )
    return f"the TLS handshake failed: {type(exc).__name__}: {exc}", failure.fix


def check_tls(probe: TlsProbe, target: Target, settings: Settings) -> CheckResult:
    """Pass on a TLS 1.2+ handshake (verified or not: trust is the certificate check's business)."""
    shake = probe.verified or probe.inspected
    evidence: dict[str, JSONValue] = {}
    if shake is None:
        if probe.error is None and probe.verify_error is not None:
            detail = "the handshake reached certificate verification, which failed (see certificate)"
            return CheckResult("tls", Status.PASS, detail, None, {"verify_error": str(probe.verify_error)})
        exc = probe.error or TimeoutError()
        detail, fix = _error_detail(exc, target, settings.timeout)
        evidence["error"] = f"{type(exc).__name__}: {exc}"
        return CheckResult("tls", Status.FAIL, detail, fix, evidence, probe.elapsed_ms)
    evidence.update({"version": shake.version, "cipher": shake.cipher, "alpn": shake.alpn})
    if shake.version not in _OK_VERSIONS:
        detail = f"negotiated {shake.version}: TLS 1.2 or newer is required"
        fix = "Something in the path speaks only old TLS: update the proxy or OpenSSL, or bypass the middlebox."
        return CheckResult("tls", Status.FAIL, detail, fix, evidence, probe.elapsed_ms)
    detail = f"{shake.version}, {shake.cipher}, ALPN {shake.alpn or 'none'} ({shake.elapsed_ms:.0f} ms)"
    return CheckResult("tls", Status.PASS, detail, None, evidence, probe.elapsed_ms)
