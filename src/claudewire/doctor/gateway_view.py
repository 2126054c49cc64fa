"""When the base URL is a claudewire gateway: read its ``/readyz`` and say which upstreams stand behind it.

The gateway answers ``/readyz`` with ``x-claudewire-worker`` and a JSON body naming each upstream and the state of
its keys. The shape is read tolerantly (a list of upstreams with a name and a usable flag, anything else ignored),
so an older or newer gateway still gets a line. Any other server is left alone: no answer, a 404 or a body that is
not JSON mean "not a claudewire gateway".

Through a gateway, a failure it answered with is about the gateway's own path to its upstreams, not about this
machine's network: `through_gateway` words it so (the gateway's message, its upstreams' states, who acts) instead
of the network, portal or status-page advice the failure kind carries when the API itself is the other end.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx2

from claudewire._errors import Failure, FailureKind
from claudewire._messages import GATEWAY_MARKER
from claudewire._readyz import NOT_READY_FIX, describe_readyz
from claudewire.doctor.http import HttpProbe, client_for
from claudewire.doctor.result import CheckResult, JSONValue, Status
from claudewire.doctor.settings import Settings

__all__ = ["GatewayView", "describe", "judge_http", "probe_gateway", "through_gateway"]

_MAX_BODY = 64 * 1024

K = FailureKind
# Kinds that, answered by a gateway (an HTTP status came back), happened between the gateway and its upstream.
_UPSTREAM_SIDE = frozenset(
    {
        K.DNS, K.CONNECT_REFUSED, K.CONNECT_TIMEOUT, K.PROXY, K.TLS_VERSION, K.CERTIFICATE, K.READ_TIMEOUT,
        K.CONNECTION_RESET, K.NOT_ANTHROPIC, K.NO_RESPONSE, K.TIMEOUT, K.SERVER, K.CIRCUIT_OPEN, K.LOCAL_RESOURCES,
        K.STREAM_INTERRUPTED,
    }
)  # fmt: skip


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
    """One phrase for the report: the gateway and each upstream's state (the gateway's console says the same)."""
    return describe_readyz(view.ready, view.upstreams)


def _upstreams(view: GatewayView) -> str:
    names = [f"{u.get('name', '?')} {'usable' if u.get('usable', True) else 'NOT usable'}" for u in view.upstreams]
    return ", ".join(names) or "none reported"


def through_gateway(failure: Failure, view: GatewayView | None) -> tuple[str, str] | None:
    """(what was seen, the fix) for `failure` when a claudewire gateway answered it about its upstream side; None when
    the kind's own words hold (no gateway, no answer from it, or the client's own mistake: a key, a body, a model).

    An overload the gateway wrote itself (its breaker, its queue) is the gateway's; one it passed on is the API's.
    """
    if view is None or failure.status is None:
        return None
    wrote = bool(failure.message and GATEWAY_MARKER in failure.message)
    if failure.kind not in _UPSTREAM_SIDE and not (failure.kind is K.OVERLOADED and wrote):
        return None
    said = (failure.message or failure.kind.value).strip()
    state = "ready" if view.ready else "NOT ready: no upstream can serve"
    detail = (
        f"the claudewire gateway answered {failure.status} {failure.kind.value} ({said}); it is {state} "
        f"(upstreams: {_upstreams(view)}): what failed is behind the gateway (an upstream or the path to it), "
        "not this machine's network"
    )
    fix = (
        "This machine reaches the gateway; what fails is behind it, so the fix is on the gateway's side: its "
        "operator reads its /readyz and access log and runs `claudewire doctor --base-url` with the upstream's URL "
        "on the gateway's host. Nothing on this machine (network, proxy, ANTHROPIC_BASE_URL) needs changing."
    )
    return detail, fix


_OPERATOR_FIX = NOT_READY_FIX


def _error(body: bytes) -> tuple[str, str] | None:
    """(type, message) of an Anthropic-shaped error body, or None."""
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    error = doc.get("error") if isinstance(doc, Mapping) else None
    if not isinstance(error, Mapping) or not isinstance(error.get("type"), str):
        return None
    return str(error["type"]), str(error.get("message") or "")


def judge_http(result: CheckResult, probe: HttpProbe, view: GatewayView) -> CheckResult:
    """The http check when the base URL is a claudewire gateway: its own words and /readyz, before any advice.

    A 404 in the API's shape from the gateway (``/v1/models is not served by the bedrock upstream ...``) is the
    gateway answering, not a portal or a wrong URL: the check passes and quotes it. A gateway that answers but is
    not ready warns, and the fix goes to its operator.
    """
    evidence = {**result.evidence, "gateway": view.evidence()}
    error = _error(probe.body) if probe.status is not None else None
    detail = result.detail.replace("an Anthropic API answered", "the gateway answered in the API's shape", 1)
    status = result.status
    if status is Status.FAIL and error is not None:
        quoted = f": {error[1]!r}" if error[1] else ""
        detail = f"GET /v1/models answered {probe.status} {error[0]} from the gateway itself{quoted}"
        status = Status.PASS
    detail = f"{detail}; {describe(view)}"
    if status is Status.PASS and not view.ready:
        return CheckResult("http", Status.WARN, detail, _OPERATOR_FIX, evidence, result.elapsed_ms)
    fix = result.fix if status is not Status.PASS else None
    return CheckResult("http", status, detail, fix, evidence, result.elapsed_ms)
