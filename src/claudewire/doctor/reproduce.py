"""The command that reproduces a failing check by hand (curl, openssl, getent), as troubleshooting guides give it.

Each failing check's evidence gets one (``evidence["reproduce"]``), with the key redacted: a user can run it, or
paste it into a support thread, and see the same failure without claudewire in the way.
"""

from __future__ import annotations

import shlex

from claudewire._secrets import redact
from claudewire.doctor.settings import Settings, redact_url, split_url

__all__ = ["reproduce"]

_KEYED = ("auth", "version", "model", "ratelimit", "messages", "streaming", "cache")


def _curl(settings: Settings, path: str, keyed: bool, extra: str = "") -> str:
    base = settings.base_url.strip().rstrip("/")
    parts = ["curl -v"]
    if settings.proxy.url:
        parts.append(f"-x {shlex.quote(redact_url(settings.proxy.url))}")
    if settings.ca_file:
        parts.append(f"--cacert {shlex.quote(settings.ca_file)}")
    parts.append(shlex.quote(base + path))
    parts.append("-H 'anthropic-version: 2023-06-01'")
    if keyed:
        header = "authorization: Bearer" if settings.key_source == "ANTHROPIC_AUTH_TOKEN" else "x-api-key:"
        parts.append(f"-H '{header} {redact(settings.api_key)}'")
    return " ".join(parts) + extra


def reproduce(check_id: str, settings: Settings) -> str | None:
    """The by-hand command for `check_id` against `settings`' target (key redacted); None if there is none."""
    target = split_url(settings.base_url)
    if target is None:
        return None
    scheme, host, port = target
    if check_id == "dns":
        return f"getent hosts {shlex.quote(host)}    # or: nslookup {shlex.quote(host)}"
    if check_id == "tcp":
        return f"nc -vz -w 5 {shlex.quote(host)} {port}"
    if check_id == "proxy" and settings.proxy.url:
        return f"curl -v -x {shlex.quote(redact_url(settings.proxy.url))} {scheme}://{host}:{port}/ -o /dev/null"
    if check_id in ("tls", "certificate"):
        proxy = ""
        proxied = split_url(settings.proxy.url) if settings.proxy.url else None
        if proxied is not None:
            proxy = f" -proxy {proxied[1]}:{proxied[2]}"
        ca = f" -CAfile {shlex.quote(settings.ca_file)}" if settings.ca_file else ""
        return f"openssl s_client -connect {host}:{port} -servername {host}{proxy}{ca} -showcerts </dev/null"
    if check_id in ("http", "clock"):
        return _curl(settings, "/v1/models", keyed=False)
    if check_id in _KEYED:
        if check_id in ("messages", "streaming", "ratelimit"):
            stream = ',"stream":true' if check_id == "streaming" else ""
            body = (
                f'{{"model":"{settings.model}","max_tokens":8{stream},"messages":[{{"role":"user","content":"ok"}}]}}'
            )
            return _curl(
                settings, "/v1/messages", keyed=True, extra=f" -H 'content-type: application/json' -d '{body}'"
            )
        return _curl(settings, f"/v1/models/{settings.model}" if check_id == "model" else "/v1/models", keyed=True)
    return None
