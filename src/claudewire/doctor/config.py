"""The ``config`` check: the key is there and well-formed, the base URL is sane, and which versions are installed.

No network: it only reads `Settings`. A failure here that makes the target unusable (no URL to connect to) stops
every later check; a missing or malformed key stops only the checks that need the key.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import ssl
import urllib.parse
from dataclasses import dataclass

from claudewire._net import is_loopback
from claudewire._secrets import redact
from claudewire.doctor.result import CheckResult, JSONValue, Status
from claudewire.doctor.settings import Profile, Settings, redact_url

__all__ = ["ConfigOutcome", "check_config"]

_QUOTES = "\"'`“”‘’"


@dataclass(frozen=True, slots=True)
class ConfigOutcome:
    """The config result plus what later checks need to know: is the target usable, is the key usable."""

    result: CheckResult
    target_ok: bool
    key_ok: bool


def _versions() -> dict[str, JSONValue]:
    found: dict[str, JSONValue] = {"python": platform.python_version(), "openssl": ssl.OPENSSL_VERSION}
    for dist in ("claudewire", "anthropic", "httpx2"):
        try:
            found[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            found[dist] = None
    return found


def _key_problems(key: str, anthropic_host: bool) -> tuple[list[str], list[str]]:
    """(errors, warnings) about the key's form."""
    errors: list[str] = []
    warnings: list[str] = []
    if key != key.strip():
        errors.append("the key has leading or trailing whitespace (a stray newline or space)")
    inner = key.strip()
    if inner[:1] in _QUOTES or inner[-1:] in _QUOTES:
        errors.append("the key is wrapped in quotes (they became part of its value)")
    elif any(ch.isspace() for ch in inner):
        errors.append("the key contains whitespace")
    elif not inner.isascii():
        errors.append("the key contains non-ASCII characters (a pasted look-alike character?)")
    elif anthropic_host and not inner.startswith("sk-ant-"):
        warnings.append("the key does not look like an Anthropic key (sk-ant-...)")
    return errors, warnings


def _url_problems(url: str) -> tuple[list[str], list[str], bool]:
    """(errors, warnings, usable) about the base URL."""
    errors: list[str] = []
    warnings: list[str] = []
    if url != url.strip() or any(ch.isspace() for ch in url.strip()):
        errors.append("the base URL contains whitespace")
    try:
        parts = urllib.parse.urlsplit(url.strip())
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError as exc:
        return [f"the base URL is not a URL: {exc}"], warnings, False
    if parts.scheme not in ("http", "https"):
        return [f"the base URL must start with https:// (got {url!r})"], warnings, False
    if not parts.hostname:
        return [f"the base URL has no host: {url!r}"], warnings, False
    path = parts.path.rstrip("/")
    if path.endswith("/v1") or "/v1/" in path + "/":
        warnings.append(f"the base URL ends in {path!r}: the SDK adds /v1/... itself, so requests go to {path}/v1/...")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        warnings.append("the base URL is plain http:// to a remote host: the key crosses the network unencrypted")
    return errors, warnings, True


def check_config(settings: Settings) -> ConfigOutcome:
    """Key present and well-formed, base URL sane, trust files readable; records installed versions."""
    evidence: dict[str, JSONValue] = {
        "base_url": redact_url(settings.base_url),
        "api_key": redact(settings.api_key),
        "key_source": settings.key_source,
        "model": settings.model,
        "profile": settings.profile.value,
        "proxy": redact_url(settings.proxy.url) if settings.proxy.url else None,
        "trust_store": settings.trust_source(),
        "versions": _versions(),
    }
    errors, warnings, target_ok = _url_problems(settings.base_url)
    host = (urllib.parse.urlsplit(settings.base_url.strip()).hostname or "") if target_ok else ""
    key_ok = True
    if not settings.api_key:
        errors.append("no API key: set ANTHROPIC_API_KEY (or pass --api-key)")
        key_ok = False
    else:
        key_errors, key_warnings = _key_problems(settings.api_key, host.endswith("anthropic.com"))
        errors += key_errors
        warnings += key_warnings
        key_ok = not key_errors
    files = [("SSL_CERT_FILE", settings.ca_file), ("SSL_CERT_DIR", settings.ca_dir)]
    if settings.profile is Profile.CLAUDE_CODE:
        files = [("NODE_EXTRA_CA_CERTS", settings.node_extra_ca)]
    for name, path in files:
        if path and not os.path.exists(path):
            errors.append(f"{name}={path} does not exist")
            target_ok = False
    if target_ok:
        try:
            settings.trust_context()
        except (OSError, ssl.SSLError, ValueError) as exc:
            errors.append(f"the trust store ({settings.trust_source()}) cannot be loaded: {exc}")
            target_ok = False
    for setting in settings.insecure_env:
        warnings.append(f"{setting} switches certificate verification off: anyone in the path can read the key")
    status = Status.FAIL if errors else Status.WARN if warnings else Status.PASS
    if errors or warnings:
        detail = "; ".join(errors + warnings)
    else:
        detail = f"key {redact(settings.api_key)} from {settings.key_source}, base URL {redact_url(settings.base_url)}"
    fix = None
    if errors or warnings:
        fix = _fix(errors + warnings)
    return ConfigOutcome(CheckResult("config", status, detail, fix, evidence), target_ok, key_ok)


def _fix(problems: list[str]) -> str:
    text = " ".join(problems)
    fixes: list[str] = []
    if "no API key" in text:
        fixes.append("export ANTHROPIC_API_KEY=sk-ant-... (create a key in the Console)")
    if "key" in text and ("whitespace" in text or "quotes" in text or "non-ASCII" in text):
        fixes.append("set the key without quotes or spaces: export ANTHROPIC_API_KEY=sk-ant-... (no trailing newline)")
    if "does not look like an Anthropic key" in text:
        fixes.append("use an Anthropic API key (sk-ant-api03-...) with api.anthropic.com")
    if "base URL" in text:
        fixes.append("set ANTHROPIC_BASE_URL to the API root, e.g. https://api.anthropic.com (no /v1, no spaces)")
    if "verification off" in text:
        fixes.append(
            "unset the variable that switches verification off, and trust your proxy's CA instead "
            "(NODE_EXTRA_CA_CERTS for Claude Code, SSL_CERT_FILE for Python)"
        )
    if "does not exist" in text or "cannot be loaded" in text:
        fixes.append("point the CA variable at an existing PEM file (or unset it)")
    return "; ".join(fixes) or "Review the configuration above."
