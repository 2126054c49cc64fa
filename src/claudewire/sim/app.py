"""The simulator's aiohttp application: one pipeline for every request, faults injected at the layer they belong to.

Order per request: read the body, roll the faults, count it; added latency; network faults (captive portal,
connection reset, stall) that a middlebox would cause before the API sees anything; then the API's own checks (key,
``anthropic-version``, the request), rate-limit accounting, status faults, and finally the answer, streamed
event by event when asked.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import functools
import itertools
import json
import logging
import math
import secrets
import socket
import struct
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from aiohttp import web

from claudewire.sim.batches import BatchStore
from claudewire.sim.cache import CacheControlError, PromptCache
from claudewire.sim.catalogue import Catalogue, utc_today
from claudewire.sim.config import SimConfig
from claudewire.sim.endpoints import (
    ApiError,
    check_version,
    count_tokens,
    get_model,
    list_models,
    parse_json,
    validate_messages,
)
from claudewire.sim.faults import NETWORK, NO_RETRY_AFTER, FaultDecision, FaultKind, FaultPlan, FaultSpec
from claudewire.sim.files import FileStore
from claudewire.sim.ratelimit import Admission, RateLimiter
from claudewire.sim.replies import ReplyScript, scripted_reply
from claudewire.sim.shapes import (
    ERROR_TYPES,
    SPEND_LIMIT_MESSAGE,
    build_reply,
    error_body,
    message_body,
    portal_page,
    sse,
    stream_events,
)
from claudewire.sim.stats import Stats
from claudewire.sim.storage import StorageRoute, storage_routes
from claudewire.sim.stream import StreamShape, write_stream
from claudewire.sim.validation import betas_of

__all__ = ["SimApp"]

_requests_log = logging.getLogger("claudewire.sim.requests")
"""One line per request (method, path, status, time) at INFO; off unless a handler is configured (the CLI's flag)."""

_JSON = "application/json"
_JSON_BODIES = frozenset({"/v1/messages", "/v1/messages/count_tokens", "/v1/messages/batches"})
_Handler = Callable[[web.Request, Mapping[str, Any] | None, str, "_Ctx"], Awaitable[web.StreamResponse]]


@functools.lru_cache(maxsize=512)
def _rfc3339(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Ctx:
    """Per-request state the pipeline hands to the endpoint."""

    __slots__ = ("decision", "headers", "key", "raw")

    def __init__(self, decision: FaultDecision, headers: dict[str, str], key: str, raw: bytes) -> None:
        self.decision = decision
        self.headers = headers
        self.key = key
        self.raw = raw


class SimApp:
    """The request pipeline over one config; `set_faults` swaps the fault plan atomically from any thread.

    `script` holds the scripted replies still to serve; `batches` and `files` are the in-memory stores behind the
    Message Batches and Files endpoints (the Anthropic dialect serves them).
    """

    # The Anthropic API retires a model on its retires_at day; a cloud dialect keeps the declared stages, as a cloud
    # retires models on its own schedule (Claude Code's default Bedrock model outlives the API's date).
    follows_api_dates: ClassVar[bool] = True

    def __init__(self, config: SimConfig, stats: Stats) -> None:
        self.config = config
        self.stats = stats
        day = config.today
        today = (lambda: day) if day is not None else utc_today
        self.catalogue = Catalogue(config.models, today if self.follows_api_dates else None)
        self.limiter = RateLimiter(config.rate_limits)
        self.cache = PromptCache()
        self.script = ReplyScript(config.replies)
        self.batches = BatchStore(config.storage, config.batch_delay, self._batch_answer)
        self.files = FileStore(config.storage)
        self.plan = FaultPlan.build(config.profile, config.faults, config.seed)
        self.profile = config.profile
        self.closing: asyncio.Event | None = None
        self._ids = itertools.count(1)
        self._prefix = secrets.token_hex(4)
        self._org = "00000000-0000-4000-8000-" + secrets.token_hex(6)

    def set_faults(self, faults: Iterable[FaultSpec | str], profile: str | None = None) -> None:
        """Replace the faults in force (profile's plus `faults`), restarting the seeded sequence."""
        plan = FaultPlan.build(profile or self.profile, faults, self.config.seed)
        self.profile = profile or self.profile
        self.plan = plan  # one reference assignment: atomic for the serving thread

    def application(self) -> web.Application:
        """The aiohttp application serving every route."""
        app = web.Application(client_max_size=32 * 1024 * 1024, handler_args={"access_log": None})
        for (method, path), handler in self._routes().items():
            app.router.add_route(method, path, self._pipeline(handler))
        app.router.add_route("*", "/{tail:.*}", self._pipeline(self._not_found))
        return app

    # --- pipeline -------------------------------------------------------------------------------------------------

    def _pipeline(self, endpoint: _Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            self.stats.in_flight += 1
            started = time.monotonic()
            status = 0
            try:
                response = await serve(request)
                status = response.status
                return response
            finally:  # also when aiohttp cancels the handler because the client left
                self.stats.in_flight -= 1
                if _requests_log.isEnabledFor(logging.INFO):  # `claudewire sim --log-requests`
                    ms = (time.monotonic() - started) * 1000
                    _requests_log.info("%s %s -> %s in %.0f ms", request.method, request.path, status or "-", ms)

        async def serve(request: web.Request) -> web.StreamResponse:
            n = next(self._ids)
            rid = f"req_sim{self._prefix}{n:012d}"
            path = request.path
            body: Mapping[str, Any] | None = None
            bad: ApiError | None = None
            raw = b""
            try:
                raw = await request.read() if request.can_read_body else b""
                path, body = self._read_body(request, raw)
            except ApiError as exc:
                bad = exc
            except web.HTTPRequestEntityTooLarge:
                bad = ApiError(413, "request_too_large", "Request exceeds the maximum allowed number of bytes.")
            streaming = body is not None and body.get("stream") is True and path == "/v1/messages"
            decision = self.plan.decide(path, streaming)
            self.stats.record(
                request.method,
                request.path,
                {k.lower(): v for k, v in request.headers.items()},
                rid,
                tuple(k.value for k in decision.applied),
            )
            if decision.delay:
                await asyncio.sleep(decision.delay)
            terminal = decision.terminal
            if terminal is not None and terminal.kind in NETWORK:
                return await self._network_fault(request, terminal)
            headers = {"request-id": rid, "anthropic-organization-id": self._org}
            skew = decision.skew or self.config.clock_skew
            if skew:
                headers["Date"] = email.utils.formatdate(time.time() + skew, usegmt=True)
            key = ""
            try:
                key = self._authenticate(request, raw)
                self._check_version(request, body)
                if bad is not None:
                    raise bad
                if terminal is not None:
                    self._admit(key, 0, False, headers)
                    return self._status_fault(terminal, headers, rid)
                return await endpoint(request, body, rid, _Ctx(decision, headers, key, raw))
            except ApiError as exc:
                if key and "anthropic-ratelimit-requests-limit" not in headers:
                    self._admit(key, 0, False, headers)  # every answer to a known key reports its limits
                return self._error(exc.status, exc.error_type, exc.message, headers, rid)

        return handle

    # --- dialect hooks: a cloud dialect (sim/bedrock.py, sim/vertex.py, sim/foundry.py) overrides these ------------

    def _routes(self) -> dict[tuple[str, str], _Handler]:
        """(method, path pattern) → endpoint; anything else answers 404 "not simulated"."""
        routes = self._api_routes()
        for key, route in storage_routes(self.batches, self.files).items():
            routes[key] = self._stored(route)
        return routes

    def _api_routes(self) -> dict[tuple[str, str], _Handler]:
        """The stateless endpoints: messages, count_tokens, models (a cloud dialect maps its paths onto these)."""
        return {
            ("POST", "/v1/messages"): self._messages,
            ("POST", "/v1/messages/count_tokens"): self._count_tokens,
            ("GET", "/v1/models"): self._models,
            ("GET", "/v1/models/{model_id}"): self._model,
        }

    def _read_body(self, request: web.Request, raw: bytes) -> tuple[str, Mapping[str, Any] | None]:
        """The Anthropic path this request stands for (faults match it) and its parsed JSON body, if any."""
        if request.method == "POST" and request.path in _JSON_BODIES:
            return request.path, parse_json(raw)
        return request.path, None

    def _check_version(self, request: web.Request, body: Mapping[str, Any] | None) -> None:
        check_version(request.headers.get("anthropic-version"))

    def _betas(self, request: web.Request) -> tuple[str, ...]:
        """The betas this request asks for (Bedrock carries them in the body: its `_read_body` stores them)."""
        return betas_of(request.headers.get("anthropic-beta"))

    async def _write_stream(
        self, request: web.Request, headers: dict[str, str], events: list[bytes], first: int, spec: FaultSpec | None
    ) -> web.StreamResponse:
        """Send a streamed reply as SSE; a midstream_error fault ends it with an ``error`` event."""
        error_type, message = stream_error(spec)
        error = sse("error", {"type": "error", "error": {"type": error_type, "message": message}})
        shape = StreamShape.of(spec, self.config.pacing, sse_error=error)
        return await write_stream(request, headers, events, first, shape)

    def _authenticate(self, request: web.Request, raw: bytes) -> str:
        key = request.headers.get("x-api-key")
        if not key:
            auth = request.headers.get("authorization", "")
            key = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        if not key:
            raise ApiError(401, "authentication_error", "x-api-key header is required")
        if self.config.api_keys and key not in self.config.api_keys:
            raise ApiError(401, "authentication_error", "invalid x-api-key")
        return key

    def _respond(self, status: int, body: bytes, headers: dict[str, str]) -> web.Response:
        self.stats.status(status)
        return web.Response(status=status, body=body, headers=headers, content_type=_JSON)

    def _error(
        self, status: int, error_type: str, message: str, headers: dict[str, str], rid: str, **extra: Any
    ) -> web.Response:
        return self._respond(status, error_body(error_type, message, rid, extra.get("details")), headers)

    def _status_fault(self, spec: FaultSpec, headers: dict[str, str], rid: str) -> web.Response:
        status = spec.kind.status or 500
        if spec.kind is FaultKind.SPEND_LIMIT:
            headers["x-should-retry"] = "false"
            details = {"error_code": "enforced_spend_limit_reached"}
            return self._error(429, "rate_limit_error", SPEND_LIMIT_MESSAGE, headers, rid, details=details)
        retry_after = spec.retry_after
        if retry_after is None and status == 429:
            retry_after = 1.0
        if retry_after is not None and retry_after != NO_RETRY_AFTER:
            headers["retry-after"] = f"{retry_after:g}"
        error_type, message = ERROR_TYPES[status]
        return self._error(status, error_type, message, headers, rid)

    async def _network_fault(self, request: web.Request, spec: FaultSpec) -> web.StreamResponse:
        if spec.kind is FaultKind.PORTAL:
            self.stats.status(200)
            return web.Response(status=200, body=portal_page(request.path), content_type="text/html")
        if spec.kind is FaultKind.STALL:
            closing = self.closing or asyncio.Event()
            timeout = spec.seconds  # None: until the server shuts down
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(closing.wait(), timeout)
        _reset(request)
        return web.Response()  # never sent: the transport is gone, and aiohttp drops the ConnectionError

    def _admit(self, key: str, tokens: int, consume: bool, headers: dict[str, str]) -> Admission:
        admission = self.limiter.admit(key, tokens if consume else 0, time.monotonic(), consume=consume)
        now = time.time()
        headers["anthropic-ratelimit-requests-limit"] = str(admission.requests_limit)
        headers["anthropic-ratelimit-requests-remaining"] = str(admission.requests_remaining)
        headers["anthropic-ratelimit-requests-reset"] = _rfc3339(math.ceil(now + admission.requests_reset_in))
        headers["anthropic-ratelimit-tokens-limit"] = str(admission.tokens_limit)
        headers["anthropic-ratelimit-tokens-remaining"] = str(admission.tokens_remaining)
        headers["anthropic-ratelimit-tokens-reset"] = _rfc3339(math.ceil(now + admission.tokens_reset_in))
        return admission

    # --- endpoints ------------------------------------------------------------------------------------------------

    async def _messages(
        self, request: web.Request, body: Mapping[str, Any] | None, rid: str, ctx: _Ctx
    ) -> web.StreamResponse:
        assert body is not None  # POST bodies are parsed or rejected by the pipeline
        version = request.headers.get("anthropic-version")
        model, input_tokens = validate_messages(body, self.catalogue, self._betas(request), version)
        try:
            cache_plan = self.cache.plan(ctx.key, model.id, body)
        except CacheControlError as exc:
            raise ApiError(400, "invalid_request_error", str(exc)) from None
        n = next(self._ids)
        scripted = self.script.peek()
        if scripted is not None:
            reply = scripted_reply(scripted, int(body["max_tokens"]), n)
        else:
            reply = build_reply(body, self.config.reply_tokens, n)
        admission = self._admit(ctx.key, input_tokens + reply.output_tokens, True, ctx.headers)
        if not admission.allowed:
            wait = 60.0 if math.isinf(admission.retry_after) else admission.retry_after
            ctx.headers["retry-after"] = str(max(1, math.ceil(wait)))
            kind = "tokens" if admission.requests_remaining > 0 else "requests"
            message = f"This request would exceed your organization's rate limit of {kind} per minute."
            raise ApiError(429, "rate_limit_error", message)
        if scripted is not None:
            self.script.take()  # served: a refused request leaves the script as it was
        name = str(body["model"])
        message_id = f"msg_01Sim{self._prefix}{n:012d}"
        cache = self.cache.apply(cache_plan, input_tokens)
        if body.get("stream") is True:
            events, first = stream_events(message_id, name, reply, input_tokens, cache)
            self.stats.status(200)
            return await self._write_stream(request, ctx.headers, events, first, ctx.decision.stream)
        return self._respond(200, message_body(message_id, name, reply, input_tokens, cache), ctx.headers)

    async def _count_tokens(
        self, request: web.Request, body: Mapping[str, Any] | None, rid: str, ctx: _Ctx
    ) -> web.StreamResponse:
        assert body is not None
        answer = count_tokens(body, self.catalogue, self._betas(request), request.headers.get("anthropic-version"))
        self._admit(ctx.key, 0, False, ctx.headers)
        return self._respond(200, answer, ctx.headers)

    async def _models(
        self, request: web.Request, body: Mapping[str, Any] | None, rid: str, ctx: _Ctx
    ) -> web.StreamResponse:
        answer = list_models(self.catalogue, request.query)
        self._admit(ctx.key, 0, False, ctx.headers)
        return self._respond(200, answer, ctx.headers)

    async def _model(
        self, request: web.Request, body: Mapping[str, Any] | None, rid: str, ctx: _Ctx
    ) -> web.StreamResponse:
        answer = get_model(self.catalogue, request.match_info["model_id"])
        self._admit(ctx.key, 0, False, ctx.headers)
        return self._respond(200, answer, ctx.headers)

    def _stored(self, route: StorageRoute) -> _Handler:
        """A batch or file route as an endpoint: its answer with the key's rate-limit headers."""

        async def endpoint(
            request: web.Request, body: Mapping[str, Any] | None, rid: str, ctx: _Ctx
        ) -> web.StreamResponse:
            answer = route(request, ctx.raw, body)
            self._admit(ctx.key, 0, False, ctx.headers)
            self.stats.status(200)
            headers = {**ctx.headers, **answer.headers}
            return web.Response(status=200, body=answer.body, headers=headers, content_type=answer.content_type)

        return endpoint

    def _batch_answer(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """One batch request answered as a messages call would be: a succeeded or errored result object."""
        try:
            _, input_tokens = validate_messages(params, self.catalogue)
        except ApiError as exc:
            error = {"type": exc.error_type, "message": exc.message}
            return {"type": "errored", "error": {"type": "error", "error": error}}
        n = next(self._ids)
        reply = build_reply(params, self.config.reply_tokens, n)
        message = message_body(f"msg_01Sim{self._prefix}{n:012d}", str(params["model"]), reply, input_tokens)
        return {"type": "succeeded", "message": json.loads(message)}

    async def _not_found(
        self, request: web.Request, body: Mapping[str, Any] | None, rid: str, ctx: _Ctx
    ) -> web.StreamResponse:
        served = ", ".join(f"{method} {path}" for method, path in self._routes())
        raise ApiError(
            404,
            "not_found_error",
            f"{request.method} {request.path} is not simulated by claudewire sim; simulated endpoints: {served}",
        )


def stream_error(spec: FaultSpec | None) -> tuple[str, str]:
    """``(error.type, message)`` a midstream_error fault ends a stream with (``status=`` picks it; 529 by default)."""
    status = spec.status if spec is not None and spec.status is not None else 529
    return ERROR_TYPES.get(status, ("api_error", "Internal server error"))


def _reset(request: web.Request) -> None:
    """Close the connection with a TCP RST (SO_LINGER 0), as a dropped or killed connection looks to a client."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed by the peer: nothing left to reset
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
