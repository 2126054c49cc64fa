"""Keep API keys out of every output: logs, metrics, reports and error messages."""

from __future__ import annotations

import re

__all__ = ["redact", "redact_text"]

# Anthropic keys look like sk-ant-api03-<base64ish>; admin keys sk-ant-admin01-...; OAuth tokens sk-ant-oat01-...
_KEY_RE = re.compile(r"sk-ant-[A-Za-z0-9_\-]{4,}")
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
    """`text` with every key-looking string and credential header value redacted."""
    text = _KEY_RE.sub(lambda m: redact(m.group(0)), text)
    return _BEARER_RE.sub(lambda m: m.group(1) + redact(m.group(2)), text)
