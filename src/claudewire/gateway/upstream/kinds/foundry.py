"""The ``foundry`` upstream kind: Microsoft Foundry's native Messages API under ``{resource}/anthropic/``.

Bodies, streams (with their own pings) and errors are the Anthropic API's, so only auth changes: a key from `keys`
is sent as both ``api-key`` and ``x-api-key`` (as the official AnthropicFoundry does), or as ``Authorization:
Bearer`` for an Entra ID token (``bearer = true``). Model ids may be mapped (a Foundry deployment name) with
``model_map``. A ``count_tokens`` Foundry refuses as unavailable is 501 ``not_supported``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from claudewire.gateway.upstream.kinds.base import (
    CannotCount,
    KeyRing,
    PassThrough,
    Refusal,
    ResponseTranslator,
    UpstreamCall,
    WholeBody,
    without_headers,
)
from claudewire.gateway.upstream.pool import Headers
from claudewire.gateway.wire import first_header

__all__ = ["FoundryKind"]

_DROP = frozenset({b"x-api-key", b"authorization", b"api-key"})
# the Anthropic API's own validation answers 400: only "no such operation here" means Foundry cannot count
_CANNOT_COUNT = frozenset({404, 405, 501})


class FoundryKind:
    """Auth (and model names) for one ``kind = "foundry"`` upstream."""

    name = "foundry"

    def __init__(
        self,
        upstream_name: str,
        *,
        keys: Sequence[str] = (),
        bearer: bool = False,
        model_map: Mapping[str, str] | None = None,
    ) -> None:
        self.upstream_name = upstream_name
        self.keys = KeyRing(tuple(keys))
        self.bearer = bearer
        self.model_map = dict(model_map or {})

    async def request(
        self, method: bytes, path: bytes, headers: Headers, body: bytes, key: str | None
    ) -> UpstreamCall | Refusal:
        lines = headers
        minted: tuple[str, ...] = ()
        chosen = self.keys.pick(key)
        if chosen is not None:
            value = chosen.encode("latin-1")
            lines = without_headers(headers, _DROP)
            if self.bearer:
                lines.append((b"authorization", b"Bearer " + value))
            else:
                lines += [(b"api-key", value), (b"x-api-key", value)]
            minted = (chosen,)
        if self.model_map and body and path.startswith(b"/v1/messages"):
            body = self._map_model(body)
        op = "count_tokens" if path.split(b"?", 1)[0].rstrip(b"/") == b"/v1/messages/count_tokens" else "messages"
        return UpstreamCall(method, path, lines, body, op=op, minted=minted)

    def _map_model(self, body: bytes) -> bytes:
        try:
            parsed = json.loads(body)
        except ValueError:
            return body
        if isinstance(parsed, dict) and parsed.get("model") in self.model_map:
            parsed["model"] = self.model_map[parsed["model"]]
            return json.dumps(parsed, separators=(",", ":")).encode()
        return body

    def response(self, call: UpstreamCall, status: int, headers: Headers) -> ResponseTranslator:
        if call.op == "count_tokens" and status in _CANNOT_COUNT:
            return CannotCount(status, headers, where=f"the foundry upstream {self.upstream_name!r}")
        ctype = first_header(headers, b"content-type") or b""
        if ctype.startswith(b"text/event-stream"):
            return PassThrough(status, headers)
        return WholeBody(status, headers)  # a JSON answer or error: read whole, bounded and scrubbed
