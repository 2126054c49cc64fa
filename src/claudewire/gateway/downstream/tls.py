"""The gateway serving HTTPS itself: one server `ssl.SSLContext`, its certificate re-read on SIGHUP.

`server_context(cert, key)` makes a context for the asyncio server's ``ssl=`` (TLS 1.2 at least, ALPN
``http/1.1``: the gateway speaks HTTP/1.1 only). `reload` loads the files again into the *same* context: the listening
server keeps it, so every connection accepted afterwards presents the new certificate while the ones already open keep
theirs. A file that does not load leaves the old certificate in place (`TlsFilesError` says why).
"""

from __future__ import annotations

import hashlib
import logging
import ssl

__all__ = ["TlsFilesError", "fingerprint", "reload", "server_context"]

_log = logging.getLogger(__name__)


class TlsFilesError(ValueError):
    """A certificate or key file that cannot be served; the message names the file and the reason."""


def _load(context: ssl.SSLContext, cert: str, key: str) -> None:
    try:
        context.load_cert_chain(cert, key)
    except FileNotFoundError as exc:
        raise TlsFilesError(f"TLS file {exc.filename or cert} does not exist") from None
    except PermissionError as exc:
        raise TlsFilesError(f"TLS file {exc.filename or cert} is not readable: {exc.strerror}") from None
    except ssl.SSLError as exc:
        why = exc.reason or str(exc)
        raise TlsFilesError(
            f"tls_cert {cert} / tls_key {key} do not load ({why}): give the PEM certificate chain (leaf first) "
            "and its unencrypted PEM private key"
        ) from None


def server_context(cert: str, key: str) -> ssl.SSLContext:
    """A server context serving `cert` (PEM chain, leaf first) with `key` (PEM); TLS 1.2 or newer."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    _load(context, cert, key)
    return context


def reload(context: ssl.SSLContext, cert: str, key: str) -> bool:
    """Load `cert` and `key` again into `context` (new connections get them); False, logged, when they do not load."""
    try:
        _load(context, cert, key)
    except TlsFilesError as exc:
        _log.error("TLS certificate not reloaded, the previous one is still served: %s", exc)
        return False
    _log.warning("TLS certificate reloaded from %s (sha256 %s)", cert, fingerprint(cert) or "unreadable")
    return True


def fingerprint(cert: str) -> str | None:
    """The SHA-256 fingerprint of the first certificate in PEM file `cert` (lowercase hex, as Claude Code shows it)."""
    try:
        with open(cert, encoding="ascii", errors="replace") as fh:
            text = fh.read()
    except OSError:
        return None
    begin = text.find("-----BEGIN CERTIFICATE-----")
    end = text.find("-----END CERTIFICATE-----", begin)
    if begin < 0 or end < 0:
        return None
    der = ssl.PEM_cert_to_DER_cert(text[begin : end + len("-----END CERTIFICATE-----")] + "\n")
    return hashlib.sha256(der).hexdigest()
