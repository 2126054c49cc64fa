"""The ``vertex`` upstream kind: Anthropic Messages → Vertex AI's publisher endpoints for Claude, and the answers back.

Request: ``POST /v1/messages`` becomes ``POST /projects/{project}/locations/{region}/publishers/anthropic/models/
{model}:rawPredict`` (``:streamRawPredict`` for a stream; the base URL carries ``/v1``), ``count_tokens`` goes to
``.../models/count-tokens:rawPredict``. The body loses ``model`` (count-tokens keeps it, mapped) and gains
``anthropic_version`` (`DEFAULT_VERSION` unless configured); the fields Vertex rejects with "Extra inputs are not
permitted" (`DEFAULT_REJECTED`, or the upstream's ``rejected_fields``) are removed and logged. Model ids become
Vertex's (``claude-haiku-4-5@20251001``). Auth: a static bearer token from `keys`, else Google credentials through
google-auth (a service-account file, else application default credentials), refreshed off the event loop.

Answer: SSE passes through untouched (with Vertex's own pings), a JSON answer is read whole (bounded, scrubbed) and
passed as it is; Google-shaped errors become Anthropic error bodies with Vertex's own words (and the capability token
Claude Code recovers by); a count Vertex refuses as unavailable is 501 ``not_supported``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from claudewire.gateway.upstream.kinds.base import (
    CANNOT_COUNT,
    CannotCount,
    KeyRing,
    PassThrough,
    Refusal,
    ResponseTranslator,
    UpstreamCall,
    WholeBody,
    without_headers,
)
from claudewire.gateway.upstream.kinds.errors import google_error
from claudewire.gateway.upstream.kinds.models import vertex_model_id
from claudewire.gateway.upstream.kinds.request import parse_messages_request
from claudewire.gateway.upstream.pool import Headers
from claudewire.gateway.wire import first_header

__all__ = ["DEFAULT_REJECTED", "DEFAULT_VERSION", "VertexKind"]

_log = logging.getLogger(__name__)

DEFAULT_VERSION = "2026-10-21"
"""The ``anthropic_version`` sent by default: what the official SDK's AnthropicVertex sends (SDK 2.15)."""

DEFAULT_REJECTED: frozenset[str] = frozenset(
    {"output_config", "context_management", "mcp_servers", "container", "service_tier"}
)
"""Body fields Vertex AI answers 400 "Extra inputs are not permitted" for; removed before sending."""

_DROP = frozenset({b"x-api-key", b"authorization", b"anthropic-version", b"content-type", b"accept-encoding"})
_SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)


class VertexKind:
    """Translator and token source for one ``kind = "vertex"`` upstream."""

    name = "vertex"

    def __init__(
        self,
        upstream_name: str,
        *,
        project: str,
        region: str,
        keys: Sequence[str] = (),
        anthropic_version: str = DEFAULT_VERSION,
        rejected_fields: Sequence[str] | None = None,
        model_map: Mapping[str, str] | None = None,
        credentials_file: str | None = None,
        credentials: Any = None,
    ) -> None:
        self.upstream_name = upstream_name
        self.project = project
        self.region = region
        self.keys = KeyRing(tuple(keys))
        self.anthropic_version = anthropic_version
        self.rejected = frozenset(rejected_fields) if rejected_fields is not None else DEFAULT_REJECTED
        self.model_map = dict(model_map or {})
        self.credentials_file = credentials_file
        self._credentials = credentials  # google.auth credentials; loaded on first use
        self._lock = asyncio.Lock()

    async def request(
        self, method: bytes, path: bytes, headers: Headers, body: bytes, key: str | None
    ) -> UpstreamCall | Refusal:
        parsed = parse_messages_request(self.name, self.upstream_name, method, path, headers, body)
        if isinstance(parsed, Refusal):
            return parsed
        payload = dict(parsed.body)
        model = vertex_model_id(str(payload.pop("model")), self.model_map)
        payload.setdefault("anthropic_version", self.anthropic_version)
        removed = sorted(self.rejected & payload.keys())
        for field in removed:
            del payload[field]
        if removed:
            _log.info("vertex upstream %s: removed field(s) Vertex rejects: %s", self.upstream_name, ", ".join(removed))
        base = f"/projects/{quote(self.project, safe='')}/locations/{quote(self.region, safe='')}/publishers/anthropic"
        if parsed.op == "count_tokens":
            payload["model"] = model
            route = f"{base}/models/count-tokens:rawPredict"
        else:
            route = f"{base}/models/{quote(model, safe='@')}:{'streamRawPredict' if parsed.stream else 'rawPredict'}"
        data = json.dumps(payload, separators=(",", ":")).encode()
        token = await self._token(key)
        lines = without_headers(headers, _DROP)
        lines += [(b"content-type", b"application/json"), (b"authorization", b"Bearer " + token.encode("latin-1"))]
        return UpstreamCall(b"POST", route.encode(), lines, data, parsed.op, parsed.stream, (token,), parsed.betas)

    async def _token(self, chosen: str | None) -> str:
        key = self.keys.pick(chosen)
        if key is not None:  # a static token
            return key
        async with self._lock:  # one refresh at a time; the blocking HTTP call runs in a thread
            creds = self._credentials
            if creds is None:
                creds = self._credentials = await asyncio.to_thread(self._load)
            if not getattr(creds, "valid", False):
                import google.auth.transport.requests

                await asyncio.to_thread(creds.refresh, google.auth.transport.requests.Request())
            return str(creds.token)

    def _load(self) -> Any:
        if self.credentials_file:
            from google.oauth2 import service_account  # the `vertex` extra

            load = service_account.Credentials.from_service_account_file
            return load(self.credentials_file, scopes=_SCOPES)  # type: ignore[no-untyped-call]
        import google.auth

        creds, _ = google.auth.default(scopes=_SCOPES)
        return creds

    def response(self, call: UpstreamCall, status: int, headers: Headers) -> ResponseTranslator:
        if call.op == "count_tokens" and status in CANNOT_COUNT:
            return CannotCount(status, headers, where=f"the vertex upstream {self.upstream_name!r}")
        if status >= 400:
            return _GoogleError(status, headers, betas=call.betas)
        if (first_header(headers, b"content-type") or b"").startswith(b"text/event-stream"):
            return PassThrough(status, headers)
        return WholeBody(status, headers)  # a JSON answer: read whole, bounded and scrubbed


@dataclass(slots=True)
class _GoogleError(WholeBody):
    """A Google-shaped error → Anthropic's; the model's own (already Anthropic-shaped) errors pass unchanged."""

    betas: tuple[str, ...] = ()

    def feed(self, chunk: bytes) -> bytes:
        mapped = google_error(self.status, chunk, self.betas)
        if mapped is None:
            return chunk
        self.status, body = mapped
        return body
