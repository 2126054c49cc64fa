"""The OpenAI-compatible ingress: Chat Completions, Responses, Cursor's and Azure's routes, and the model list.

Each request is translated once, before the call flow, into the Messages request it stands for (`claudewire.dialects`),
and from there it is an ordinary call of the gateway: the same auth, per-client models and limits (judged on the
canonical request: ``/v1/messages`` and the Claude model id), routing, retries, breaker, failover across every kind of
upstream, the first-delta hold, and one call record with its ``dialect``. Only the accepted attempt's answer is
translated, in `claudewire.gateway.exchange.deliver` (`claudewire.gateway.openai.answers`).

Routes (`ingress_route`): ``POST /v1/chat/completions``, ``POST /v1/responses``, ``GET /v1/models``; Cursor's base URL
``<gateway>/cursor`` (``POST /cursor/chat/completions`` takes a chat or a Responses-shaped body and always answers
chat; ``GET /cursor/models``); Azure's ``POST /openai/deployments/{name}/chat/completions?api-version=...`` (the
deployment name is the model). Credentials: ``Authorization: Bearer`` (or Azure's ``api-key``) carries the caller's
Anthropic key, sent upstream as ``x-api-key`` (an OAuth token, ``sk-ant-oat...``, stays a bearer), or in tokens mode
a gateway token, checked like one sent to ``/v1/messages``.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from claudewire._errors import Failure, FailureKind
from claudewire.dialects import (
    DialectError,
    MessagesRequest,
    Target,
    chat_request,
    cursor_request,
    resolve_model,
    responses_request,
)
from claudewire.dialects.common import dumps
from claudewire.gateway.downstream.http import Connection, Request
from claudewire.gateway.headers import forward_headers
from claudewire.gateway.openai.answers import chat_translation, refusal_answer, responses_translation
from claudewire.gateway.openai.models import ModelLister, ModelsAnswer, anthropic_caller
from claudewire.gateway.openai.settings import traits_for

if TYPE_CHECKING:
    from claudewire.calls import Call
    from claudewire.gateway.app import Gateway

__all__ = ["IngressRoute", "OpenAIIngress", "ingress_route"]

ANTHROPIC_VERSION = b"2023-06-01"
_DEPLOYMENT = re.compile(rb"/openai/deployments/([A-Za-z0-9][A-Za-z0-9._:-]{0,99})/chat/completions\Z")
_KEPT = frozenset({b"user-agent", b"x-stainless-timeout", b"x-stainless-read-timeout", b"traceparent", b"tracestate"})
_CREDENTIALS = frozenset({b"authorization", b"x-api-key", b"api-key"})


class IngressRoute(enum.Enum):
    """A route of the ingress; its value is the dialect label of a call on it."""

    CHAT = "chat"
    RESPONSES = "responses"
    CURSOR = "cursor"
    AZURE = "azure"
    MODELS = "models"
    CURSOR_MODELS = "cursor_models"

    @property
    def lists(self) -> bool:
        """A models route (GET)."""
        return self in (IngressRoute.MODELS, IngressRoute.CURSOR_MODELS)

    @property
    def dialect(self) -> str:
        """The ``dialect`` of its calls (``chat``, ``responses``, ``cursor``)."""
        if self is IngressRoute.RESPONSES:
            return "responses"
        return "cursor" if self in (IngressRoute.CURSOR, IngressRoute.CURSOR_MODELS) else "chat"


_PATHS = {
    b"/v1/chat/completions": IngressRoute.CHAT,
    b"/v1/responses": IngressRoute.RESPONSES,
    b"/v1/models": IngressRoute.MODELS,
    b"/cursor/chat/completions": IngressRoute.CURSOR,
    b"/cursor/v1/chat/completions": IngressRoute.CURSOR,
    b"/cursor/models": IngressRoute.CURSOR_MODELS,
    b"/cursor/v1/models": IngressRoute.CURSOR_MODELS,
}
_TRANSLATORS: dict[IngressRoute, Callable[[Mapping[str, Any], Target], MessagesRequest]] = {
    IngressRoute.CHAT: chat_request,
    IngressRoute.AZURE: chat_request,
    IngressRoute.RESPONSES: responses_request,
    IngressRoute.CURSOR: cursor_request,
}


def ingress_route(method: bytes, path: bytes) -> IngressRoute | None:
    """The ingress route of a request, or None (``GET /v1/models`` is the ingress's; ``POST /v1/models`` is not)."""
    route = _PATHS.get(path)
    if route is None and path.startswith(b"/openai/deployments/"):
        route = IngressRoute.AZURE
    if route is IngressRoute.MODELS and method != b"GET":
        return None
    return route


class OpenAIIngress:
    """The ingress of one `Gateway`: it translates, then hands the call to the gateway's own driver."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.settings = gateway.config.openai
        self.lister = ModelLister(gateway.config)
        self.kept = _KEPT | {h.encode("latin-1") for h in gateway.config.affinity_headers}

    def dialect(self, req: Request, route: IngressRoute) -> str:
        """The dialect a call on `route` is answered in (an Anthropic client's model list stays Anthropic)."""
        if route is IngressRoute.MODELS and anthropic_caller(req.headers):
            return "anthropic"
        return route.dialect

    async def handle(self, req: Request, conn: Connection, route: IngressRoute) -> None:
        """Answer one request of the ingress."""
        gateway = self.gateway
        path = req.path.decode("latin-1")
        dialect = self.dialect(req, route)
        call = gateway.start_call(req, path, dialect=dialect, stream=False)
        try:
            if req.method != (b"GET" if route.lists else b"POST"):
                allowed = "GET" if route.lists else "POST"
                self._refuse(conn, call, DialectError(f"{path} takes {allowed}", status=405))
                return
            if req.too_large:
                limit = gateway.config.body_limit
                gateway.answer_failure(
                    conn, call, Failure.of(FailureKind.REQUEST_TOO_LARGE, message=f"body over {limit} bytes")
                )
                return
            anthropic = dialect == "anthropic"
            headers = list(req.headers) if anthropic else self.headers(req)
            if route.lists:
                await self._models(req, conn, call, headers, route, anthropic)
            else:
                await self._translated(req, conn, call, headers, route)
        finally:
            call.end()  # a no-op once the gateway's driver ended it

    def retrieves_locally(self, req: Request) -> bool:
        """Whether ``GET /v1/models/{id}`` is answered here: no upstream can (only cloud kinds), as for the list."""
        return req.method == b"GET" and req.path.startswith(b"/v1/models/") and not self.lister.upstream_lists

    def retrieve(self, req: Request, conn: Connection) -> None:
        """``GET /v1/models/{id}`` from the local list (the catalogue and ``model_map`` names), in the API's shape;
        an id the caller may not use, or that is not known, is the API's 404 ``model: <id>``."""
        gateway = self.gateway
        call = gateway.start_call(req, req.path.decode("latin-1"), dialect="anthropic", stream=False)
        try:
            forwarded = forward_headers(req, gateway.auth)
            if forwarded is None:
                gateway.answer_failure(conn, call, _unauthorized())
                return
            call.record.client = forwarded[1]
            name = req.path[len(b"/v1/models/") :].decode("latin-1")
            entry = self.lister.one(name, forwarded[1])
            if entry is None:
                gateway.answer_failure(conn, call, Failure.of(FailureKind.NOT_FOUND, message=f"model: {name}"))
                return
            conn.respond(200, b"content-type: application/json\r\n", dumps(entry))
            call.answer(200)
        finally:
            call.end()

    def headers(self, req: Request) -> list[tuple[bytes, bytes]]:
        """The header pairs of the Messages request a caller's request stands for (its credential made the API's)."""
        out: list[tuple[bytes, bytes]] = [
            (b"content-type", b"application/json"),
            (b"anthropic-version", ANTHROPIC_VERSION),
        ]
        tokens = self.gateway.auth.tokens
        credential: tuple[bytes, bytes] | None = None
        for name, value in req.headers:
            low = name.lower()
            if low in _CREDENTIALS:
                if tokens:  # a gateway token: the gateway's driver checks it (and refuses two that differ)
                    out.append((b"x-api-key" if low == b"api-key" else low, value))
                elif credential is None:
                    credential = _credential(low, value)
            elif low in self.kept or low == b"anthropic-beta":
                out.append((low, value))
        if credential is not None:
            out.append(credential)
        return out

    async def _translated(
        self, req: Request, conn: Connection, call: Call, headers: list[tuple[bytes, bytes]], route: IngressRoute
    ) -> None:
        gateway = self.gateway
        canon = Request(b"POST", b"/v1/messages", headers, req.keep_alive)
        if gateway.auth.tokens and forward_headers(canon, gateway.auth) is None:
            gateway.answer_failure(conn, call, _unauthorized())
            return
        try:
            request, model = self.translate(req, route)
        except DialectError as exc:
            self._refuse(conn, call, exc)
            return
        record = call.record
        record.model, record.stream = model, request.stream
        if request.betas:
            canon.headers = _with_betas(canon.headers, request.betas)
        canon.body = request.encode()
        translation = (responses_translation if route is IngressRoute.RESPONSES else chat_translation)(request)
        await gateway.proxy(canon, conn, call, translation)

    def translate(self, req: Request, route: IngressRoute) -> tuple[MessagesRequest, str]:
        """The Messages request for a caller's body and the Claude model it goes to (raises `DialectError`)."""
        try:
            body = json.loads(req.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise DialectError(f"the request body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise DialectError("the request body must be a JSON object")
        if route is IngressRoute.AZURE:
            found = _DEPLOYMENT.match(req.path)
            if found is None:
                raise DialectError(
                    "the deployment name (the model) is letters, digits, '.', '_', ':' or '-'", status=404
                )
            body["model"] = found.group(1).decode("ascii")  # the deployment names the model
        name = body.get("model")
        if not isinstance(name, str) or not name:
            raise DialectError("model is required: a Claude model id or one of the gateway's names", param="model")
        resolved = resolve_model(name, self.settings.models)
        target = Target(
            resolved.model,
            traits_for(resolved.model),
            thinking=resolved.thinking,
            fast=resolved.fast,
            min_max_tokens=self.settings.floor(route.value),
            default_max_tokens=self.settings.default_max_tokens,
        )
        return _TRANSLATORS[route](body, target), resolved.model

    async def _models(
        self,
        req: Request,
        conn: Connection,
        call: Call,
        headers: list[tuple[bytes, bytes]],
        route: IngressRoute,
        anthropic: bool,
    ) -> None:
        gateway = self.gateway
        query = req.target.partition(b"?")[2].decode("latin-1")
        answer = ModelsAnswer(
            self.lister, call, anthropic=anthropic, cursor=route.lists and route.dialect == "cursor", query=query
        )
        canon = Request(b"GET", b"/v1/models?limit=1000", headers, req.keep_alive)
        if not self.lister.upstream_lists:  # only cloud upstreams: the catalogue's list, asked of nobody
            forwarded = forward_headers(canon, gateway.auth)
            if forwarded is None:
                gateway.answer_failure(conn, call, _unauthorized())
                return
            call.record.client = forwarded[1]
            status, lines, body = answer.whole(404, b"", b"")
            conn.respond(status, lines, body)
            call.answer(status)
            return
        await gateway.proxy(canon, conn, call, answer)

    def _refuse(self, conn: Connection, call: Call, exc: DialectError) -> None:
        if call.record.dialect == "anthropic":
            body = dumps({"type": "error", "error": {"type": exc.error_type, "message": exc.message}})
            status, headers = exc.status, b"content-type: application/json\r\n"
        else:
            status, headers, body = refusal_answer(exc)
        conn.respond(status, headers, body)
        call.answer(status, str(FailureKind.INVALID_REQUEST) if status == 400 else str(FailureKind.NOT_FOUND))


def _credential(name: bytes, value: bytes) -> tuple[bytes, bytes] | None:
    """The API's credential header for the caller's key: an API key as ``x-api-key``, an OAuth token as a bearer."""
    if name == b"authorization":
        if value[:7].lower() != b"bearer ":
            return None
        key = value[7:].strip()
        return (b"authorization", b"Bearer " + key) if key.startswith(b"sk-ant-oat") else (b"x-api-key", key)
    return (b"x-api-key", value.strip())


def _with_betas(headers: list[tuple[bytes, bytes]], betas: tuple[str, ...]) -> list[tuple[bytes, bytes]]:
    asked = [
        b.strip() for name, value in headers if name == b"anthropic-beta" for b in value.decode("latin-1").split(",")
    ]
    merged = ",".join(dict.fromkeys(b for b in (*asked, *betas) if b))
    return [(n, v) for n, v in headers if n != b"anthropic-beta"] + [(b"anthropic-beta", merged.encode("latin-1"))]


def _unauthorized() -> Failure:
    msg = "missing or wrong gateway token (send it as Authorization: Bearer, x-api-key or api-key)"
    return Failure.of(FailureKind.AUTH, message=msg)
