"""The simulator speaking Vertex AI's publisher endpoints for Anthropic models (``claudewire sim --api vertex``).

Paths, as the official SDK's ``AnthropicVertex`` and Claude Code's Vertex mode call them (``/v1`` optional, since
a base URL may or may not carry it)::

    POST /v1/projects/{project}/locations/{region}/publishers/anthropic/models/{model}:rawPredict
    POST /v1/projects/{project}/locations/{region}/publishers/anthropic/models/{model}:streamRawPredict   (SSE)
    POST /v1/projects/{project}/locations/{region}/publishers/anthropic/models/count-tokens:rawPredict

The body is a Messages body without ``model`` (count-tokens keeps it) and with ``anthropic_version``; the fields
Vertex does not take (`VERTEX_REJECTED`) are a 400 "Extra inputs are not permitted". Model ids are Vertex's
(``claude-haiku-4-5@20251001``). Auth is a Google bearer token (any, or one of ``api_keys``; none at all only
when no ``api_keys`` are set, as Claude Code's ``CLAUDE_CODE_SKIP_VERTEX_AUTH`` sends); auth, quota and
unknown-model errors come in Google's error shape, the model's own errors in Anthropic's. Catalogue, faults and
pacing are the anthropic mode's.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from claudewire.sim.app import SimApp, _Handler
from claudewire.sim.config import ACCEPTED_VERSIONS, SimConfig
from claudewire.sim.endpoints import ApiError, parse_json
from claudewire.sim.stats import Stats

__all__ = ["VERTEX_REJECTED", "VERTEX_VERSIONS", "VertexApp", "vertex_model_name"]

VERTEX_VERSIONS: frozenset[str] = ACCEPTED_VERSIONS | {"vertex-2023-10-16"}
"""``anthropic_version`` body values the simulated Vertex accepts."""

VERTEX_REJECTED: frozenset[str] = frozenset(
    {"output_config", "context_management", "mcp_servers", "container", "service_tier"}
)
"""Messages body fields the simulated Vertex rejects with "Extra inputs are not permitted"."""

_PREFIX = "/projects/{project}/locations/{region}/publishers/anthropic/models/{tail}"
_GOOGLE = "google:"  # error_type prefix: answer in Google's error shape with this status name
_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
}


def vertex_model_name(model: str) -> str:
    """The Anthropic model name of a Vertex model id (``claude-x@20250929`` → ``claude-x-20250929``)."""
    name, at, date = model.partition("@")
    return f"{name}-{date}" if at and date else name


def _invalid(message: str) -> ApiError:
    return ApiError(400, "invalid_request_error", message)


class VertexApp(SimApp):
    """`SimApp` behind Vertex AI's rawPredict / streamRawPredict paths, Google auth and errors.

    `received` keeps, for the most recent calls, the project, region, model and top-level body fields sent.
    """

    follows_api_dates = False  # the cloud's own model lifecycle: the declared stages

    def __init__(self, config: SimConfig, stats: Stats) -> None:
        super().__init__(config, stats)
        self.received: deque[dict[str, Any]] = deque(maxlen=max(1, config.request_log_size))

    def _routes(self) -> dict[tuple[str, str], _Handler]:
        return {("POST", "/v1" + _PREFIX): self._route, ("POST", _PREFIX): self._route}

    async def _route(
        self, request: web.Request, body: Mapping[str, Any] | None, rid: str, ctx: Any
    ) -> web.StreamResponse:
        if request.match_info["tail"].startswith("count-tokens:"):
            return await self._count_tokens(request, body, rid, ctx)
        return await self._messages(request, body, rid, ctx)

    def _read_body(self, request: web.Request, raw: bytes) -> tuple[str, Mapping[str, Any] | None]:
        tail = request.match_info.get("tail")
        if tail is None:
            return request.path, None
        model, _, method = tail.rpartition(":")
        region = request.match_info["region"]
        if method not in ("rawPredict", "streamRawPredict") or not model:
            raise ApiError(404, _GOOGLE + "NOT_FOUND", f"Method {method or tail!r} is not found for this model.")
        if self.config.region is not None and region != self.config.region:
            raise ApiError(400, _GOOGLE + "INVALID_ARGUMENT", f"Location {region} is not served here.")
        body = dict(parse_json(raw))
        version = body.pop("anthropic_version", None)
        counting = model == "count-tokens"
        if version is None and not counting:
            raise _invalid("anthropic_version: Field required")
        if version is not None and version not in VERTEX_VERSIONS:
            raise _invalid(f"anthropic_version: Input should be one of {', '.join(sorted(VERTEX_VERSIONS))}")
        if counting:
            if method != "rawPredict":
                raise ApiError(404, _GOOGLE + "NOT_FOUND", "count-tokens is served by :rawPredict")
            name = vertex_model_name(str(body.get("model", "")))
        else:
            if "model" in body:
                raise _invalid("model: Extra inputs are not permitted")
            name = vertex_model_name(model)
            streaming = method == "streamRawPredict"
            if bool(body.get("stream")) != streaming:
                raise _invalid("stream: must be true for :streamRawPredict and absent or false for :rawPredict")
        extra = sorted(VERTEX_REJECTED & body.keys())
        if extra:
            raise _invalid(f"{extra[0]}: Extra inputs are not permitted")
        path = f"projects/{request.match_info['project']}/locations/{region}/publishers/anthropic/models/{model}"
        if self.catalogue.get(name) is None:
            raise ApiError(404, _GOOGLE + "NOT_FOUND", f"Publisher Model `{path}` not found.")
        if name in self.config.disabled_models:
            message = f"Publisher Model `{path}` was not found or your project does not have access to it."
            raise ApiError(404, _GOOGLE + "NOT_FOUND", message)
        body["model"] = name
        self.received.append(
            {"project": request.match_info["project"], "region": region, "model": model, "fields": sorted(body)}
        )
        return ("/v1/messages/count_tokens" if counting else "/v1/messages"), body

    def _check_version(self, request: web.Request, body: Mapping[str, Any] | None) -> None:
        pass  # Vertex reads anthropic_version from the body (checked in _read_body)

    def _authenticate(self, request: web.Request, raw: bytes) -> str:
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        if not auth and not self.config.api_keys:
            # no token, as Claude Code sends with CLAUDE_CODE_SKIP_VERTEX_AUTH=1 to a gateway that adds it;
            # a simulator given --api-key tokens requires one of them
            return "unauthenticated"
        if (
            not token
            or token in self.config.expired_keys
            or (self.config.api_keys and token not in self.config.api_keys)
        ):
            raise ApiError(
                401,
                _GOOGLE + "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or "
                "other valid authentication credential.",
            )
        return token

    def _respond(self, status: int, body: bytes, headers: dict[str, str]) -> web.Response:
        return super()._respond(status, body, {k: v for k, v in headers.items() if not k.startswith("anthropic-")})

    def _error(
        self, status: int, error_type: str, message: str, headers: dict[str, str], rid: str, **extra: Any
    ) -> web.Response:
        if not error_type.startswith(_GOOGLE) and status not in (401, 403, 429):  # the model's own errors
            return super()._error(status, error_type, message, headers, rid, **extra)
        name = error_type[len(_GOOGLE) :] if error_type.startswith(_GOOGLE) else _STATUS_NAMES[status]
        if status == 429:
            message = "Quota exceeded for aiplatform.googleapis.com/online_prediction_requests_per_base_model."
            headers.pop("retry-after", None)
        body = json.dumps({"error": {"code": status, "message": message, "status": name}}).encode()
        return self._respond(status, body, headers)
