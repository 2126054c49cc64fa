"""The simulator speaking Amazon Bedrock's InvokeModel API for Anthropic models (``claudewire sim --api bedrock``).

Paths, as the official SDK's ``AnthropicBedrock`` and Claude Code's Bedrock mode call them::

    POST /model/{model id}/invoke                       a Messages body without model/stream → the Message JSON
    POST /model/{model id}/invoke-with-response-stream  → application/vnd.amazon.eventstream, one chunk per event
    POST /model/{model id}/count-tokens                 {"input":{"invokeModel":{"body":<base64>}}} → {"inputTokens"}

The body carries ``anthropic_version`` and, for betas, an ``anthropic_beta`` array; a beta outside the allowlist is
the 400 "invalid beta flag" Bedrock answers. Requests are SigV4-signed for service ``bedrock`` in the simulator's
region (the signature is verified when the simulator knows the key pair) or carry a Bedrock API key as a bearer
token; a simulator given no keys also serves unsigned requests (as Claude Code sends them with
``CLAUDE_CODE_SKIP_BEDROCK_AUTH``). Errors are Bedrock's: ``{"message"}`` bodies with ``x-amzn-ErrorType``, and
exception frames mid-stream; a stream has no ``ping`` (Bedrock sends none). Catalogue, faults and pacing are the
anthropic mode's; `FaultSpec` ``path=`` filters match the Anthropic path (``/v1/messages``) each call stands for.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections import deque
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from claudewire._bedrock import BEDROCK_BETAS
from claudewire.sim.app import SimApp, _Handler
from claudewire.sim.config import ACCEPTED_VERSIONS, SimConfig
from claudewire.sim.endpoints import ApiError, count_tokens, parse_json
from claudewire.sim.eventstream import exception_frame, sse_to_chunk
from claudewire.sim.faults import FaultSpec
from claudewire.sim.shapes import ERROR_TYPES
from claudewire.sim.sigv4 import SignedRequest, SigV4Error, check_sigv4
from claudewire.sim.stats import Stats
from claudewire.sim.stream import StreamShape, write_stream

__all__ = ["BEDROCK_BETAS", "BEDROCK_VERSIONS", "BedrockApp", "bedrock_model_name"]

EVENTSTREAM = "application/vnd.amazon.eventstream"

BEDROCK_VERSIONS: frozenset[str] = ACCEPTED_VERSIONS | {"bedrock-2023-05-31"}
"""``anthropic_version`` body values the simulated Bedrock accepts."""


# Anthropic status → (Bedrock exception, HTTP status it answers with)
_EXCEPTIONS: dict[int, tuple[str, int]] = {
    400: ("ValidationException", 400),
    401: ("UnrecognizedClientException", 403),
    402: ("AccessDeniedException", 403),
    403: ("AccessDeniedException", 403),
    404: ("ResourceNotFoundException", 404),
    408: ("ModelTimeoutException", 408),
    409: ("ValidationException", 400),
    413: ("ValidationException", 400),
    429: ("ThrottlingException", 429),
    500: ("InternalServerException", 500),
    502: ("InternalServerException", 500),
    503: ("ServiceUnavailableException", 503),
    504: ("ModelTimeoutException", 408),
    529: ("ServiceUnavailableException", 503),
}
_MESSAGES = {
    "ThrottlingException": "Too many requests, please wait before trying again.",
    "ServiceUnavailableException": "Bedrock is unable to process your request.",
    "ModelTimeoutException": "Model has timed out in processing the request. Try your request again.",
    "InternalServerException": "The server encountered an internal error while processing the request.",
    "AccessDeniedException": "You don't have access to the model with the specified model ID.",
    "UnrecognizedClientException": "The security token included in the request is invalid.",
}
# Anthropic status of a midstream_error fault → the exception frame ending the stream
_STREAM_EXCEPTIONS: dict[int, str] = {
    400: "validationException",
    408: "modelTimeoutException",
    424: "modelStreamErrorException",
    429: "throttlingException",
    500: "internalServerException",
    503: "serviceUnavailableException",
    504: "modelTimeoutException",
}
_BETAS = web.RequestKey("anthropic_beta", tuple[str, ...])  # the body's betas, for the validation of the request
_PING = b"event: ping"
_AWS = "aws:"  # error_type prefix naming the exception Bedrock's front door answers with
_MODEL_ID = re.compile(r"^(?:[a-z]+(?:-[a-z]+)?\.)?anthropic\.(?P<name>.+?)(?:-v\d+(?::\d+)?)?$")
_OPS = {
    "invoke": "/v1/messages",
    "invoke-with-response-stream": "/v1/messages",
    "count-tokens": "/v1/messages/count_tokens",
}


def bedrock_model_name(model_id: str) -> str:
    """The Anthropic model name in a Bedrock model id, inference profile or ARN (``us.anthropic.X-v1:0`` → ``X``)."""
    tail = model_id.rsplit("/", 1)[-1]
    match = _MODEL_ID.match(tail)
    return match["name"] if match else tail


def _malformed(detail: str) -> ApiError:
    message = f"Malformed input request: #: {detail}, please reformat your input and try again."
    return ApiError(400, "invalid_request_error", message)


class BedrockApp(SimApp):
    """`SimApp` behind Bedrock's InvokeModel paths, auth, errors and event-stream framing.

    `received` keeps, for the most recent calls, the model id, ``anthropic_version`` and ``anthropic_beta`` sent.
    """

    follows_api_dates = False  # the cloud's own model lifecycle: the declared stages

    def __init__(self, config: SimConfig, stats: Stats) -> None:
        super().__init__(config, stats)
        self.received: deque[dict[str, Any]] = deque(maxlen=max(1, config.request_log_size))

    def _routes(self) -> dict[tuple[str, str], _Handler]:
        return {
            ("POST", "/model/{model_id}/invoke"): self._messages,
            ("POST", "/model/{model_id}/invoke-with-response-stream"): self._messages,
            ("POST", "/model/{model_id}/count-tokens"): self._count_tokens,
        }

    @property
    def region(self) -> str:
        """The region requests must be signed for."""
        return self.config.region or "us-east-1"

    def _read_body(self, request: web.Request, raw: bytes) -> tuple[str, Mapping[str, Any] | None]:
        model_id = request.match_info.get("model_id")
        op = request.path.rsplit("/", 1)[-1]
        if request.method != "POST" or model_id is None or op not in _OPS:
            return request.path, None
        body = dict(parse_json(raw))
        if op == "count-tokens":
            body = self._count_tokens_input(body)
        for key in ("model", "stream"):
            if key in body:
                raise _malformed(f"extraneous key [{key}] is not permitted")
        version = body.pop("anthropic_version", None)
        if version is None:
            raise _malformed("required key [anthropic_version] not found")
        if version not in BEDROCK_VERSIONS:
            raise _malformed(f"anthropic_version: {version} is not a supported version")
        betas = body.pop("anthropic_beta", [])
        if not isinstance(betas, list) or not all(isinstance(b, str) for b in betas):
            raise _malformed("anthropic_beta: expected type: JSONArray of strings")
        allowed = self.config.betas if self.config.betas is not None else BEDROCK_BETAS
        if any(beta not in allowed for beta in betas):
            raise ApiError(400, "invalid_request_error", "invalid beta flag")
        request[_BETAS] = tuple(betas)
        name = bedrock_model_name(model_id)
        if self.catalogue.get(name) is None:
            raise ApiError(400, "invalid_request_error", "The provided model identifier is invalid.")
        if name in self.config.disabled_models:
            raise ApiError(403, _AWS + "AccessDeniedException", _MESSAGES["AccessDeniedException"])
        body["model"] = name
        if op == "invoke-with-response-stream":
            body["stream"] = True
        self.received.append({"model_id": model_id, "anthropic_version": version, "anthropic_beta": betas})
        return _OPS[op], body

    @staticmethod
    def _count_tokens_input(body: Mapping[str, Any]) -> dict[str, Any]:
        invoke = body.get("input", {}).get("invokeModel") if isinstance(body.get("input"), Mapping) else None
        encoded = invoke.get("body") if isinstance(invoke, Mapping) else None
        if not isinstance(encoded, str):
            raise ApiError(
                400,
                "invalid_request_error",
                "1 validation error detected: Value at 'input' failed to "
                "satisfy constraint: input.invokeModel.body must be a base64-encoded InvokeModel body",
            )
        try:
            return dict(parse_json(base64.b64decode(encoded, validate=True)))
        except binascii.Error:
            raise ApiError(400, "invalid_request_error", "input.invokeModel.body is not valid base64") from None

    async def _count_tokens(
        self, request: web.Request, body: Mapping[str, Any] | None, rid: str, ctx: Any
    ) -> web.StreamResponse:
        assert body is not None
        counted = json.loads(count_tokens(body, self.catalogue, self._betas(request)))
        self._admit(ctx.key, 0, False, ctx.headers)
        return self._respond(200, json.dumps({"inputTokens": counted["input_tokens"]}).encode(), ctx.headers)

    def _betas(self, request: web.Request) -> tuple[str, ...]:
        return tuple(request.get(_BETAS, ()))

    def _check_version(self, request: web.Request, body: Mapping[str, Any] | None) -> None:
        pass  # Bedrock reads anthropic_version from the body (checked in _read_body), not a header

    def _authenticate(self, request: web.Request, raw: bytes) -> str:
        auth = request.headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":  # a Bedrock API key
            key = auth[7:].strip()
            if not key or (self.config.api_keys and key not in self.config.api_keys):
                raise ApiError(403, _AWS + "AccessDeniedException", "Authentication failed: invalid Bedrock API key")
            return _not_expired(key, self.config)
        if not auth and self.config.aws_access_key_id is None and not self.config.api_keys:
            # unsigned, as Claude Code sends with CLAUDE_CODE_SKIP_BEDROCK_AUTH=1 to a gateway that signs for it;
            # a simulator given keys requires them
            return "unsigned"
        url = f"{request.scheme}://{request.host}{request.raw_path}"
        signed = SignedRequest(request.method, url, {k.lower(): v for k, v in request.headers.items()}, raw)
        try:
            akid = check_sigv4(
                signed,
                service="bedrock",
                region=self.region,
                access_key=self.config.aws_access_key_id,
                secret_key=self.config.aws_secret_access_key,
            )
        except SigV4Error as exc:
            raise ApiError(403, _AWS + exc.exception, exc.message) from None
        return _not_expired(akid, self.config)

    def _respond(self, status: int, body: bytes, headers: dict[str, str]) -> web.Response:
        return super()._respond(status, body, _aws_headers(headers))

    def _error(
        self, status: int, error_type: str, message: str, headers: dict[str, str], rid: str, **extra: Any
    ) -> web.Response:
        exception, answer = _EXCEPTIONS.get(status, ("InternalServerException", 500))
        if error_type.startswith(_AWS):  # raised by Bedrock's front door under its own name
            exception, answer = error_type[len(_AWS) :], status
        if message == ERROR_TYPES.get(status, ("", ""))[1]:
            message = _MESSAGES.get(exception, message)  # a status fault: Bedrock's own wording
        headers["x-amzn-ErrorType"] = f"{exception}:http://internal.amazon.com/coral/com.amazon.bedrock/"
        headers.pop("retry-after", None)  # Bedrock sends none
        return self._respond(answer, json.dumps({"message": message}).encode(), headers)

    async def _write_stream(
        self, request: web.Request, headers: dict[str, str], events: list[bytes], first: int, spec: FaultSpec | None
    ) -> web.StreamResponse:
        metrics = _invocation_metrics(events)
        # Bedrock's event stream carries no pings: the Anthropic stream's are left out (and the first delta moves up)
        first -= sum(1 for event in events[:first] if event.startswith(_PING))
        frames = [sse_to_chunk(event, metrics) for event in events if not event.startswith(_PING)]
        status = spec.status if spec is not None and spec.status is not None else 529
        name = _STREAM_EXCEPTIONS.get(status, "modelStreamErrorException")
        if name == "modelStreamErrorException":
            original, original_message = ERROR_TYPES.get(status, ("api_error", "Internal server error"))
            error = exception_frame(
                name,
                f"Received error from the model: {original}",
                originalStatusCode=status,
                originalMessage=original_message,
            )
        else:
            error = exception_frame(name, _MESSAGES.get(name[0].upper() + name[1:], name))
        shape = StreamShape.of(spec, self.config.pacing, sse_error=error)
        return await write_stream(request, _aws_headers(headers), frames, first, shape, content_type=EVENTSTREAM)


def _not_expired(key: str, config: SimConfig) -> str:
    """`key` (an API key or access key id), unless the simulator was told it has expired."""
    if key in config.expired_keys:
        raise ApiError(403, _AWS + "ExpiredTokenException", "The security token included in the request is expired")
    return key


def _invocation_metrics(events: list[bytes]) -> dict[str, Any]:
    """The ``amazon-bedrock-invocationMetrics`` Bedrock adds to ``message_stop``, from the stream's usage."""
    input_tokens = output_tokens = 0
    for event in events:
        if event.startswith(b"event: message_start"):
            input_tokens = json.loads(event.split(b"data: ", 1)[1])["message"]["usage"]["input_tokens"]
        elif event.startswith(b"event: message_delta"):
            output_tokens = json.loads(event.split(b"data: ", 1)[1])["usage"]["output_tokens"]
    return {
        "inputTokenCount": input_tokens,
        "outputTokenCount": output_tokens,
        "invocationLatency": 1,
        "firstByteLatency": 1,
    }


def _aws_headers(headers: dict[str, str]) -> dict[str, str]:
    """The Anthropic-mode headers as Bedrock's: no anthropic-* rate-limit headers, an x-amzn-RequestId."""
    out = {k: v for k, v in headers.items() if not k.startswith("anthropic-") and k != "request-id"}
    rid = headers.get("request-id", "")
    out["x-amzn-RequestId"] = str(uuid.uuid5(uuid.NAMESPACE_URL, rid)) if rid else str(uuid.uuid4())
    return out
