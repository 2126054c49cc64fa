"""The ``bedrock`` upstream kind: Anthropic Messages → Amazon Bedrock InvokeModel, and the answers back.

Request: ``POST /v1/messages`` becomes ``POST /model/{model id}/invoke`` (``/invoke-with-response-stream`` for a
stream), ``/v1/messages/count_tokens`` becomes ``/model/{foundation model id}/count-tokens`` with the body wrapped
as ``{"input":{"invokeModel":{"body":<base64>}}}`` (``max_tokens`` above any thinking budget); a count Bedrock
cannot make (an application inference profile, or refused by Bedrock as unavailable) is 501 ``not_supported``. The
body loses ``model`` and ``stream`` and gains ``anthropic_version`` (`DEFAULT_VERSION` unless configured) and the
``anthropic-beta`` header's values as an ``anthropic_beta`` array, filtered through the upstream's allowlist
(`DEFAULT_BETAS` unless configured; `aliases` rename a beta Bedrock spells differently): a beta Bedrock does not
know would fail the whole call with 400 "invalid beta flag", so it is dropped and logged, never sent. Without the
mid-conversation-system beta, ``role: "system"`` messages between turns (Claude Code sends them) become user turns
in ``<system-reminder>`` tags, as Claude Code itself writes them where that beta is missing
(`fold_system_messages`). Auth: a Bedrock API key from `keys` as ``Authorization: Bearer``, else SigV4 (service
``bedrock``) with the standard AWS credential chain, signed by botocore.

Answer: the JSON Message passes as it is (read whole: bounded and scrubbed); the event-stream is re-emitted as SSE
event by event (`EventStreamToSSE`, which has no pings: the gateway adds them); Bedrock errors become Anthropic
error bodies with the matching status and Bedrock's own words (`bedrock_error`, with the capability token Claude Code
recovers by); ``inputTokens`` comes back as ``input_tokens``. Batches and files are refused in the Anthropic
error shape.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from claudewire._bedrock import BEDROCK_BETAS
from claudewire.gateway.upstream.kinds.aws import AwsAuth, aws_region
from claudewire.gateway.upstream.kinds.base import (
    CANNOT_COUNT,
    CannotCount,
    KeyRing,
    Refusal,
    ResponseTranslator,
    UpstreamCall,
    WholeBody,
    without_headers,
)
from claudewire.gateway.upstream.kinds.errors import anthropic_error_body, bedrock_error
from claudewire.gateway.upstream.kinds.eventstream import EventStreamToSSE
from claudewire.gateway.upstream.kinds.models import bedrock_count_model, bedrock_model_id
from claudewire.gateway.upstream.kinds.request import (
    MID_CONVERSATION_SYSTEM,
    MessagesRequest,
    fold_system_messages,
    parse_messages_request,
)
from claudewire.gateway.upstream.pool import Headers, UpstreamTarget
from claudewire.gateway.wire import first_header

__all__ = ["DEFAULT_ALIASES", "DEFAULT_BETAS", "DEFAULT_VERSION", "BedrockKind"]

_log = logging.getLogger(__name__)

DEFAULT_VERSION = "2026-10-21"
"""The ``anthropic_version`` sent by default: what the official SDK's AnthropicBedrock sends (SDK 2.15)."""

DEFAULT_BETAS: frozenset[str] = BEDROCK_BETAS
"""Betas forwarded to Bedrock when an upstream sets no ``betas`` allowlist of its own."""

DEFAULT_ALIASES: Mapping[str, str] = {"advanced-tool-use-2025-11-20": "tool-search-tool-2025-10-19"}
"""Betas Bedrock names differently (tool search: ``advanced-tool-use`` on the Anthropic API, as Claude Code's own
provider table has it), used when an upstream sets no ``beta_aliases``."""

_DROP = frozenset(
    {
        b"x-api-key",
        b"authorization",
        b"anthropic-beta",
        b"anthropic-version",
        b"content-type",
        b"accept-encoding",
        b"x-amz-date",
        b"x-amz-security-token",
        b"x-amz-content-sha256",
    }
)
_HOST_REGION = re.compile(r"bedrock-runtime(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com")
_WARNED_MAX = 256


class BedrockKind:
    """Translator and signer for one ``kind = "bedrock"`` upstream."""

    name = "bedrock"

    def __init__(
        self,
        upstream_name: str,
        target: UpstreamTarget,
        *,
        region: str | None = None,
        keys: Sequence[str] = (),
        anthropic_version: str = DEFAULT_VERSION,
        betas: Sequence[str] | None = None,
        aliases: Mapping[str, str] | None = None,
        model_map: Mapping[str, str] | None = None,
        credentials: Any = None,
    ) -> None:
        self.upstream_name = upstream_name
        self.target = target
        self.region = aws_region(region, target.host, _HOST_REGION)
        self.keys = KeyRing(tuple(keys))
        self.anthropic_version = anthropic_version
        self.betas = frozenset(betas) if betas is not None else DEFAULT_BETAS
        self.aliases = dict(aliases) if aliases is not None else dict(DEFAULT_ALIASES)
        self.model_map = dict(model_map or {})
        self.auth = AwsAuth(upstream_name, self.name, "bedrock", target, self.region, self.keys, credentials)
        self._warned: set[str] = set()

    # --- request ------------------------------------------------------------------------------------------------

    async def request(
        self, method: bytes, path: bytes, headers: Headers, body: bytes, key: str | None
    ) -> UpstreamCall | Refusal:
        parsed = parse_messages_request(self.name, self.upstream_name, method, path, headers, body)
        if isinstance(parsed, Refusal):
            return parsed
        payload = dict(parsed.body)
        model = str(payload.pop("model"))
        payload.pop("stream", None)
        payload.setdefault("anthropic_version", self.anthropic_version)
        betas = self._betas(parsed, payload.get("anthropic_beta"))
        payload.pop("anthropic_beta", None)
        if betas:
            payload["anthropic_beta"] = betas
        if not any(b.startswith(MID_CONVERSATION_SYSTEM) for b in betas):
            folded = fold_system_messages(payload)
            if folded:
                _log.debug(
                    "bedrock upstream %s: %d mid-conversation system message(s) folded", self.upstream_name, folded
                )
        model_id = quote(bedrock_model_id(model, self.region, self.model_map), safe=":")
        if parsed.op == "count_tokens":
            foundation = bedrock_count_model(bedrock_model_id(model, self.region, self.model_map))
            if foundation is None:
                return Refusal(
                    501,
                    "not_supported",
                    f"count_tokens is not available on the bedrock upstream {self.upstream_name!r} for {model}: "
                    "Bedrock's CountTokens takes foundation-model ids, not an application inference profile",
                    should_retry=False,
                )
            model_id = quote(foundation, safe=":")
            # the wrapped body is an InvokeModel body: max_tokens is required, and must exceed a thinking budget
            thinking = payload.get("thinking")
            budget = thinking.get("budget_tokens") if isinstance(thinking, dict) else None
            payload.setdefault("max_tokens", budget + 1 if isinstance(budget, int) else 1)
            inner = json.dumps(payload, separators=(",", ":")).encode()
            data = json.dumps({"input": {"invokeModel": {"body": base64.b64encode(inner).decode()}}}).encode()
            route = f"/model/{model_id}/count-tokens"
        else:
            data = json.dumps(payload, separators=(",", ":")).encode()
            route = f"/model/{model_id}/invoke-with-response-stream" if parsed.stream else f"/model/{model_id}/invoke"
        auth, minted = await self.auth.headers(route, data, key)
        lines = [*without_headers(headers, _DROP), (b"content-type", b"application/json"), *auth]
        return UpstreamCall(b"POST", route.encode(), lines, data, parsed.op, parsed.stream, minted, parsed.betas)

    def _betas(self, parsed: MessagesRequest, in_body: object) -> list[str]:
        asked = list(parsed.betas)
        if isinstance(in_body, list):
            asked += [b for b in in_body if isinstance(b, str)]
        kept: list[str] = []
        dropped: list[str] = []
        for beta in asked:
            name = self.aliases.get(beta, beta)
            if name in self.betas:
                if name not in kept:
                    kept.append(name)
            else:
                dropped.append(beta)
        if dropped:
            fresh = [b for b in dropped if b not in self._warned]
            level = logging.WARNING if fresh else logging.DEBUG
            _log.log(
                level,
                "bedrock upstream %s: dropped beta(s) not on its allowlist: %s",
                self.upstream_name,
                ", ".join(dropped),
            )
            if len(self._warned) < _WARNED_MAX:
                self._warned.update(fresh)
        return kept

    # --- response -----------------------------------------------------------------------------------------------

    def response(self, call: UpstreamCall, status: int, headers: Headers) -> ResponseTranslator:
        if call.op == "count_tokens" and status in CANNOT_COUNT:
            return CannotCount(status, headers, where=f"the bedrock upstream {self.upstream_name!r}")
        if status >= 400:
            return _BedrockError(status, headers, call.betas)
        ctype = first_header(headers, b"content-type") or b""
        if call.stream and ctype.startswith(b"application/vnd.amazon.eventstream"):
            return EventStreamToSSE(status, headers)
        if call.op == "count_tokens":
            return _CountTokens(status, headers)
        return WholeBody(status, headers)  # the Message as JSON: read whole, bounded and scrubbed


class _BedrockError:
    """A Bedrock error answer → the Anthropic status and error body."""

    whole_body = True
    done = False
    pingless = False

    def __init__(self, status: int, headers: Headers, betas: tuple[str, ...] = ()) -> None:
        self._error = first_header(headers, b"x-amzn-errortype")
        self._betas = betas
        self.status, _ = bedrock_error(status, self._error, b"{}")
        self._upstream_status = status
        self.headers = [(k, v) for k, v in headers if k.lower() != b"content-type"] + [
            (b"content-type", b"application/json")
        ]

    def feed(self, chunk: bytes) -> bytes:
        _, body = bedrock_error(self._upstream_status, self._error, chunk, self._betas)
        return body

    def end(self) -> bytes:
        return b""


@dataclass(slots=True)
class _CountTokens(WholeBody):
    """``{"inputTokens": N}`` → ``{"input_tokens": N}``."""

    def feed(self, chunk: bytes) -> bytes:
        try:
            tokens = json.loads(chunk)["inputTokens"]
        except (ValueError, KeyError, TypeError):
            self.status = 502
            return anthropic_error_body("api_error", "Bedrock's count-tokens answer had no inputTokens")
        return json.dumps({"input_tokens": tokens}).encode()
