"""``--profile claude-code``: would Claude Code's gateway sign-in ("Cloud gateway" in ``/login``) work with this URL?

Claude Code (2.1.195 and later; what follows is what 2.1.332 does) signs in to a gateway only when:

- ``signin_https``: the URL is https:// (plain http only on loopback, for tests);
- ``signin_dns``: every address the host resolves to is private (`claudewire.doctor.scope.claude_code_private`):
  a trusted gateway can push settings that run commands, so a public one is refused;
- ``signin_certificate``: the chain verifies against Claude Code's trust store (Node's roots plus
  ``NODE_EXTRA_CA_CERTS``), and the person accepts the certificate's SHA-256 fingerprint, which Claude Code then
  pins. It shows it as ``Certificate fingerprint (SHA-256):`` followed by 64 lower-case hex digits without colons
  (Node's ``fingerprint256`` with the colons dropped); the check prints it the same way, to compare with what the
  administrator publishes;
- ``signin_metadata``: ``GET {url}/.well-known/oauth-authorization-server`` (no redirect followed) answers RFC 8414
  metadata naming a ``device_authorization_endpoint``: that is what makes a gateway offer the sign-in.

No credential is sent: the metadata is public.
"""

from __future__ import annotations

import hashlib
import json
import ssl
import urllib.parse
from dataclasses import dataclass
from typing import Any

from claudewire._errors import Failure, FailureKind, classify
from claudewire._net import is_loopback
from claudewire._secrets import redact_url
from claudewire.doctor.certificate import CertInfo
from claudewire.doctor.reproduce import fingerprint_command
from claudewire.doctor.result import CheckResult, JSONValue, Status
from claudewire.doctor.scope import claude_code_private, scope_of
from claudewire.doctor.settings import Settings
from claudewire.doctor.tls import TlsProbe
from claudewire.doctor.urlprobe import Answer, Lookup, UrlTarget, get

__all__ = [
    "METADATA_PATH",
    "SignInMetadata",
    "advertises",
    "check_signin_certificate",
    "check_signin_dns",
    "check_signin_https",
    "check_signin_metadata",
    "fingerprint",
    "not_offered",
    "probe_metadata",
    "read_metadata",
]

METADATA_PATH = "/.well-known/oauth-authorization-server"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
_ENABLE = (
    "Turn the gateway's sign-in on (claudewire: a [signin] section with public_url, oidc_issuer, oidc_client_id and "
    "[[groups]]): Claude Code offers the Cloud gateway sign-in only when this metadata names a "
    "device_authorization_endpoint."
)
# OpenSSL verify codes (X509_V_ERR_*)
_NOT_YET_VALID, _EXPIRED = 9, 10
_NAME_MISMATCH = frozenset({62, 64})


def fingerprint(der: bytes) -> str:
    """The certificate's SHA-256 fingerprint as Claude Code shows it: 64 lower-case hex digits, no colons."""
    return hashlib.sha256(der).hexdigest()


async def probe_metadata(settings: Settings, url: UrlTarget) -> Answer:
    """``GET {url}/.well-known/oauth-authorization-server`` as Claude Code asks it (no credential, no redirect)."""
    return await get(settings, url.at(METADATA_PATH), {"accept": "application/json", "user-agent": "claudewire-doctor"})


@dataclass(frozen=True, slots=True)
class SignInMetadata:
    """The parts of RFC 8414 metadata Claude Code's sign-in reads."""

    issuer: str | None
    device_authorization_endpoint: str | None
    token_endpoint: str | None
    grant_types: tuple[str, ...] | None  # None: not listed (RFC 8414's default is the code and implicit grants)


def read_metadata(answer: Answer) -> SignInMetadata | None:
    """The metadata in a 200 JSON object answer; None for anything else."""
    if answer.status != 200:
        return None
    try:
        doc: Any = json.loads(answer.body)
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None

    def text(name: str) -> str | None:
        value = doc.get(name)
        return value if isinstance(value, str) and value else None

    grants = doc.get("grant_types_supported")
    listed = tuple(str(g) for g in grants) if isinstance(grants, list) else None
    return SignInMetadata(text("issuer"), text("device_authorization_endpoint"), text("token_endpoint"), listed)


def advertises(answer: Answer) -> bool:
    """Whether the answer is sign-in metadata with a device authorization endpoint (the gateway offers sign-in)."""
    metadata = read_metadata(answer)
    return metadata is not None and metadata.device_authorization_endpoint is not None


def check_signin_https(url: UrlTarget) -> CheckResult:
    """Pass on https://, and on plain http:// to a loopback host (which Claude Code allows for tests)."""
    evidence: dict[str, JSONValue] = {"scheme": url.target.scheme, "port": url.target.port}
    if url.target.tls:
        return CheckResult("signin_https", Status.PASS, f"https:// on port {url.target.port}", None, evidence)
    if is_loopback(url.target.host):
        detail = "plain http:// on loopback: Claude Code allows it (for tests); there is no certificate to pin"
        return CheckResult("signin_https", Status.PASS, detail, None, evidence)
    detail = (
        f"plain http:// to {url.target.host}: Claude Code signs in only over https:// (plain http on loopback only)"
    )
    fix = (
        "Serve TLS on the gateway (`claudewire proxy --tls-cert FILE --tls-key FILE`, or a TLS-terminating load "
        "balancer on the private network) and give Claude Code the https:// URL."
    )
    return CheckResult("signin_https", Status.FAIL, detail, fix, evidence)


def check_signin_dns(look: Lookup) -> CheckResult:
    """Pass when every address of the host is private as Claude Code judges it; fail naming any public one."""
    evidence: dict[str, JSONValue] = {
        "host": look.host,
        "addresses": [{"address": a, "private": claude_code_private(a)} for a in look.addresses],
    }
    if look.error is not None or not look.addresses:
        evidence["error"] = look.error
        detail = f"{look.host} does not resolve here ({look.error or 'no address'}): Claude Code cannot reach it"
        fix = (
            "Claude Code resolves the gateway from this machine: give it a name your internal DNS resolves to its "
            "private address (connect to the VPN first if that is how the gateway is reached)."
        )
        return CheckResult("signin_dns", Status.FAIL, detail, fix, evidence, look.elapsed_ms)
    public = [a for a in look.addresses if not claude_code_private(a)]
    shown = ", ".join(look.addresses[:4]) + (f" (+{len(look.addresses) - 4})" if len(look.addresses) > 4 else "")
    seen = look.host if look.literal else f"{look.host} → {shown}"
    if public:
        what = ", ".join(f"{a} ({scope_of(a).words})" for a in public)
        detail = (
            f"{seen}: {what} is not private. Claude Code signs in only to a gateway whose addresses are all "
            "private (RFC 1918, loopback, link-local, 100.64.0.0/10, IPv6 ULA): a trusted gateway can push "
            "settings that run commands"
        )
        fix = (
            "Put the gateway on the private network: behind an internal load balancer or a VPN, with a hostname "
            "that resolves to private addresses only. An organisation that numbers its internal network from a "
            "public block lists that block in the managed setting gatewayInternalNetworks."
        )
        return CheckResult("signin_dns", Status.FAIL, detail, fix, evidence, look.elapsed_ms)
    detail = f"{seen}: private, as Claude Code requires for a gateway sign-in"
    return CheckResult("signin_dns", Status.PASS, detail, None, evidence, look.elapsed_ms)


def _untrusted_fix(error: ssl.SSLCertVerificationError | None, info: CertInfo | None, host: str) -> str:
    code = error.verify_code if error is not None else None
    if code == _EXPIRED:
        return "Renew the gateway's certificate (and tell people: its fingerprint changes, Claude Code asks again)."
    if code == _NOT_YET_VALID:
        return "Check the gateway's certificate dates and this machine's clock."
    if code in _NAME_MISMATCH:
        names = ", ".join(info.names) if info and info.names else "other names"
        return f"Serve a certificate whose names include {host} (this one is for {names})."
    return (
        "Give Claude Code the CA that issued the gateway's certificate: export NODE_EXTRA_CA_CERTS=/path/to/ca.pem "
        "(or NODE_USE_SYSTEM_CA=1 once the CA is in the system store). Claude Code verifies the chain, then pins "
        "the fingerprint; never switch verification off."
    )


def check_signin_certificate(probe: TlsProbe, url: UrlTarget, settings: Settings) -> CheckResult:
    """The certificate's SHA-256 fingerprint as Claude Code shows it, and whether its trust store verifies the chain.

    Pass when it does (warn when a proxy is in the way: Claude Code does not pin through one); fail when it does not,
    still printing the fingerprint.
    """
    host = url.target.host
    evidence: dict[str, JSONValue] = {"trust_store": settings.trust_source()}
    shake = probe.verified or probe.inspected
    if shake is None or not shake.peer_der:
        exc = probe.error or TimeoutError()
        evidence["error"] = f"{type(exc).__name__}: {exc}"
        detail = f"no TLS handshake with {url.target.authority}: {type(exc).__name__}: {exc or 'timed out'}"
        fix = f"Serve TLS on {url.target.authority} (or check the URL's port)."
        return CheckResult("signin_certificate", Status.FAIL, detail, fix, evidence, probe.elapsed_ms)
    info = CertInfo.from_der(shake.peer_der)
    sha256 = fingerprint(shake.peer_der)
    evidence.update(info.evidence())
    evidence.update({"fingerprint_sha256": sha256, "fingerprint_command": fingerprint_command(settings)})
    shown = f"Certificate fingerprint (SHA-256): {sha256}"
    if probe.verified is None:
        error = probe.verify_error
        why = (error.verify_message or str(error)) if error else "not verified"
        evidence.update({"trusted": False, "verify_message": why})
        detail = (
            f"Claude Code's trust store ({settings.trust_source()}) does not trust the certificate of {host} ({why}; "
            f"issued by {info.issuer_label}): the sign-in stops before the fingerprint prompt. {shown}"
        )
        fix = _untrusted_fix(error, info, host)
        return CheckResult("signin_certificate", Status.FAIL, detail, fix, evidence, probe.elapsed_ms)
    evidence["trusted"] = True
    detail = (
        f'Claude Code asks "Trust gateway {host}?" with {shown} — compare it with the one your administrator '
        f"publishes (issued by {info.issuer_label}, valid until {info.valid_until()})"
    )
    if settings.url_proxy.url:
        evidence["proxy"] = redact_url(settings.url_proxy.url)
        detail += f"; reached through the proxy {redact_url(settings.url_proxy.url)}, where Claude Code pins nothing"
        fix = f"List {host} in NO_PROXY so Claude Code connects to the gateway directly and pins its certificate."
        return CheckResult("signin_certificate", Status.WARN, detail, fix, evidence, probe.elapsed_ms)
    return CheckResult("signin_certificate", Status.PASS, detail, None, evidence, probe.elapsed_ms)


def _origin(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme.lower()}://{(parts.netloc or '').lower()}"


def _no_answer(answer: Answer, host: str, evidence: dict[str, JSONValue]) -> CheckResult:
    exc, cause = answer.failure()
    evidence["error"] = f"{type(exc).__name__}: {exc or 'no message'}"
    if cause is not None:
        detail = f"Claude Code's trust store does not trust {answer.url} ({cause}): it cannot read the metadata"
        fix = _untrusted_fix(cause, None, host)
        return CheckResult("signin_metadata", Status.FAIL, detail, fix, evidence, answer.elapsed_ms)
    failure = classify(exc) or Failure.of(FailureKind.UNKNOWN)
    detail = f"no answer from {answer.url}: {type(exc).__name__}: {exc or 'no answer in time'}"
    return CheckResult("signin_metadata", Status.FAIL, detail, failure.fix, evidence, answer.elapsed_ms)


def check_signin_metadata(answer: Answer, url: UrlTarget) -> CheckResult:
    """Pass when the metadata names a device authorization endpoint (the gateway offers sign-in); warn on
    endpoints or an issuer of another origin than the URL Claude Code is given; fail when sign-in is not offered."""
    evidence: dict[str, JSONValue] = {"url": redact_url(answer.url), "status": answer.status}
    if answer.status is None:
        return _no_answer(answer, url.target.host, evidence)
    ms = answer.elapsed_ms
    if 300 <= answer.status < 400:
        where = answer.headers.get("location", "?")
        detail = f"{answer.status} redirect to {where}: Claude Code follows no redirect for the sign-in metadata"
        fix = "Give Claude Code the gateway's own URL (the one its metadata is served at), not one that redirects."
        return CheckResult("signin_metadata", Status.FAIL, detail, fix, evidence, ms)
    metadata = read_metadata(answer)
    if metadata is None or metadata.device_authorization_endpoint is None:
        what = "JSON metadata without a device_authorization_endpoint" if metadata else f"{answer.status}"
        detail = f"the gateway does not offer sign-in: {METADATA_PATH} answered {what}"
        return CheckResult("signin_metadata", Status.FAIL, detail, _ENABLE, evidence, ms)
    evidence.update(
        {
            "issuer": metadata.issuer,
            "device_authorization_endpoint": metadata.device_authorization_endpoint,
            "token_endpoint": metadata.token_endpoint,
            "grant_types_supported": list(metadata.grant_types) if metadata.grant_types is not None else None,
        }
    )
    if metadata.grant_types is not None and DEVICE_GRANT not in metadata.grant_types:
        detail = f"the metadata lists grant types {', '.join(metadata.grant_types)} without the device code grant"
        return CheckResult("signin_metadata", Status.FAIL, detail, _ENABLE, evidence, ms)
    mine = _origin(url.url)
    elsewhere = [
        f"{name} {value}"
        for name, value in (
            ("issuer", metadata.issuer),
            ("device_authorization_endpoint", metadata.device_authorization_endpoint),
            ("token_endpoint", metadata.token_endpoint),
        )
        if value is not None and _origin(value) != mine
    ]
    offered = f"sign-in offered: device authorization at {metadata.device_authorization_endpoint}"
    if elsewhere:
        detail = (
            f"{offered}, but {'; '.join(elsewhere)} not on {mine}, the origin Claude Code is given: it uses only "
            "same-origin endpoints"
        )
        fix = f"Set the gateway's public URL to exactly {mine} (claudewire: [signin] public_url)."
        return CheckResult("signin_metadata", Status.WARN, detail, fix, evidence, ms)
    token = f", token at {metadata.token_endpoint}" if metadata.token_endpoint else ""
    return CheckResult("signin_metadata", Status.PASS, offered + token, None, evidence, ms)


def not_offered(answer: Answer, source: str | None) -> CheckResult:
    """``signin_metadata`` skipped for a base URL whose gateway does not offer sign-in (it is used with a token)."""
    said = f"answered {answer.status}" if answer.status is not None else f"did not answer ({answer.error})"
    detail = (
        f"the gateway at the base URL ({source}) does not offer sign-in ({METADATA_PATH} {said}): Claude Code uses it "
        "with a key or token; to check a gateway you mean to sign in to, pass its URL with --url"
    )
    return CheckResult("signin_metadata", Status.SKIP, detail, None, {"url": redact_url(answer.url)}, answer.elapsed_ms)
