"""``--profile cursor --url URL``: can Cursor's servers, on the internet, reach the base URL Cursor is given?

Cursor sends the requests that use a custom base URL from its own servers, not from this machine
(`claudewire.doctor.cursor`), and publishes no egress ranges to allowlist. So the URL is checked from outside in:

- ``reach_dns``: every address the host resolves to is public (`claudewire.doctor.scope`); a private, loopback,
  link-local or carrier-grade NAT answer is one Cursor's servers cannot reach;
- ``reach_https``: the URL is https:// (the token crosses the internet);
- ``reach_certificate``: the chain the host presents verifies against the public roots alone (certifi's copy of
  Mozilla's CA bundle), never against ``SSL_CERT_FILE`` or a corporate CA this machine happens to trust;
- ``reach_models``: ``GET {url}/models`` with the token as ``Authorization: Bearer`` answers an OpenAI model list.

The token is sent only over https:// and never printed (redacted to its last four characters).
"""

from __future__ import annotations

import dataclasses
import json
import ssl
from typing import Any

import certifi
import httpx2

from claudewire._errors import Failure, FailureKind, classify
from claudewire._secrets import redact, redact_url
from claudewire.doctor.certificate import CertInfo
from claudewire.doctor.result import CheckResult, JSONValue, Status
from claudewire.doctor.scope import Scope, scope_of
from claudewire.doctor.settings import Settings
from claudewire.doctor.tls import TlsProbe, probe_tls
from claudewire.doctor.urlprobe import Answer, Lookup, UrlTarget, get

__all__ = [
    "check_reach_certificate",
    "check_reach_dns",
    "check_reach_https",
    "check_reach_models",
    "probe_models",
    "probe_public_tls",
    "public_context",
]

_TUNNEL = "a tunnel that gives it a public HTTPS hostname (e.g. Cloudflare Tunnel, ngrok or Tailscale Funnel)"
_PUBLIC_CERT_FIX = (
    "Serve a publicly trusted certificate, e.g. from Let's Encrypt, or use a tunnel that provides one: Cursor's "
    "servers trust only public CAs, so a private CA or a self-signed certificate cannot be made to work."
)
_ROUTE_FIX = (
    "Cursor's base URL is the gateway's OpenAI-compatible root: with claudewire, https://HOST/cursor (its /models "
    "lists the models Cursor may use)."
)
# OpenSSL verify codes (X509_V_ERR_*)
_NOT_YET_VALID, _EXPIRED = 9, 10
_SELF_SIGNED = frozenset({18, 19})
_NO_ISSUER = frozenset({20, 21})
_NAME_MISMATCH = frozenset({62, 64})
_PUBLIC_ISSUERS = ("Let's Encrypt", "ISRG", "Google Trust Services", "DigiCert", "Sectigo", "GlobalSign", "Amazon")


def public_context() -> ssl.SSLContext:
    """A verifying client context with the public roots only (certifi's bundle), whatever this machine trusts."""
    return ssl.create_default_context(cafile=certifi.where())


async def probe_public_tls(settings: Settings, url: UrlTarget, address: str | None) -> TlsProbe:
    """The TLS handshake with `url`'s host verified against the public roots (on the route to ``--url``)."""
    route = dataclasses.replace(settings, proxy=settings.url_proxy, save_ca=None)
    return await probe_tls(route, url.target, address, public_context())


async def probe_models(settings: Settings, url: UrlTarget) -> Answer:
    """``GET {url}/models`` with the token as ``Authorization: Bearer`` (none when there is no token)."""
    headers = {"accept": "application/json", "user-agent": "claudewire-doctor"}
    if settings.token:
        headers["authorization"] = f"Bearer {settings.token.strip()}"
    return await get(settings, url.at("/models"), headers)


def _addresses(look: Lookup) -> list[JSONValue]:
    return [{"address": a, "scope": scope_of(a).value} for a in look.addresses]


def check_reach_dns(look: Lookup) -> CheckResult:
    """Pass when every address of the host is public; fail naming each address Cursor's servers cannot reach."""
    evidence: dict[str, JSONValue] = {"host": look.host, "addresses": _addresses(look)}
    if look.error is not None or not look.addresses:
        evidence["error"] = look.error
        detail = f"{look.host} does not resolve here ({look.error or 'no address'}): Cursor's servers cannot find it"
        fix = f"Give the gateway a public DNS name (an A or AAAA record of its public address), or use {_TUNNEL}."
        return CheckResult("reach_dns", Status.FAIL, detail, fix, evidence, look.elapsed_ms)
    private = [(a, scope_of(a)) for a in look.addresses if scope_of(a) is not Scope.PUBLIC]
    shown = ", ".join(look.addresses[:4]) + (f" (+{len(look.addresses) - 4})" if len(look.addresses) > 4 else "")
    if private:
        what = "; ".join(f"{a} is {scope.words}" for a, scope in private)
        seen = what if look.literal else f"{look.host} → {shown}: {what}"
        detail = f"{seen}. Cursor's servers call this URL from the internet and cannot reach it there"
        fix = (
            "Serve the gateway on a public hostname (a public address, its port open to the internet: Cursor "
            f"publishes no egress ranges to allowlist), or use {_TUNNEL}."
        )
        return CheckResult("reach_dns", Status.FAIL, detail, fix, evidence, look.elapsed_ms)
    how = "an IP address" if look.literal else f"resolves to {shown}"
    detail = f"{look.host} {how}: public, reachable from Cursor's servers as far as addresses go"
    return CheckResult("reach_dns", Status.PASS, detail, None, evidence, look.elapsed_ms)


def check_reach_https(url: UrlTarget) -> CheckResult:
    """Pass on https://; plain http:// fails (the token would cross the internet in clear)."""
    evidence: dict[str, JSONValue] = {"scheme": url.target.scheme, "port": url.target.port}
    if url.target.tls:
        return CheckResult("reach_https", Status.PASS, f"https:// on port {url.target.port}", None, evidence)
    detail = "plain http://: Cursor's servers would send the token, and every prompt, over the internet in clear"
    fix = (
        "Serve HTTPS with a publicly trusted certificate: `claudewire proxy --tls-cert FILE --tls-key FILE`, a "
        f"TLS-terminating load balancer, or {_TUNNEL}; then give Cursor the https:// URL."
    )
    return CheckResult("reach_https", Status.FAIL, detail, fix, evidence)


def _untrusted_words(error: ssl.SSLCertVerificationError, info: CertInfo | None, host: str) -> tuple[str, str]:
    """(what is wrong, the fix) for a chain the public roots do not verify."""
    why = error.verify_message or str(error)
    if error.verify_code == _EXPIRED:
        when = f" on {info.valid_until()}" if info else ""
        return f"the certificate expired{when} ({why})", "Renew the certificate (an ACME client renews automatically)."
    if error.verify_code == _NOT_YET_VALID:
        return f"the certificate is not valid yet ({why})", "Check the server's certificate dates and its clock."
    if error.verify_code in _NAME_MISMATCH:
        names = ", ".join(info.names) if info and info.names else "other names"
        return f"the certificate is for {names}, not {host} ({why})", f"Serve a certificate whose names include {host}."
    issuer = info.issuer_label if info else "an unknown CA"
    if error.verify_code in _SELF_SIGNED:
        return f"the certificate is self-signed or its root is private ({why}; issued by {issuer})", _PUBLIC_CERT_FIX
    public = info is not None and any(p.lower() in info.issuer_label.lower() for p in _PUBLIC_ISSUERS)
    if error.verify_code in _NO_ISSUER and public:
        detail = f"issued by {issuer}, but the server does not send the intermediate certificate ({why})"
        return detail, "Serve the full chain (the leaf and its intermediates: fullchain.pem, not cert.pem)."
    return f"issued by {issuer}, a CA outside the public roots ({why})", _PUBLIC_CERT_FIX


def check_reach_certificate(probe: TlsProbe, url: UrlTarget) -> CheckResult:
    """Pass when the public roots alone verify the chain (and the name); fail saying why not, never suggesting to
    switch verification off."""
    host = url.target.host
    evidence: dict[str, JSONValue] = {"trust_store": "public roots only (certifi's copy of Mozilla's CA bundle)"}
    shake = probe.verified or probe.inspected
    info = CertInfo.from_der(shake.peer_der) if shake is not None and shake.peer_der else None
    if info is not None:
        evidence.update(info.evidence())
    if probe.verified is not None:
        evidence["trusted"] = True
        seen = f": issued by {info.issuer_label}, valid until {info.valid_until()}" if info else ""
        detail = f"publicly trusted{seen}"
        return CheckResult("reach_certificate", Status.PASS, detail, None, evidence, probe.elapsed_ms)
    if probe.verify_error is None:
        exc = probe.error or TimeoutError()
        evidence["error"] = f"{type(exc).__name__}: {exc}"
        detail = f"no TLS handshake with {url.target.authority}: {type(exc).__name__}: {exc or 'timed out'}"
        fix = f"Serve HTTPS on {url.target.authority} (or check the URL's port): Cursor's servers connect there."
        return CheckResult("reach_certificate", Status.FAIL, detail, fix, evidence, probe.elapsed_ms)
    error = probe.verify_error
    evidence.update({"trusted": False, "verify_code": error.verify_code, "verify_message": error.verify_message})
    what, fix = _untrusted_words(error, info, host)
    detail = f"not publicly trusted: {what}; Cursor's servers will refuse it"
    return CheckResult("reach_certificate", Status.FAIL, detail, fix, evidence, probe.elapsed_ms)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def _said(body: bytes) -> str:
    """The message of an OpenAI or Anthropic error body, else the start of the body."""
    parsed = _json(body)
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])[:200]
    return " ".join(body[:200].decode("utf-8", "replace").split()) or "an empty body"


def _model_ids(body: bytes) -> list[str] | None:
    """The ids of an OpenAI model list (``{"object": "list", "data": [{"id": ...}, ...]}``), None if it is not one."""
    parsed = _json(body)
    data = parsed.get("data") if isinstance(parsed, dict) else None
    if not isinstance(data, list) or not all(isinstance(m, dict) and isinstance(m.get("id"), str) for m in data):
        return None
    return [str(m["id"]) for m in data]


def _unanswered(answer: Answer, evidence: dict[str, JSONValue]) -> CheckResult:
    exc, cause = answer.failure()
    evidence["error"] = f"{type(exc).__name__}: {exc or 'no message'}"
    if cause is not None:
        detail = f"this machine does not trust the certificate of {answer.url} either ({cause}): the token was not sent"
        fix = (
            "Trust the gateway's CA here (SSL_CERT_FILE) to check the token from here; Cursor itself needs a "
            "publicly trusted certificate (see reach_certificate)."
        )
        return CheckResult("reach_models", Status.FAIL, detail, fix, evidence, answer.elapsed_ms)
    failure = classify(exc) or Failure.of(FailureKind.UNKNOWN)
    if isinstance(exc, httpx2.TimeoutException | TimeoutError):
        detail = f"no answer from {answer.url} in time"
    else:
        detail = f"no answer from {answer.url}: {type(exc).__name__}: {exc or 'the connection closed'}"
    return CheckResult("reach_models", Status.FAIL, detail, failure.fix, evidence, answer.elapsed_ms)


def check_reach_models(answer: Answer, settings: Settings) -> CheckResult:
    """Pass when ``GET {url}/models`` with the token answers an OpenAI model list; fail naming what answered."""
    evidence: dict[str, JSONValue] = {
        "url": redact_url(answer.url),
        "token": redact(settings.token) if settings.token else None,
        "token_source": settings.token_source,
    }
    if answer.status is None:
        return _unanswered(answer, evidence)
    status = answer.status
    evidence["status"] = status
    token = f"the token {redact(settings.token)} ({settings.token_source})" if settings.token else "no token"
    ms = answer.elapsed_ms
    if 300 <= status < 400:
        detail = f"{status} redirect to {answer.headers.get('location', '?')}: Cursor calls the URL as given"
        return CheckResult("reach_models", Status.FAIL, detail, "Give Cursor the final https:// URL.", evidence, ms)
    if status in (401, 403):
        detail = f"{status} with {token}: {_said(answer.body)}"
        if settings.token:
            fix = (
                "Give Cursor (Settings → Models → OpenAI API Key) a token this gateway accepts, e.g. a [[clients]] "
                "token of claudewire's gateway, and check it here with --token or CLAUDEWIRE_TOKEN."
            )
        else:
            fix = "Pass the token Cursor uses with --token (or CLAUDEWIRE_TOKEN) to check it."
        return CheckResult("reach_models", Status.FAIL, detail, fix, evidence, ms)
    if status == 404:
        detail = f"404 at {answer.url}: no models route there"
        return CheckResult("reach_models", Status.FAIL, detail, _ROUTE_FIX, evidence, ms)
    ids = _model_ids(answer.body) if status == 200 else None
    if ids is None:
        kind = answer.headers.get("content-type", "no content type").split(";")[0]
        detail = f"{status} {kind} is not an OpenAI model list: {_said(answer.body)}"
        return CheckResult("reach_models", Status.FAIL, detail, _ROUTE_FIX, evidence, ms)
    evidence["models"] = list(ids[:50])
    if not ids:
        detail = f"the model list answered with {token} is empty: Cursor would have no model to call"
        fix = "List models on the gateway for this token (claudewire: [openai] models, and the client's models)."
        return CheckResult("reach_models", Status.FAIL, detail, fix, evidence, ms)
    shown = ", ".join(ids[:5]) + (f" (+{len(ids) - 5})" if len(ids) > 5 else "")
    detail = f"{len(ids)} model{'s' if len(ids) > 1 else ''} listed with {token}: {shown}"
    return CheckResult("reach_models", Status.PASS, detail, None, evidence, ms)
