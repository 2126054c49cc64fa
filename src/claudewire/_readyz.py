"""What a claudewire gateway's ``/readyz`` says, in words: the one judge the doctor and the gateway's console share.

`describe_readyz` takes what ``/readyz`` serves (ready or not, and its list of upstreams with their keys) and gives
the phrase the doctor prints for a gateway in front of it; `NOT_READY_FIX` is what the doctor tells whoever meets a
gateway that answers but cannot serve. Pure and standard-library only, so both the doctor (which reads ``/readyz``
over HTTP) and the gateway (which builds it) may import it: the doctor never imports the gateway.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["NOT_READY_FIX", "describe_readyz"]

NOT_READY_FIX = (
    "The gateway is up but cannot serve: the fix is on its side, not this machine's. Its operator reads its /readyz "
    "and access log and runs `claudewire doctor --base-url` with the upstream's URL on the gateway's host."
)


def describe_readyz(ready: bool, upstreams: Sequence[Mapping[str, Any]]) -> str:
    """One phrase: the gateway (ready or not) and each upstream's state with the states of its keys.

    The shape is read tolerantly (a name and a usable flag per upstream, a list of keys with a state each; anything
    else ignored), so an older or newer gateway still gets a line.
    """
    parts = []
    for upstream in upstreams:
        name = str(upstream.get("name", "?"))
        keys = upstream.get("keys")
        states = sorted({str(k.get("state")) for k in keys if isinstance(k, Mapping)}) if isinstance(keys, list) else []
        state = "usable" if upstream.get("usable", True) else "NOT usable"
        parts.append(f"{name} {state}" + (f" ({', '.join(states)})" if states else ""))
    behind = "; upstreams: " + ", ".join(parts) if parts else ""
    return f"a claudewire gateway ({'ready' if ready else 'NOT ready: no upstream can serve'}){behind}"
