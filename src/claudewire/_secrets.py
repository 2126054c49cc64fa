"""Keep API keys out of every output: logs, metrics, reports, error messages and what a gateway answers.

`redact` shows one key safely; `redact_text` and `redact_url` clean free text and URLs; `Scrubber` is the one place
that knows every credential a gateway holds (configured keys) or mints (cloud tokens, signatures) and takes them out
of the bytes an upstream sends back before a client sees them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit, urlunsplit

__all__ = ["Scrubber", "redact", "redact_text", "redact_url"]

_MIN_SECRET = 8  # shorter is no real credential, and scrubbing it would mangle ordinary text

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


def _shown(secret: bytes) -> bytes:
    return redact(secret.decode("latin-1")).replace("…", "...").encode("ascii", "replace")


class Scrubber:
    """Every credential a gateway holds or mints, and the one `scrub` that replaces each by its redacted form.

    Held credentials (the configured keys of every upstream: Anthropic, Bedrock, Foundry keys, static tokens) are
    given once; minted ones (a Google access token, an AWS signature and session token, a federation token) are
    given per call, as the `minted` of that call's answer, since they change from call to call. Each is replaced
    wherever it appears, in header values and bodies, by ``sk-ant-...last4`` / ``...last4``.
    """

    __slots__ = ("_held",)

    def __init__(self, held: Iterable[str] = ()) -> None:
        self._held: dict[bytes, bytes] = {}
        for secret in held:
            self.hold(secret)

    def hold(self, secret: str) -> None:
        """Scrub `secret` from every answer from now on."""
        raw = secret.strip().encode("latin-1", "replace")
        if len(raw) >= _MIN_SECRET:
            self._held[raw] = _shown(raw)

    @property
    def active(self) -> bool:
        """Whether any credential is held (without one, and nothing minted, `scrub` has nothing to do)."""
        return bool(self._held)

    def scrub(self, data: bytes, minted: Sequence[bytes] = ()) -> bytes:
        """`data` with every held credential, and each of `minted`, replaced by its redacted form."""
        for secret, shown in self._held.items():
            if secret in data:
                data = data.replace(secret, shown)
        for secret in minted:
            if len(secret) >= _MIN_SECRET and secret in data:
                data = data.replace(secret, _shown(secret))
        return data

    def scrub_headers(
        self, headers: list[tuple[bytes, bytes]], minted: Sequence[bytes] = ()
    ) -> list[tuple[bytes, bytes]]:
        """`headers` with `scrub` applied to every value (the same list when nothing was found)."""
        if not self._held and not minted:
            return headers
        out = [(name, self.scrub(value, minted)) for name, value in headers]
        return headers if out == headers else out
