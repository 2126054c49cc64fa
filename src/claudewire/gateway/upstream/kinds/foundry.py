"""The ``foundry`` upstream kind: Microsoft Foundry's native Messages API under ``{resource}/anthropic/``.

Bodies, streams and errors are the Anthropic API's, so only auth changes: a key from `keys` is sent as both
``api-key`` and ``x-api-key`` (as the official AnthropicFoundry does), or as ``Authorization: Bearer`` for an
Entra ID token (``bearer = true``). Model ids may be mapped (a Foundry deployment name) with ``model_map``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from claudewire.gateway.upstream.kinds.base import (
    KeyRing,
    PassThrough,
    Refusal,
    ResponseTranslator,
    UpstreamCall,
    without_headers,
)

__all__ = ["FoundryKind"]

_DROP = frozenset({b"x-api-key", b"authorization", b"api-key"})


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

    async def request(self, method: bytes, path: bytes, headers: bytes, body: bytes) -> UpstreamCall | Refusal:
        lines = headers
        chosen = self.keys.pick(headers)
        if chosen is not None:
            key = chosen.encode()
            lines = without_headers(headers, _DROP)
            lines += (
                b"authorization: Bearer " + key + b"\r\n"
                if self.bearer
                else b"api-key: %b\r\nx-api-key: %b\r\n" % (key, key)
            )
        if self.model_map and body and path.startswith(b"/v1/messages"):
            body = self._map_model(body)
        return UpstreamCall(method, path, lines, body)

    def _map_model(self, body: bytes) -> bytes:
        try:
            parsed = json.loads(body)
        except ValueError:
            return body
        if isinstance(parsed, dict) and parsed.get("model") in self.model_map:
            parsed["model"] = self.model_map[parsed["model"]]
            return json.dumps(parsed, separators=(",", ":")).encode()
        return body

    def response(self, call: UpstreamCall, status: int, headers: list[tuple[bytes, bytes]]) -> ResponseTranslator:
        return PassThrough(status, headers)
