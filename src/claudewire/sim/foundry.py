"""The simulator speaking Microsoft Foundry's Anthropic endpoint (``claudewire sim --api foundry``).

Foundry serves the native Messages API under ``{resource}/anthropic/``: ``POST /anthropic/v1/messages`` (plain and
SSE), ``/anthropic/v1/messages/count_tokens`` and the models list, authenticated by an ``api-key`` or
``x-api-key`` header (the official ``AnthropicFoundry`` sends both) or an Entra ID bearer token. Bodies, errors,
catalogue, faults and pacing are the anthropic mode's; `FaultSpec` ``path=`` filters match the path without the
``/anthropic`` prefix.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from claudewire.sim.app import SimApp, _Handler
from claudewire.sim.endpoints import ApiError, parse_json

__all__ = ["FoundryApp"]

_PREFIX = "/anthropic"


class FoundryApp(SimApp):
    """`SimApp` under ``/anthropic/`` with Foundry's key headers (messages, count_tokens, models: batches and files
    are simulated in the anthropic dialect only)."""

    follows_api_dates = False  # the cloud's own model lifecycle: the declared stages

    def _routes(self) -> dict[tuple[str, str], _Handler]:
        return {(method, _PREFIX + path): handler for (method, path), handler in self._api_routes().items()}

    def _read_body(self, request: web.Request, raw: bytes) -> tuple[str, Mapping[str, Any] | None]:
        path = request.path
        if not path.startswith(_PREFIX + "/"):
            return path, None
        path = path[len(_PREFIX) :]
        if request.method == "POST" and path.startswith("/v1/messages"):
            body = parse_json(raw)
            if body.get("model") in self.config.disabled_models:
                raise ApiError(
                    404,
                    "not_found_error",
                    "DeploymentNotFound: The API deployment for this resource does not exist. If you created the "
                    "deployment within the last 5 minutes, please wait a moment and try again.",
                )
            return path, body
        return path, None

    def _authenticate(self, request: web.Request, raw: bytes) -> str:
        key = request.headers.get("api-key") or request.headers.get("x-api-key")
        if not key:
            auth = request.headers.get("authorization", "")
            key = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        if not key:
            raise ApiError(401, "authentication_error", "Missing api-key, x-api-key or Authorization: Bearer header")
        if key in self.config.expired_keys:
            raise ApiError(401, "authentication_error", "The access token has expired: get a new key or token")
        if self.config.api_keys and key not in self.config.api_keys:
            raise ApiError(401, "authentication_error", "invalid api-key")
        return key
