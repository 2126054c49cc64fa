"""``GET /v1/models`` (and ``/cursor/models``): one list for both SDKs, of the models this caller may use here.

The gateway asks an upstream for its list (``GET /v1/models?limit=1000``, on the call flow like any call) and keeps
the models the caller may use: those the upstreams serve (when every upstream lists its ``models``) and, for a named
client, those of its ``[[clients]] models``. Where no upstream can list models (only cloud kinds, or an upstream
that answers 404), the list is the catalogue's active models plus the ``model_map`` names of the upstreams (each
shown under its Anthropic name, never the cloud's id).

An Anthropic client (it sends ``anthropic-version`` or ``x-api-key``) gets the Anthropic list, paged by its own
``limit`` / ``after_id`` / ``before_id`` (Claude Code asks for ``?limit=1000``); an OpenAI client gets OpenAI's list
(`claudewire.dialects.models_list`, which the Anthropic SDK reads too), the ``[openai] models`` aliases first, each
with its ``-thinking`` and ``-fast`` variants where the model has them. ``/cursor/models`` lists only the aliases when
there are any, so Cursor never shows a name that collides with its built-in ones.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from claudewire._errors import Failure
from claudewire._models import Catalogue, Lifecycle
from claudewire.dialects import from_anthropic, models_list, resolve_model
from claudewire.dialects.common import dumps
from claudewire.gateway.openai.answers import error_lines, openai_lines
from claudewire.gateway.openai.settings import traits_for

if TYPE_CHECKING:
    from claudewire.calls import Call
    from claudewire.gateway.config import GatewayConfig

__all__ = ["ModelLister", "ModelsAnswer", "anthropic_caller"]

_CATALOGUE = Catalogue()
_JSON = b"content-type: application/json\r\n"
_DEFAULT_LIMIT, _MAX_LIMIT = 20, 1000


def anthropic_caller(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether the request comes from an Anthropic client (``anthropic-version`` or ``x-api-key`` sent)."""
    return any(name.lower() in (b"anthropic-version", b"x-api-key") for name, _ in headers)


class ModelLister:
    """What one gateway may list, and to whom (built once from its configuration)."""

    def __init__(self, config: GatewayConfig) -> None:
        specs = config.upstreams
        self.aliases = dict(config.openai.models)
        self.everything = any(not s.models for s in specs)
        self.served = frozenset(m for s in specs for m in s.models)
        self.mapped = tuple(dict.fromkeys(k for s in specs for k in (s.options.get("model_map") or {})))
        self.upstream_lists = any(s.kind == "anthropic" for s in specs)
        self.clients = {c.name: c.models for c in config.clients}
        # a signed-in user is the client named by their group: the group's models are their list (issue 21)
        if config.signin is not None:
            self.clients.update({g.name: g.models for g in config.signin.groups})

    def _names(self, model_id: str) -> tuple[str, ...]:
        known = _CATALOGUE.get(model_id)
        return (model_id, *known.names()) if known is not None else (model_id,)

    def allowed(self, model_id: str, client: str) -> bool:
        """Whether `client` ("" for none) may use `model_id` here (served by an upstream, and on its list)."""
        names = self._names(model_id)
        if not self.everything and not any(n in self.served for n in names):
            return False
        allow = self.clients.get(client) if client else None
        return allow is None or any(n in allow for n in names)

    def one(self, name: str, client: str) -> dict[str, Any] | None:
        """``GET /v1/models/{name}`` where no upstream can answer it: the local list's entry (by id or alias) when
        `client` may use it, else None."""
        if not self.allowed(name, client):
            return None
        known = _CATALOGUE.get(name)
        ids = {name, *(known.names() if known is not None else ())}
        for entry in self.local()["data"]:
            if entry["id"] in ids:
                return dict(entry)
        return None

    def local(self) -> dict[str, Any]:
        """The list when no upstream gives one: the catalogue's active models, then the ``model_map`` names."""
        data = [_CATALOGUE.info(m) for m in _CATALOGUE.current()]
        listed = {name for m in _CATALOGUE.current() for name in m.names()}
        for name in self.mapped:
            if name in listed:
                continue
            known = _CATALOGUE.get(name)
            if known is not None and _CATALOGUE.lifecycle(known) is not Lifecycle.RETIRED:
                data.append({**_CATALOGUE.info(known), "id": name})
            elif known is None:
                data.append({"type": "model", "id": name, "display_name": name, "created_at": "1970-01-01T00:00:00Z"})
        return {"data": data}

    def _kept(self, upstream: Mapping[str, Any], client: str) -> list[dict[str, Any]]:
        models = [m for m in upstream.get("data") or () if isinstance(m, dict) and isinstance(m.get("id"), str)]
        return [m for m in models if self.allowed(m["id"], client)]

    def anthropic(self, upstream: Mapping[str, Any], client: str, query: str) -> dict[str, Any]:
        """The Anthropic list: the upstream's entries this caller may use, paged as `query` asks."""
        models = self._kept(upstream, client)
        args = parse_qs(query)
        try:
            limit = min(max(int(args.get("limit", [_DEFAULT_LIMIT])[0]), 1), _MAX_LIMIT)
        except ValueError:
            limit = _DEFAULT_LIMIT
        ids = [m["id"] for m in models]
        start, end = 0, len(models)
        if (after := args.get("after_id")) and after[0] in ids:
            start = ids.index(after[0]) + 1
        if (before := args.get("before_id")) and before[0] in ids:
            end = ids.index(before[0])
            if not args.get("after_id"):
                start = max(start, end - limit)  # the page just before it
        page = models[start:end][:limit]
        return {
            "data": page,
            "has_more": start + len(page) < end,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
        }

    def openai(self, upstream: Mapping[str, Any], client: str, *, cursor: bool) -> dict[str, Any]:
        """OpenAI's list (readable by both SDKs): the aliases this caller may use and their variants, then the
        Claude ids (on ``/cursor/models`` only when there are no aliases)."""
        aliases: dict[str, str] = {}
        for alias, target in self.aliases.items():
            model = resolve_model(target, {}).model
            if not self.allowed(model, client):
                continue
            aliases[alias] = model
            traits = traits_for(model)
            if traits.adaptive_thinking or traits.budget_thinking:
                aliases[alias + "-thinking"] = model
            if traits.fast_mode:
                aliases[alias + "-fast"] = model
        kept = {"data": self._kept(upstream, client)}
        return models_list(kept, aliases, include_claude_ids=not (cursor and aliases))


class ModelsAnswer:
    """The `Translation` of a models call: the upstream's list filtered and shaped for its caller."""

    __slots__ = ("anthropic", "call", "cursor", "lister", "query")

    def __init__(self, lister: ModelLister, call: Call, *, anthropic: bool, cursor: bool, query: str) -> None:
        self.lister = lister
        self.call = call
        self.anthropic = anthropic
        self.cursor = cursor
        self.query = query

    def body(self, upstream: Mapping[str, Any]) -> bytes:
        """The list for this caller from an upstream's list."""
        client = self.call.record.client
        if self.anthropic:
            return dumps(self.lister.anthropic(upstream, client, self.query))
        return dumps(self.lister.openai(upstream, client, cursor=self.cursor))

    def whole(self, status: int, headers: bytes, body: bytes) -> tuple[int, bytes, bytes]:
        """The caller's list for the upstream's answer (its error passed on in the caller's dialect)."""
        if status == 404:  # an upstream that has no list (a cloud kind): the catalogue's
            return 200, _JSON, self.body(self.lister.local())
        parsed: Any = None
        if status == 200:
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
        if not isinstance(parsed, dict):
            if self.anthropic:
                return status, headers, body
            return error_lines(from_anthropic(status if status >= 400 else 502, body), headers, both=True)
        lines = _without_framing(headers) if self.anthropic else openai_lines(headers)
        return status, _JSON + lines, self.body(parsed)

    def start(self, status: int, headers: bytes) -> bytes:
        """(A models list never streams: the head passes.)"""
        return headers

    def feed(self, chunk: bytes) -> bytes:
        """(Passes.)"""
        return chunk

    def close(self) -> bytes:
        """(Nothing owed.)"""
        return b""

    def fail(self, failure: Failure, detail: str) -> bytes:
        """(Nothing to add.)"""
        return b""

    def refuse(self, status: int, headers: bytes, event: dict[str, Any]) -> tuple[int, bytes, bytes]:
        """(A models list never streams.)"""
        return status, headers, dumps(event)


def _without_framing(headers: bytes) -> bytes:
    drop = (b"content-type:", b"content-encoding:", b"content-length:")
    return b"".join(line + b"\r\n" for line in headers.split(b"\r\n") if line and not line.lower().startswith(drop))
