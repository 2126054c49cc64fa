"""When the base URL is a claudewire gateway: read its ``/readyz`` and say which upstreams stand behind it.

The gateway answers ``/readyz`` with ``x-claudewire-worker`` and a JSON body naming each upstream and the state of
its keys. The shape is read tolerantly (a list of upstreams with a name and a usable flag, anything else ignored),
so an older or newer gateway still gets a line. Any other server is left alone: no answer, a 404 or a body that is
not JSON mean "not a claudewire gateway".
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx2

from claudewire.doctor.http import client_for
from claudewire.doctor.result import JSONValue
from claudewire.doctor.settings import Settings

__all__ = ["GatewayView", "describe", "probe_gateway"]

_MAX_BODY = 64 * 1024


@dataclass(frozen=True, slots=True)
class GatewayView:
    """What a claudewire gateway's /readyz said: ready or not, and its upstreams as it reported them."""

    ready: bool
    upstreams: tuple[Mapping[str, Any], ...]

    def evidence(self) -> dict[str, JSONValue]:
        """The view for the report's evidence (names, usable, key states; no secrets are in /readyz)."""
        return {"ready": self.ready, "upstreams": json.loads(json.dumps(list(self.upstreams), default=str))}


def _parse(status: int, headers: Mapping[str, str], body: bytes) -> GatewayView | None:
    if "x-claudewire-worker" not in headers or status not in (200, 503):
        return None
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    if not isinstance(doc, Mapping):
        return None
    listed = doc.get("upstreams")
    upstreams = tuple(u for u in listed if isinstance(u, Mapping)) if isinstance(listed, list) else ()
    return GatewayView(status == 200 and doc.get("status", "ready") == "ready", upstreams)


async def probe_gateway(settings: Settings, version: str) -> GatewayView | None:
    """``GET {base_url}/readyz``: the gateway's view, or None when the base URL is not a claudewire gateway."""
    url = settings.base_url.strip().rstrip("/") + "/readyz"
    try:
        async with client_for(settings, follow_redirects=False) as client:
            response = await client.get(url, headers={"anthropic-version": version})
    except (httpx2.HTTPError, OSError, TimeoutError):
        return None
    headers = {k.lower(): v for k, v in response.headers.items()}
    return _parse(response.status_code, headers, response.content[:_MAX_BODY])


def describe(view: GatewayView) -> str:
    """One phrase for the report: the gateway and each upstream's state."""
    parts = []
    for upstream in view.upstreams:
        name = str(upstream.get("name", "?"))
        keys = upstream.get("keys")
        states = sorted({str(k.get("state")) for k in keys if isinstance(k, Mapping)}) if isinstance(keys, list) else []
        state = "usable" if upstream.get("usable", True) else "NOT usable"
        parts.append(f"{name} {state}" + (f" ({', '.join(states)})" if states else ""))
    behind = "; upstreams: " + ", ".join(parts) if parts else ""
    return f"a claudewire gateway ({'ready' if view.ready else 'NOT ready: no upstream can serve'}){behind}"
