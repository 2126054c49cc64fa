"""The ``certificate`` check: trusted by the client's own trust store, not expired, issued for the host, and by whom.

A chain issued by an unexpected CA means something intercepts TLS (a corporate proxy, an antivirus): the check
names that CA and says which file to trust — ``SSL_CERT_FILE`` for Python, ``NODE_EXTRA_CA_CERTS`` for Claude Code.
It never suggests switching verification off.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import shlex
import ssl
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID

from claudewire.doctor.chain import SavedChain
from claudewire.doctor.net import Target
from claudewire.doctor.result import CheckResult, JSONValue, Status
from claudewire.doctor.settings import Profile, Settings
from claudewire.doctor.tls import TlsProbe

__all__ = ["CertInfo", "bundle_command", "check_certificate", "interception_fix", "system_bundle"]

_EXPIRING_DAYS = 14
# Public CAs that have issued or may issue api.anthropic.com's certificate; anything else there is an interceptor.
_PUBLIC_ISSUERS = (
    "Google Trust Services",
    "Let's Encrypt",
    "DigiCert",
    "Amazon",
    "Sectigo",
    "GlobalSign",
    "Cloudflare",
    "Entrust",
    "GoDaddy",
    "ISRG",
)
# OpenSSL verify codes (X509_V_ERR_*)
_EXPIRED, _NOT_YET_VALID = 10, 9
_NAME_MISMATCH = frozenset({62, 64})  # hostname, IP address


@dataclass(frozen=True, slots=True)
class CertInfo:
    """The facts of a leaf certificate the report shows."""

    subject: str
    issuer: str
    issuer_org: str | None
    not_after: dt.datetime
    names: tuple[str, ...]

    @classmethod
    def from_der(cls, der: bytes) -> CertInfo:
        """Parse a DER certificate."""
        cert = x509.load_der_x509_certificate(der)

        def attr(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
            values = name.get_attributes_for_oid(oid)
            return str(values[0].value) if values else None

        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            names = tuple(str(n) for n in san.get_values_for_type(x509.DNSName)) + tuple(
                str(ip) for ip in san.get_values_for_type(x509.IPAddress)
            )
        except x509.ExtensionNotFound:
            names = ()
        issuer_org = attr(cert.issuer, NameOID.ORGANIZATION_NAME)
        issuer_cn = attr(cert.issuer, NameOID.COMMON_NAME)
        return cls(
            subject=attr(cert.subject, NameOID.COMMON_NAME) or cert.subject.rfc4514_string(),
            issuer=issuer_cn or issuer_org or cert.issuer.rfc4514_string(),
            issuer_org=issuer_org,
            not_after=cert.not_valid_after_utc,
            names=names,
        )

    @property
    def issuer_label(self) -> str:
        """``'CN' (O=org)`` as the report names a CA."""
        org = f" (O={self.issuer_org})" if self.issuer_org and self.issuer_org != self.issuer else ""
        return f"'{self.issuer}'{org}"

    def valid_until(self) -> str:
        """The expiry date, ``YYYY-MM-DD``."""
        return f"{self.not_after:%Y-%m-%d}"

    def evidence(self) -> dict[str, JSONValue]:
        """JSON-ready facts."""
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "issuer_org": self.issuer_org,
            "not_after": self.not_after.isoformat(),
            "names": list(self.names),
        }


def system_bundle() -> str:
    """The system's CA bundle file, the base a working bundle is built on (a common default when unknown)."""
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile, "/etc/ssl/certs/ca-certificates.crt", "/etc/ssl/cert.pem"):
        if candidate and os.path.exists(candidate):
            return candidate
    return "/etc/ssl/certs/ca-certificates.crt"


def bundle_command(ca_path: str) -> tuple[str, str]:
    """The shell command that builds a working bundle (the system's CAs plus `ca_path`), and the bundle's path."""
    stem, _ = os.path.splitext(ca_path)
    bundle = f"{stem}-bundle.pem"
    return f"cat {shlex.quote(system_bundle())} {shlex.quote(ca_path)} > {shlex.quote(bundle)}", bundle


def _export(name: str, file: str) -> str:
    return (
        f"(from IT, or macOS: `security find-certificate -a -p -c NAME /Library/Keychains/System.keychain > {file}` "
        f"with NAME {name}; Windows: certmgr.msc > Trusted Root Certification Authorities > the CA > Export > "
        "Base-64 X.509)"
    )


def _saved_words(saved: SavedChain, issuer: str) -> str:
    """What ``--save-ca`` wrote and which certificate in it is the CA to trust, or what the user must add."""
    path = shlex.quote(saved.path)
    if not saved.written:
        missing = saved.missing_root or issuer
        return f"--save-ca wrote nothing ({saved.error}): save the {missing} root CA as {path} {_export(missing, path)}"
    count = f"{len(saved.written)} certificate{'s' if len(saved.written) > 1 else ''}"
    wrote = f"--save-ca wrote the chain the server presented to {path} ({count}: {', '.join(saved.written)})"
    if saved.anchor:
        return f"{wrote}; the CA to trust is {saved.anchor}, the root it sent (check with IT that it is theirs)"
    missing = saved.missing_root or issuer
    return (
        f"{wrote}, but not the root {missing} it chains to, which the server did not send: get it "
        f"{_export(missing, 'root.pem')} and add it with `cat root.pem >> {path}`"
    )


def interception_fix(issuer: str, profile: Profile, saved: SavedChain | None = None) -> str:
    """What to do when TLS is intercepted by the CA `issuer`: the commands that trust it, per client.

    Python's SDK replaces its bundle with ``SSL_CERT_FILE`` (so the file must hold the system's CAs too); Node and
    Claude Code ignore ``SSL_CERT_FILE`` and add ``NODE_EXTRA_CA_CERTS`` to their roots, or use the system store
    with ``NODE_USE_SYSTEM_CA=1``. With `saved` (``--save-ca``) the commands name the file it wrote.
    """
    if saved is not None:
        source = _saved_words(saved, issuer)
        command, bundle = bundle_command(saved.path)
        python = f"Python and the SDK: {command} && export SSL_CERT_FILE={shlex.quote(bundle)}"
        node_ca = shlex.quote(saved.path)
    else:
        source = (
            f"Save the {issuer} root CA as ca.pem (`claudewire doctor --save-ca ca.pem` writes the chain the "
            f"server presents) {_export(issuer, 'ca.pem')}"
        )
        python = (
            f"Python and the SDK: cat {system_bundle()} ca.pem > ~/.claudewire-ca-bundle.pem && export "
            "SSL_CERT_FILE=~/.claudewire-ca-bundle.pem"
        )
        node_ca = '"$PWD/ca.pem"'
    python += " (SSL_CERT_FILE replaces the default bundle, so it keeps the system's CAs too)"
    node = (
        f"Claude Code and Node: export NODE_EXTRA_CA_CERTS={node_ca} (added to Node's own roots; Node ignores "
        "SSL_CERT_FILE), or NODE_USE_SYSTEM_CA=1 once the CA is in the system store"
    )
    first, second = (node, python) if profile is Profile.CLAUDE_CODE else (python, node)
    return (
        f"Something intercepts TLS with its own CA {issuer}. If that is your organisation's proxy, trust that CA "
        f"(never switch verification off). {source}. {first}. {second}. Or ask IT to exempt the API host from TLS "
        "inspection."
    )


def _saved_evidence(saved: SavedChain) -> dict[str, JSONValue]:
    # the command the fix prints, also when the root still has to be exported into the file first
    command, bundle = bundle_command(saved.path)
    return {**saved.evidence(), "bundle_command": command, "bundle": bundle}


def _days_left(info: CertInfo) -> float:
    return (info.not_after - dt.datetime.now(dt.UTC)).total_seconds() / 86400


def _verified(probe: TlsProbe, target: Target, settings: Settings) -> CheckResult:
    assert probe.verified is not None
    der = probe.verified.peer_der
    evidence: dict[str, JSONValue] = {"trusted": True, "trust_store": settings.trust_source()}
    if der is None:
        return CheckResult("certificate", Status.PASS, "trusted", None, evidence, probe.elapsed_ms)
    info = CertInfo.from_der(der)
    evidence.update(info.evidence())
    days = _days_left(info)
    detail = f"trusted ({settings.trust_source()}): issued by {info.issuer_label}, valid until {info.valid_until()}"
    if days < _EXPIRING_DAYS:
        fix = "Renew the server certificate soon (if it is your gateway's) or check the system clock."
        return CheckResult("certificate", Status.WARN, detail + " (expires soon)", fix, evidence, probe.elapsed_ms)
    public = any(p.lower() in f"{info.issuer} {info.issuer_org or ''}".lower() for p in _PUBLIC_ISSUERS)
    if target.host.endswith("anthropic.com") and not public:
        detail = (
            f"trusted, but issued by {info.issuer_label} rather than a public CA: TLS to {target.host} is inspected "
            f"by a middlebox that {settings.trust_source()} trusts"
        )
        fix = "Inspection can buffer or cut streams: ask IT to exempt the API host from TLS inspection."
        return CheckResult("certificate", Status.WARN, detail, fix, evidence, probe.elapsed_ms)
    return CheckResult("certificate", Status.PASS, detail, None, evidence, probe.elapsed_ms)


def check_certificate(probe: TlsProbe, target: Target, settings: Settings) -> CheckResult:
    """Judge the certificate from the TLS probe; the verify error says why it is not trusted.

    With ``--save-ca`` the evidence says what was written (``saved_ca``: the file, its certificates, the CA to
    trust, the command that builds a bundle), and a trusted chain's detail names the file.
    """
    result = _verified(probe, target, settings) if probe.verified is not None else _untrusted(probe, target, settings)
    if probe.saved is None:
        return result
    detail = result.detail
    if probe.verified is not None:
        saved = probe.saved
        detail += f"; chain saved to {saved.path}" if saved.written else f"; --save-ca wrote nothing: {saved.error}"
    evidence = {**result.evidence, "saved_ca": _saved_evidence(probe.saved)}
    return dataclasses.replace(result, detail=detail, evidence=evidence)


def _untrusted(probe: TlsProbe, target: Target, settings: Settings) -> CheckResult:
    error = probe.verify_error
    assert error is not None  # the runner skips this check when the handshake itself failed
    evidence: dict[str, JSONValue] = {
        "trusted": False,
        "trust_store": settings.trust_source(),
        "verify_code": error.verify_code,
        "verify_message": error.verify_message,
    }
    info = CertInfo.from_der(probe.inspected.peer_der) if probe.inspected and probe.inspected.peer_der else None
    if info is not None:
        evidence.update(info.evidence())
    why = error.verify_message or str(error)
    if error.verify_code == _EXPIRED:
        when = f" on {info.not_after:%Y-%m-%d}" if info else ""
        detail = f"the certificate of {target.host} expired{when} ({why})"
        fix = (
            "If the date looks right, the server (your gateway?) must renew its certificate; if your clock is off, "
            "fix the clock (see the clock check)."
        )
    elif error.verify_code == _NOT_YET_VALID:
        detail = f"the certificate of {target.host} is not valid yet ({why}): the system clock is probably behind"
        fix = "Set the system clock right (enable automatic time / NTP)."
    elif error.verify_code in _NAME_MISMATCH:
        names = ", ".join(info.names) if info else "other names"
        detail = f"the certificate is for {names}, not {target.host} ({why})"
        fix = (
            "ANTHROPIC_BASE_URL names a host that does not serve its own certificate: check the host name, or a "
            "proxy answers in its place."
        )
    else:
        issuer = info.issuer_label if info else "an unknown CA"
        detail = (
            f"not trusted ({why}): the certificate for {target.host} is issued by {issuer}, which is not in the "
            f"trust store in use ({settings.trust_source()}): something intercepts TLS"
        )
        fix = interception_fix(issuer, settings.profile, probe.saved)
    return CheckResult("certificate", Status.FAIL, detail, fix, evidence, probe.elapsed_ms)
