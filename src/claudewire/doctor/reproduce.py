"""The command that reproduces a failing check by hand (curl, openssl, getent), as troubleshooting guides give it.

Each failing check's evidence gets one (``evidence["reproduce"]``). The key is never in it: the command reads it from
the variable the tool uses (``"x-api-key: $ANTHROPIC_API_KEY"``, ``$ANTHROPIC_AUTH_TOKEN``, or the output of Claude
Code's ``apiKeyHelper``), so pasted into the same shell it runs as is, and pasted into a support thread it gives
nothing away. When the key came from somewhere the shell does not have (``--api-key``, a settings file's ``env``),
a trailing comment says which variable to export first. The token of a ``--url`` check is read the same way, from
``$CLAUDEWIRE_TOKEN`` (or ``$OPENAI_API_KEY`` when it came from there).
"""

from __future__ import annotations

import shlex

from claudewire.doctor.net import is_ip
from claudewire.doctor.result import REACH_IDS, SIGNIN_IDS
from claudewire.doctor.settings import TOKEN_VARIABLES, ProxyChoice, Settings, redact_url, split_url
from claudewire.doctor.urlprobe import UrlTarget

__all__ = ["fingerprint_command", "reproduce"]

_KEYED = ("auth", "version", "model", "ratelimit", "messages", "streaming", "cache")


def _key_header(settings: Settings) -> tuple[str, str]:
    """(the -H argument that sends the key from where the tool keeps it, a note to append or "")."""
    source = settings.key_source or ""
    if source.startswith("ANTHROPIC_AUTH_TOKEN"):
        header, variable = "authorization: Bearer", "ANTHROPIC_AUTH_TOKEN"
    else:
        header, variable = "x-api-key:", "ANTHROPIC_API_KEY"
    if source.startswith("apiKeyHelper") and settings.claude_code is not None and settings.claude_code.key_helper:
        # Claude Code runs its helper through the shell for every key: so does the command
        return f'-H "{header} $(sh -c {shlex.quote(settings.claude_code.key_helper)})"', ""
    note = ""
    if " from " in source:  # a settings file's env: Claude Code has it, this shell may not
        note = f"    # {variable} is set in {source.split(' from ', 1)[1]}: export it in this shell first"
    elif source not in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"):
        note = f"    # export {variable} first (the key was given {'with ' + source if source else 'elsewhere'})"
    return f'-H "{header} ${variable}"', note


def _proxy_arg(settings: Settings, choice: ProxyChoice | None = None) -> str:
    """``-x "$https_proxy"`` from the variable that named the proxy (its password stays out), else the URL redacted."""
    proxy = choice if choice is not None else settings.proxy
    source = proxy.source or ""
    if source.replace("_", "").isalpha():
        return f'-x "${source}"'
    return f"-x {shlex.quote(redact_url(proxy.url or ''))}"


def _token_header(settings: Settings) -> tuple[str, str]:
    """(the -H argument that sends the --url token from its variable, a note to append or "")."""
    source = settings.token_source or ""
    variable = source if source in TOKEN_VARIABLES else TOKEN_VARIABLES[0]
    header = f'-H "Authorization: Bearer ${variable}"'
    if not source:
        return header, f"    # export {variable} first: the token the tool is given"
    if source not in TOKEN_VARIABLES:
        return header, f"    # export {variable} first (the token was given with {source})"
    return header, ""


def fingerprint_command(settings: Settings) -> str | None:
    """The command that prints the gateway certificate's SHA-256 fingerprint the way Claude Code shows it."""
    url = UrlTarget.parse(settings.url or "")
    if url is None:
        return None
    return (
        f"openssl s_client -connect {url.target.authority}{_sni(url.target.host)} </dev/null 2>/dev/null "
        "| openssl x509 -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f"
    )


def _gateway_command(check_id: str, url: UrlTarget, proxy: str, https_path: str) -> str | None:
    """The by-hand command of a gateway URL's ``*_dns`` or ``*_https`` check (the sign-in and the ``--url`` checks
    look the same up); None for any other check."""
    check = check_id.partition("_")[2]
    if check == "dns":
        host = shlex.quote(url.target.host)
        return f"getent ahosts {host}    # or: dig +short {host} A AAAA"
    if check == "https":
        https = "https://" + url.url.split("://", 1)[1]
        return f"curl -v{proxy} -o /dev/null {shlex.quote(https + https_path)}"
    return None


def _sni(host: str) -> str:
    return f" -servername {shlex.quote(host)}" if not is_ip(host) else ""


def _signin_command(check_id: str, settings: Settings) -> str | None:
    """The by-hand command of a gateway sign-in check (no credential: the sign-in metadata is public)."""
    url = UrlTarget.parse(settings.url or "")
    if url is None:
        return None
    proxy = f" {_proxy_arg(settings, settings.url_proxy)}" if settings.url_proxy.url else ""
    metadata = "/.well-known/oauth-authorization-server"
    shared = _gateway_command(check_id, url, proxy, metadata)
    if shared is not None:
        return shared
    if check_id == "signin_certificate":
        cafile = f" -CAfile {shlex.quote(settings.node_extra_ca)}" if settings.node_extra_ca else ""
        return (
            f"openssl s_client -connect {url.target.authority}{_sni(url.target.host)}{cafile} -verify_return_error "
            "</dev/null"
        )
    ca = f" --cacert {shlex.quote(settings.node_extra_ca)}" if settings.node_extra_ca else ""
    return f"curl -v{proxy}{ca} {shlex.quote(url.at(metadata))}"


def _url_command(check_id: str, settings: Settings) -> str | None:
    """The by-hand command of a ``--url`` check (the token read from its variable); None if none."""
    url = UrlTarget.parse(settings.url or "")
    if url is None:
        return None
    proxy = f" {_proxy_arg(settings, settings.url_proxy)}" if settings.url_proxy.url else ""
    shared = _gateway_command(check_id, url, proxy, "/models")
    if shared is not None:
        return shared
    if check_id == "reach_certificate":
        return (
            f"openssl s_client -connect {url.target.authority}{_sni(url.target.host)} -verify_return_error "
            '-CAfile "$(python3 -m certifi)" </dev/null    # the public roots only'
        )
    if check_id == "reach_models":
        header, note = _token_header(settings)
        ca = f" --cacert {shlex.quote(settings.ca_file)}" if settings.ca_file else ""
        return f"curl -v{proxy}{ca} {shlex.quote(url.at('/models'))} {header}{note}"
    return None


def _curl(settings: Settings, path: str, keyed: bool, extra: str = "") -> str:
    base = settings.base_url.strip().rstrip("/")
    parts = ["curl -v"]
    if settings.proxy.url:
        parts.append(_proxy_arg(settings))
    if settings.ca_file:
        parts.append(f"--cacert {shlex.quote(settings.ca_file)}")
    parts.append(shlex.quote(base + path))
    parts.append("-H 'anthropic-version: 2023-06-01'")
    note = ""
    if keyed:
        header, note = _key_header(settings)
        parts.append(header)
    return " ".join(parts) + extra + note


def reproduce(check_id: str, settings: Settings) -> str | None:
    """The by-hand command for `check_id` against `settings`' target (the key read from its variable); None if none."""
    if check_id in REACH_IDS:
        return _url_command(check_id, settings)
    if check_id in SIGNIN_IDS:
        return _signin_command(check_id, settings)
    target = split_url(settings.base_url)
    if target is None:
        return None
    scheme, host, port = target
    if check_id == "dns":
        return f"getent hosts {shlex.quote(host)}    # or: nslookup {shlex.quote(host)}"
    if check_id == "tcp":
        return f"nc -vz -w 5 {shlex.quote(host)} {port}"
    if check_id == "proxy" and settings.proxy.url:
        return f"curl -v {_proxy_arg(settings)} {scheme}://{host}:{port}/ -o /dev/null"
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
