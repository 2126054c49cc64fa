"""The ``config`` check: the key is there and well-formed, the base URL is sane, and which versions are installed.

No network: it only reads `Settings`. A failure here that makes the target unusable (no URL to connect to) stops
every later check; a missing or malformed key stops only the checks that need the key.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import ssl
import time
from dataclasses import dataclass

from claudewire._net import is_loopback, origin
from claudewire._secrets import redact
from claudewire.doctor.claude_code import ClaudeCodeView
from claudewire.doctor.cursor import WHERE, cursor_notes
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
        where = origin(url)
    except ValueError as exc:
        return [f"the base URL {exc}"], warnings, False
    path = where.path.rstrip("/")
    if path.endswith("/v1") or "/v1/" in path + "/":
        warnings.append(f"the base URL ends in {path!r}: the SDK adds /v1/... itself, so requests go to {path}/v1/...")
    if where.scheme == "http" and not is_loopback(where.host):
        warnings.append("the base URL is plain http:// to a remote host: the key crosses the network unencrypted")
    return errors, warnings, True


_CC_VARIABLES = (
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_MODEL",
    "HTTPS_PROXY",
    "https_proxy",
    "NO_PROXY",
    "NODE_EXTRA_CA_CERTS",
    "NODE_USE_SYSTEM_CA",
    "CLAUDE_CODE_CLIENT_CERT",
    "CLAUDE_CODE_CLIENT_KEY",
    "API_TIMEOUT_MS",
    "CLAUDE_CODE_USE_BEDROCK",
    "CLAUDE_CODE_USE_VERTEX",
)


def _claude_code_evidence(settings: Settings, view: ClaudeCodeView) -> dict[str, JSONValue]:
    """Where each variable Claude Code would use came from (values of secrets redacted), its helper and sign-in."""
    found: dict[str, JSONValue] = {}
    for name in _CC_VARIABLES:
        value = view.env.get(name)
        if value is None:
            continue
        shown = redact(value) if name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN") else value
        found[name] = f"{shown} (from {view.sources.get(name, 'shell')})"
    oauth: JSONValue = None
    if view.oauth is not None:
        expires = view.oauth.expires_at
        oauth = {
            "stored_in": view.oauth.source,
            "expires_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires)) if expires else None,
            "refreshable": view.oauth.refreshable,
            "subscription": view.oauth.subscription,
            "scopes": list(view.oauth.scopes),
        }
    return {
        "settings_files": list(view.files),
        "variables": found,
        "api_key_helper": view.key_helper_source,
        "oauth": oauth,
    }


def _claude_code_problems(view: ClaudeCodeView) -> tuple[list[str], list[str], str | None]:
    """(errors, warnings, the sign-in in words if Claude Code would use it) for Claude Code's own settings."""
    errors = list(view.problems)
    warnings: list[str] = []
    cert = view.env.get("CLAUDE_CODE_CLIENT_CERT")
    if cert and not os.path.exists(cert):
        errors.append(
            f"CLAUDE_CODE_CLIENT_CERT={cert} does not exist (from {view.sources.get('CLAUDE_CODE_CLIENT_CERT')})"
        )
    timeout = view.env.get("API_TIMEOUT_MS")
    if timeout is not None:
        if not timeout.strip().isdigit():
            warnings.append(f"API_TIMEOUT_MS={timeout!r} is not a number of milliseconds: Claude Code ignores it")
        elif int(timeout) < 60_000:
            warnings.append(
                f"API_TIMEOUT_MS={timeout} ms is short: long answers will time out (Claude Code's default: 600000)"
            )
    signed_in: str | None = None
    oauth = view.oauth
    if oauth is not None:
        plan = f" ({oauth.subscription})" if oauth.subscription else ""
        if oauth.expired(time.time()) and not oauth.refreshable:
            errors.append(f"the claude.ai sign-in{plan} has expired and cannot refresh: run `claude /login`")
        else:
            state = "expired, refreshes on next use" if oauth.expired(time.time()) else "valid"
            signed_in = (
                f"no API key: Claude Code uses its claude.ai sign-in{plan} ({state}; stored in {oauth.source}); the "
                "checks that need a key are skipped, the network path is checked"
            )
    return errors, warnings, signed_in


def check_config(settings: Settings) -> ConfigOutcome:
    """Key present and well-formed, base URL sane, trust files readable; records installed versions."""
    evidence: dict[str, JSONValue] = {
        "base_url": redact_url(settings.base_url),
        "api_key": redact(settings.api_key),
        "key_source": settings.key_source,
        "model": settings.model,
        "model_source": settings.model_source,
        "profile": settings.profile.value,
        "proxy": redact_url(settings.proxy.url) if settings.proxy.url else None,
        "trust_store": settings.trust_source(),
        "versions": _versions(),
    }
    errors, warnings, target_ok = _url_problems(settings.base_url)
    host = origin(settings.base_url).host if target_ok else ""
    key_ok = True
    warnings += settings.key_notes
    view = settings.claude_code
    signed_in: str | None = None
    if view is not None:
        evidence["claude_code"] = _claude_code_evidence(settings, view)
        cc_errors, cc_warnings, signed_in = _claude_code_problems(view)
        errors += cc_errors
        warnings += cc_warnings
    if not settings.api_key and signed_in is not None:
        key_ok = False  # Claude Code signs in with OAuth: the keyed checks cannot act as it, the path is still checked
        warnings.append(signed_in)
    elif not settings.api_key and settings.profile is Profile.CURSOR:
        key_ok = False  # Cursor's own models need no key; the keyed checks say how to check one (--api-key)
    elif not settings.api_key and settings.profile is Profile.CLAUDE_CODE:
        errors.append("no API key and no claude.ai sign-in: Claude Code has nothing to sign in with")
        key_ok = False
    elif not settings.api_key:
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
    notes: list[str] = []
    if settings.profile is Profile.CURSOR:
        cursor_errors, cursor_warnings, notes = cursor_notes(settings)
        target_ok = target_ok and not cursor_errors  # a base URL Cursor cannot reach is not worth checking from here
        errors += cursor_errors
        warnings += cursor_warnings
        evidence["cursor"] = {"where": WHERE, "ignored": list(settings.cursor_ignored)}
    status = Status.FAIL if errors else Status.WARN if warnings else Status.PASS
    if errors or warnings:
        detail = "; ".join(errors + warnings + notes)
    elif settings.api_key:
        detail = f"key {redact(settings.api_key)} from {settings.key_source}, base URL {redact_url(settings.base_url)}"
        detail = "; ".join([*notes, detail])
    else:
        detail = "; ".join(notes)
    fix = None
    if errors or warnings:
        fix = _fix(errors + warnings, settings.profile)
    return ConfigOutcome(CheckResult("config", status, detail, fix, evidence), target_ok, key_ok)


def _fix(problems: list[str], profile: Profile) -> str:
    text = " ".join(problems)
    fixes: list[str] = []
    if "no claude.ai sign-in" in text:
        fixes.append(
            "with a Claude subscription (Pro, Max, Team, Enterprise) run `claude /login`; with an API key, "
            "export ANTHROPIC_API_KEY=sk-ant-... or set apiKeyHelper in ~/.claude/settings.json"
        )
    elif "no API key" in text:
        fixes.append("export ANTHROPIC_API_KEY=sk-ant-... (create a key in the Console)")
    if "key" in text and ("whitespace" in text or "quotes" in text or "non-ASCII" in text):
        fixes.append("set the key without quotes or spaces: export ANTHROPIC_API_KEY=sk-ant-... (no trailing newline)")
    if "does not look like an Anthropic key" in text:
        fixes.append("use an Anthropic API key (sk-ant-api03-...) with api.anthropic.com")
    if "base URL" in text and profile is not Profile.CURSOR:  # Cursor's base URL is in its settings, not a variable
        fixes.append("set ANTHROPIC_BASE_URL to the API root, e.g. https://api.anthropic.com (no /v1, no spaces)")
    if "verification off" in text:
        fixes.append(
            "unset the variable that switches verification off, and trust your proxy's CA instead "
            "(NODE_EXTRA_CA_CERTS for Claude Code, SSL_CERT_FILE for Python)"
        )
    if "Cursor's servers cannot reach" in text:
        fixes.append(
            "give Cursor a base URL its servers can reach: a public https:// address (e.g. a claudewire gateway "
            "with client tokens behind TLS), or leave Cursor's base URL override off"
        )
    if "does not exist" in text or "cannot be loaded" in text:
        fixes.append("point the CA variable at an existing PEM file (or unset it)")
    return "; ".join(fixes) or "Review the configuration above."
