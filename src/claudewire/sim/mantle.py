"""The simulator speaking Claude in Amazon Bedrock, "Mantle" (``claudewire sim --api bedrock-mantle``).

Mantle serves the first-party Messages API on AWS at ``https://bedrock-mantle.{region}.api.aws/anthropic/``, as the
official SDK's ``AnthropicBedrockMantle`` calls it::

    POST /anthropic/v1/messages                 the Anthropic body, plain JSON or SSE
    POST /anthropic/v1/messages/count_tokens

Model ids are Bedrock's ``anthropic.<claude id>`` (a geography prefix such as ``us.`` is accepted too); a bare
Anthropic id is unknown here, as it would be to Mantle. Requests are SigV4-signed for service ``bedrock-mantle`` in
the simulator's region (verified when it knows the key pair) or carry a Bedrock API key (``Authorization: Bearer``;
``x-api-key`` is taken too); a simulator given no keys also serves unsigned requests. What AWS's front door refuses
(signature, key) comes back in its shape, ``x-amzn-ErrorType`` with ``{"message"}``; the API's own errors in the
Anthropic shape. Batches, Files and Models are not offered: 404. Catalogue, faults and pacing are the anthropic
mode's; `FaultSpec` ``path=`` filters match the path without ``/anthropic``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import deque
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from claudewire.sim.app import SimApp, _Handler
from claudewire.sim.config import SimConfig
from claudewire.sim.endpoints import ApiError, parse_json
from claudewire.sim.faults import FaultSpec
from claudewire.sim.sigv4 import SignedRequest, SigV4Error, check_sigv4
from claudewire.sim.stats import Stats

__all__ = ["SERVICE", "MantleApp", "mantle_model_name"]

SERVICE = "bedrock-mantle"
"""The SigV4 service name requests must be signed for."""

_PREFIX = "/anthropic"
_AWS = "aws:"  # error_type prefix naming the exception AWS's front door answers with
_MODEL_ID = re.compile(r"^(?:[a-z]+(?:-[a-z]+)?\.)?anthropic\.(?P<name>.+)$")


def mantle_model_name(model_id: str) -> str | None:
    """The Anthropic model name in a Mantle model id (``anthropic.claude-x`` → ``claude-x``); None for a bare id."""
    match = _MODEL_ID.match(model_id)
    return match["name"] if match else None


class MantleApp(SimApp):
    """`SimApp` under ``/anthropic/`` with Mantle's model ids, SigV4 (``bedrock-mantle``) or Bedrock API keys.

    `received` keeps, for the most recent calls, the model id sent and how the request authenticated.
    """

    follows_api_dates = False  # the cloud's own model lifecycle: the declared stages

    def __init__(self, config: SimConfig, stats: Stats) -> None:
        super().__init__(config, stats)
        self.received: deque[dict[str, Any]] = deque(maxlen=max(1, config.request_log_size))

    @property
    def region(self) -> str:
        """The region requests must be signed for."""
        return self.config.region or "us-east-1"

    def _routes(self) -> dict[tuple[str, str], _Handler]:
        return {
            ("POST", _PREFIX + "/v1/messages"): self._messages,
            ("POST", _PREFIX + "/v1/messages/count_tokens"): self._count_tokens,
        }

    def _read_body(self, request: web.Request, raw: bytes) -> tuple[str, Mapping[str, Any] | None]:
        path = request.path
        if not path.startswith(_PREFIX + "/"):
            return path, None
        path = path[len(_PREFIX) :]
        if request.method != "POST" or path not in ("/v1/messages", "/v1/messages/count_tokens"):
            return path, None
        body = dict(parse_json(raw))
        model = body.get("model")
        if isinstance(model, str):
            name = mantle_model_name(model)
            if name is None or self.catalogue.get(name) is None:
                raise ApiError(404, "not_found_error", f"model: {model}")
            if name in self.config.disabled_models:
                raise ApiError(
                    403,
                    _AWS + "AccessDeniedException",
                    "You don't have access to the model with the specified model ID.",
                )
            body["model"] = name
        self.received.append({"model": model, "auth": _auth_kind(request)})
        return path, body

    def _authenticate(self, request: web.Request, raw: bytes) -> str:
        auth = request.headers.get("authorization", "")
        key = request.headers.get("x-api-key", "")
        if auth[:7].lower() == "bearer " or key:  # a Bedrock API key
            token = key or auth[7:].strip()
            if not token or (self.config.api_keys and token not in self.config.api_keys):
                raise ApiError(403, _AWS + "AccessDeniedException", "Authentication failed: invalid Bedrock API key")
            return self._not_expired(token)
        if not auth and self.config.aws_access_key_id is None and not self.config.api_keys:
            return "unsigned"  # a simulator given no keys serves a gateway that signs for its clients
        url = f"{request.scheme}://{request.host}{request.raw_path}"
        signed = SignedRequest(request.method, url, {k.lower(): v for k, v in request.headers.items()}, raw)
        try:
            akid = check_sigv4(
                signed,
                service=SERVICE,
                region=self.region,
                access_key=self.config.aws_access_key_id,
                secret_key=self.config.aws_secret_access_key,
            )
        except SigV4Error as exc:
            raise ApiError(403, _AWS + exc.exception, exc.message) from None
        return self._not_expired(akid)

    def _not_expired(self, key: str) -> str:
        if key in self.config.expired_keys:
            message = "The security token included in the request is expired"
            raise ApiError(403, _AWS + "ExpiredTokenException", message)
        return key

    def _respond(self, status: int, body: bytes, headers: dict[str, str]) -> web.Response:
        return super()._respond(status, body, _aws_id(headers))

    async def _write_stream(
        self, request: web.Request, headers: dict[str, str], events: list[bytes], first: int, spec: FaultSpec | None
    ) -> web.StreamResponse:
        return await super()._write_stream(request, _aws_id(headers), events, first, spec)

    def _error(
        self, status: int, error_type: str, message: str, headers: dict[str, str], rid: str, **extra: Any
    ) -> web.Response:
        if not error_type.startswith(_AWS):
            return super()._error(status, error_type, message, headers, rid, **extra)
        exception = error_type[len(_AWS) :]
        headers["x-amzn-ErrorType"] = f"{exception}:http://internal.amazon.com/coral/com.amazon.bedrock/"
        return self._respond(status, json.dumps({"message": message}).encode(), headers)


def _aws_id(headers: dict[str, str]) -> dict[str, str]:
    """The headers with AWS's request id beside the API's."""
    rid = headers.get("request-id", "")
    headers["x-amzn-RequestId"] = str(uuid.uuid5(uuid.NAMESPACE_URL, rid)) if rid else str(uuid.uuid4())
    return headers


def _auth_kind(request: web.Request) -> str:
    auth = request.headers.get("authorization", "")
    if auth.startswith("AWS4-HMAC-SHA256"):
        return "sigv4"
    if auth[:7].lower() == "bearer " or request.headers.get("x-api-key"):
        return "api-key"
    return "none"
