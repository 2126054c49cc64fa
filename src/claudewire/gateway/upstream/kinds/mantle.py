"""The ``bedrock-mantle`` upstream kind: Claude in Amazon Bedrock, the Messages API at ``{url}/anthropic/v1/messages``.

Mantle (``https://bedrock-mantle.{region}.api.aws``) serves the first-party Messages API on AWS: the Anthropic body
and SSE stream unchanged, ``anthropic-version`` and ``anthropic-beta`` as headers. Only three things change, as the
official SDK's ``AnthropicBedrockMantle`` does them:

- the path gains ``/anthropic`` (unless the configured URL already ends with it);
- ``model`` is mapped: a ``model_map`` entry, else ``anthropic.<id>`` (an id already in that form passes);
- auth: a Bedrock API key from `keys` as ``Authorization: Bearer``, else SigV4 for service ``bedrock-mantle`` with
  the standard AWS credential chain, signed by botocore.

Mantle offers ``POST /v1/messages`` and ``/v1/messages/count_tokens``; Message Batches, Files and Models are refused
here in the Anthropic error shape, saying so, instead of forwarding a request that would come back a bare 404.
Errors pass as Mantle sends them; one from AWS's front door (``x-amzn-ErrorType`` + ``{"message"}``: a bad
signature, an expired token) becomes the Anthropic status and body it stands for.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from claudewire.gateway.upstream.kinds.aws import AwsAuth, aws_region
from claudewire.gateway.upstream.kinds.base import (
    KeyRing,
    PassThrough,
    Refusal,
    ResponseTranslator,
    UpstreamCall,
    without_headers,
)
from claudewire.gateway.upstream.kinds.errors import bedrock_error
from claudewire.gateway.upstream.kinds.request import parse_messages_request
from claudewire.gateway.upstream.pool import Headers, UpstreamTarget
from claudewire.gateway.wire import first_header

__all__ = ["SERVICE", "MantleKind", "mantle_model_id"]

SERVICE = "bedrock-mantle"
"""The SigV4 service name Mantle verifies signatures for."""

_PREFIX = b"/anthropic"
_DROP = frozenset(
    {
        b"x-api-key",
        b"authorization",
        b"content-type",
        b"accept-encoding",
        b"x-amz-date",
        b"x-amz-security-token",
        b"x-amz-content-sha256",
    }
)
_HOST_REGION = re.compile(r"bedrock-mantle(?:-fips)?\.([a-z0-9-]+)\.api\.aws")
_NOT_OFFERED = (
    (b"/v1/messages/batches", "Message Batches"),
    (b"/v1/files", "the Files API"),
    (b"/v1/models", "the Models API"),
)


def mantle_model_id(model: str, model_map: Mapping[str, str]) -> str:
    """Mantle's id for the Anthropic model name `model`: the map's entry, else ``anthropic.<model>``."""
    if model in model_map:
        return model_map[model]
    if "anthropic." in model or model.startswith("arn:"):
        return model  # already Mantle's (or a regional / ARN form the operator chose)
    return f"anthropic.{model}"


class MantleKind:
    """Paths, model ids and auth for one ``kind = "bedrock-mantle"`` upstream."""

    name = "bedrock-mantle"

    def __init__(
        self,
        upstream_name: str,
        target: UpstreamTarget,
        *,
        region: str | None = None,
        keys: Sequence[str] = (),
        model_map: Mapping[str, str] | None = None,
        credentials: Any = None,
    ) -> None:
        self.upstream_name = upstream_name
        self.target = target
        self.region = aws_region(region, target.host, _HOST_REGION)
        self.keys = KeyRing(tuple(keys))
        self.auth = AwsAuth(upstream_name, self.name, SERVICE, target, self.region, self.keys, credentials)
        self.model_map = dict(model_map or {})
        self._prefix = b"" if target.prefix.endswith("/anthropic") else _PREFIX

    async def request(
        self, method: bytes, path: bytes, headers: Headers, body: bytes, key: str | None
    ) -> UpstreamCall | Refusal:
        route = path.split(b"?", 1)[0].rstrip(b"/")
        for start, what in _NOT_OFFERED:
            if route.startswith(start):
                return Refusal(
                    400,
                    "invalid_request_error",
                    f"{what} ({route.decode('latin-1')[:100]}) is not offered by Claude in Amazon Bedrock, so the "
                    f"bedrock-mantle upstream {self.upstream_name!r} cannot serve it: route it to an anthropic "
                    "upstream",
                )
        parsed = parse_messages_request(self.name, self.upstream_name, method, path, headers, body)
        if isinstance(parsed, Refusal):
            return parsed
        model = str(parsed.body["model"])
        mapped = mantle_model_id(model, self.model_map)
        if mapped != model:
            body = json.dumps({**parsed.body, "model": mapped}, separators=(",", ":")).encode()
        wire_path = self._prefix + path
        auth, minted = await self.auth.headers(wire_path.decode("latin-1"), body, key)
        lines = [*without_headers(headers, _DROP), (b"content-type", b"application/json"), *auth]
        return UpstreamCall(b"POST", wire_path, lines, body, parsed.op, parsed.stream, minted)

    def response(self, call: UpstreamCall, status: int, headers: Headers) -> ResponseTranslator:
        if status >= 400 and first_header(headers, b"x-amzn-errortype") is not None:
            return _FrontDoorError(status, headers)
        return PassThrough(status, headers)


class _FrontDoorError:
    """An AWS front-door error (``x-amzn-ErrorType`` + ``{"message"}``) → the Anthropic status and error body; an
    error already in the Anthropic shape passes unchanged."""

    whole_body = True
    done = False
    pingless = False

    def __init__(self, status: int, headers: Headers) -> None:
        self._error = first_header(headers, b"x-amzn-errortype")
        self._upstream_status = status
        self.status, _ = bedrock_error(status, self._error, b"{}")
        self.headers = [(k, v) for k, v in headers if k.lower() != b"content-type"] + [
            (b"content-type", b"application/json")
        ]

    def feed(self, chunk: bytes) -> bytes:
        try:
            parsed = json.loads(chunk)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and parsed.get("type") == "error":
            return chunk
        _, body = bedrock_error(self._upstream_status, self._error, chunk)
        return body

    def end(self) -> bytes:
        return b""
