"""Keep API keys out of every output: logs, metrics, reports and error messages."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

__all__ = ["redact", "redact_text", "redact_url"]

# Anthropic keys look like sk-ant-api03-<base64ish>; admin keys sk-ant-admin01-...; OAuth tokens sk-ant-oat01-...
_KEY_RE = re.compile(r"sk-ant-[A-Za-z0-9_\-]{4,}")
# scheme://user:password@ in free text (a proxy or upstream URL in a message)
_URL_CREDENTIALS_RE = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)([^/@\s\"']+)@")
_BEARER_RE = re.compile(r"(?i)(authorization:\s*bearer\s+|x-api-key:\s*)([^\s\"',]+)")


def redact(key: str | None) -> str:
    """A key shown safely: ``sk-ant-…abcd`` (its last four characters only), or ``(none)``."""
    if not key:
        return "(none)"
    key = key.strip()
    tail = key[-4:] if len(key) >= 12 else ""
    prefix = "sk-ant-" if key.startswith("sk-ant-") else ""
    return f"{prefix}…{tail}"


def redact_text(text: str) -> str:
    """`text` with every key-looking string, credential header value and URL credential redacted."""
    text = _KEY_RE.sub(lambda m: redact(m.group(0)), text)
    if "@" in text:
        text = _URL_CREDENTIALS_RE.sub(lambda m: m.group(1) + "***@", text)
    return _BEARER_RE.sub(lambda m: m.group(1) + redact(m.group(2)), text)


def redact_url(url: str) -> str:
    """`url` without its password (``http://user:***@host``); a lone user part (often a key) is masked too."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return _URL_CREDENTIALS_RE.sub(lambda m: m.group(1) + "***@", url)
    if "@" not in parts.netloc:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, has_password, _ = userinfo.partition(":")
    shown = f"{user}:***" if has_password else "***"
    return urlunsplit(parts._replace(netloc=f"{shown}@{hostport}"))
