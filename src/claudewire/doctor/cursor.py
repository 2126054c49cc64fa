"""What applies when the tool is Cursor: where its requests with your own key come from, and what this machine needs.

Cursor does not read ``ANTHROPIC_API_KEY`` or ``ANTHROPIC_BASE_URL``. A custom Anthropic key (and a custom base URL)
set in Cursor's settings is used by Cursor's servers: the request to the API, or to that base URL, leaves from
Cursor's backend, not from this machine. So from here the doctor checks what this machine does (reach Cursor's own
hosts over HTTP/2: the ``http2`` check), the key you give it with ``--api-key`` (a key is valid or not wherever it is
used from), and whether a ``--base-url`` could be reached from Cursor's servers at all: one on this machine or a
private network cannot.
"""

from __future__ import annotations

import ipaddress
import urllib.parse

from claudewire._net import is_loopback
from claudewire.doctor.settings import Settings

__all__ = ["WHERE", "cursor_notes", "unreachable_from_cursor"]

_PRIVATE_SUFFIXES = (".local", ".internal", ".lan", ".home.arpa", ".localdomain")

WHERE = (
    "Cursor sends requests that use your own Anthropic key (and a custom base URL) from Cursor's servers, not from "
    "this machine: this machine only needs to reach Cursor's hosts (the http2 check)"
)


def unreachable_from_cursor(url: str) -> str | None:
    """Why Cursor's servers cannot reach base URL `url` (on this machine, a private address or name), or None."""
    host = (urllib.parse.urlsplit(url.strip()).hostname or "").lower()
    if not host:
        return None
    if is_loopback(host):
        return f"{host} is this machine"
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        if "." not in host or host.endswith(_PRIVATE_SUFFIXES):
            return f"{host} is a name only a local network resolves"
        return None
    if address.is_private or address.is_link_local:
        return f"{host} is a private address"
    return None


def cursor_notes(settings: Settings) -> tuple[list[str], list[str], list[str]]:
    """(errors, warnings, notes) of the cursor profile: what applies, the key to check, the base URL's reach."""
    errors: list[str] = []
    warnings: list[str] = []
    notes = [WHERE]
    if settings.cursor_ignored:
        notes.append(f"{', '.join(settings.cursor_ignored)} in this shell: not read by Cursor, ignored")
    if not settings.api_key:
        notes.append(
            "no key given: Cursor's own models need none; to check the Anthropic key you set in Cursor, pass it "
            "with --api-key (checked from here: a key is valid or not wherever it is used from)"
        )
    if settings.base_url_source == "--base-url":
        why = unreachable_from_cursor(settings.base_url)
        if why is not None:
            errors.append(
                f"Cursor's servers cannot reach the base URL {settings.base_url.strip()}: {why} (Cursor calls a "
                "custom base URL from its servers, not from this machine)"
            )
        elif settings.base_url.strip().startswith("http://"):
            warnings.append("the base URL is plain http://: Cursor's servers would send your key over the internet")
    return errors, warnings, notes
