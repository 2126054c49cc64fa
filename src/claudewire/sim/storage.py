"""The routes of the stateful endpoints (Message Batches, Files) over their in-memory stores.

Each route reads what it needs from the request (path ids, query, the raw body) and returns an `Answer`; the
application's pipeline (keys, version, faults) runs before it, as for every other endpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from claudewire.sim.batches import BatchStore
from claudewire.sim.files import FileStore

__all__ = ["Answer", "StorageRoute", "storage_routes"]

_JSON = "application/json"


@dataclass(frozen=True, slots=True)
class Answer:
    """A 200 answer: its bytes, content type and any extra headers."""

    body: bytes
    content_type: str = _JSON
    headers: Mapping[str, str] = field(default_factory=dict)


StorageRoute = Callable[[web.Request, bytes, Mapping[str, Any] | None], Answer]
"""(request, raw body, parsed JSON body or None) → the answer; raises `ApiError` for an error answer."""


def _base(request: web.Request) -> str:
    """The root URL the client reached us at (a batch's results_url points back to it)."""
    return f"{request.scheme}://{request.host}"


def _ids(request: web.Request) -> list[str]:
    # the official SDKs send arrays as ids[]=a&ids[]=b; a plain client may repeat ids=
    return [*request.query.getall("ids[]", []), *request.query.getall("ids", [])]


def storage_routes(batches: BatchStore, files: FileStore) -> dict[tuple[str, str], StorageRoute]:
    """(method, path pattern) → route, for ``/v1/messages/batches`` and ``/v1/files``."""

    def batch_id(request: web.Request) -> str:
        return request.match_info["batch_id"]

    def file_id(request: web.Request) -> str:
        return request.match_info["file_id"]

    def content(request: web.Request, raw: bytes, body: Mapping[str, Any] | None) -> Answer:
        stored = files.content(file_id(request))
        name = stored.filename.replace('"', "")
        return Answer(stored.content, stored.mime_type, {"Content-Disposition": f'attachment; filename="{name}"'})

    batch = "/v1/messages/batches/{batch_id}"
    return {
        ("POST", "/v1/messages/batches"): lambda r, raw, body: Answer(batches.create(body, _base(r))),
        ("GET", "/v1/messages/batches"): lambda r, raw, body: Answer(batches.list_page(r.query, _base(r))),
        ("GET", batch): lambda r, raw, body: Answer(batches.retrieve(batch_id(r), _base(r))),
        ("DELETE", batch): lambda r, raw, body: Answer(batches.delete(batch_id(r))),
        ("POST", batch + "/cancel"): lambda r, raw, body: Answer(batches.cancel(batch_id(r), _base(r))),
        ("GET", batch + "/results"): lambda r, raw, body: Answer(batches.results(batch_id(r)), "application/x-jsonl"),
        ("POST", "/v1/files"): lambda r, raw, body: Answer(files.upload(r.headers.get("content-type", ""), raw)),
        ("GET", "/v1/files"): lambda r, raw, body: Answer(files.list_page(r.query, _ids(r))),
        ("GET", "/v1/files/{file_id}"): lambda r, raw, body: Answer(files.metadata(file_id(r))),
        ("DELETE", "/v1/files/{file_id}"): lambda r, raw, body: Answer(files.delete(file_id(r))),
        ("GET", "/v1/files/{file_id}/content"): content,
    }
