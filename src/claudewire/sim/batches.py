"""The Message Batches API in memory: create, retrieve, list, cancel, delete and the JSONL results.

Sans-IO: bodies and queries in, JSON bytes out, time from injected clocks. Each request of a batch is answered as a
messages call would be (the caller's `process` does it) when the batch is created; the batch shows
``in_progress`` for `delay` seconds, then ``ended`` with its ``results_url``. A cancel while in progress answers
``canceling`` and the batch then ends with every request ``canceled``. The store holds `limits.max_batches`
batches of at most `limits.max_batch_requests` requests; past that a create gets a 400 saying so.
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from claudewire.sim.config import StorageLimits
from claudewire.sim.endpoints import ApiError
from claudewire.sim.paging import page_of
from claudewire.sim.shapes import rfc3339

__all__ = ["BatchStore"]

_DAY = 24 * 3600.0
_CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")

Process = Callable[[Mapping[str, Any]], dict[str, Any]]
"""Answers one batch request's ``params``: a ``succeeded`` or ``errored`` result object."""


def _invalid(message: str) -> ApiError:
    return ApiError(400, "invalid_request_error", message)


@dataclass(slots=True)
class _Batch:
    id: str
    created: float  # wall-clock epoch
    ends: float  # monotonic time processing ends
    custom_ids: tuple[str, ...]
    results: tuple[dict[str, Any], ...]  # result objects, in request order
    cancel_initiated: float | None = None  # wall-clock epoch
    cancel_seen: bool = False  # the cancel answer was given: later reads see the batch ended

    def ended(self, now: float) -> bool:
        return self.cancel_seen or (self.cancel_initiated is None and now >= self.ends)


class BatchStore:
    """Message batches held in memory, bounded by `limits`; ids unique per store."""

    def __init__(
        self,
        limits: StorageLimits,
        delay: float,
        process: Process,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.limits = limits
        self.delay = delay
        self._process = process
        self._clock = clock
        self._wall = wall
        self._batches: dict[str, _Batch] = {}  # oldest first
        self._ids = itertools.count(1)
        self._prefix = secrets.token_hex(4)

    def __len__(self) -> int:
        return len(self._batches)

    # --- endpoints ------------------------------------------------------------------------------------------------

    def create(self, body: Mapping[str, Any] | None, base_url: str) -> bytes:
        """``POST /v1/messages/batches``: validate, answer every request, hold the batch; its object as bytes."""
        requests = self._requests(body)
        if len(self._batches) >= self.limits.max_batches:
            raise _invalid(
                f"the claudewire simulator holds at most {self.limits.max_batches} message batches (StorageLimits."
                "max_batches); delete ended ones with DELETE /v1/messages/batches/{id}"
            )
        custom_ids = tuple(str(r["custom_id"]) for r in requests)
        results = tuple(self._answer(r["params"]) for r in requests)
        batch_id = f"msgbatch_01Sim{self._prefix}{next(self._ids):010d}"
        batch = _Batch(batch_id, self._wall(), self._clock() + self.delay, custom_ids, results)
        self._batches[batch_id] = batch
        return json.dumps(self._view(batch, base_url)).encode()

    def retrieve(self, batch_id: str, base_url: str) -> bytes:
        """``GET /v1/messages/batches/{id}``."""
        return json.dumps(self._view(self._get(batch_id), base_url)).encode()

    def list_page(self, query: Mapping[str, str], base_url: str) -> bytes:
        """``GET /v1/messages/batches``: newest first, paged by ``after_id`` / ``before_id`` / ``limit``."""
        page = page_of(list(reversed(self._batches)), query)
        data = [self._view(self._batches[i], base_url) for i in page.ids]
        return json.dumps(
            {
                "data": data,
                "has_more": page.has_more,
                "first_id": page.ids[0] if page.ids else None,
                "last_id": page.ids[-1] if page.ids else None,
            }
        ).encode()

    def cancel(self, batch_id: str, base_url: str) -> bytes:
        """``POST /v1/messages/batches/{id}/cancel``: ``canceling`` now, ended with canceled requests after."""
        batch = self._get(batch_id)
        if batch.cancel_initiated is None and not batch.ended(self._clock()):
            batch.cancel_initiated = self._wall()
            view = self._view(batch, base_url)
            batch.cancel_seen = True
            return json.dumps(view).encode()
        return json.dumps(self._view(batch, base_url)).encode()  # already ended or canceling: nothing changes

    def delete(self, batch_id: str) -> bytes:
        """``DELETE /v1/messages/batches/{id}``: only once the batch has ended, as the API requires."""
        batch = self._get(batch_id)
        if not batch.ended(self._clock()):
            raise _invalid(
                f"Message Batch {batch_id} is still in progress; cancel it and wait for processing_status ended "
                "before deleting it"
            )
        del self._batches[batch_id]
        return json.dumps({"id": batch_id, "type": "message_batch_deleted"}).encode()

    def results(self, batch_id: str) -> bytes:
        """``GET /v1/messages/batches/{id}/results``: one JSON object a line, once the batch has ended."""
        batch = self._get(batch_id)
        if not batch.ended(self._clock()):
            raise _invalid(f"Message Batch {batch_id} has not ended yet; its results are available once it has")
        lines = (
            json.dumps({"custom_id": cid, "result": result}, separators=(",", ":"))
            for cid, result in zip(batch.custom_ids, self._final(batch), strict=True)
        )
        return ("\n".join(lines) + "\n").encode()

    # --- internals ------------------------------------------------------------------------------------------------

    def _get(self, batch_id: str) -> _Batch:
        batch = self._batches.get(batch_id)
        if batch is None:
            raise ApiError(404, "not_found_error", f"message_batch: {batch_id} not found")
        return batch

    def _requests(self, body: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
        requests = body.get("requests") if body is not None else None
        if requests is None:
            raise _invalid("requests: Field required")
        if not isinstance(requests, list):
            raise _invalid("requests: Input should be a valid list")
        if not requests:
            raise _invalid("requests: List should have at least 1 item after validation, not 0")
        if len(requests) > self.limits.max_batch_requests:
            raise _invalid(
                f"requests: {len(requests)} requests > {self.limits.max_batch_requests}, the most the claudewire "
                "simulator takes in one batch (StorageLimits.max_batch_requests; the API takes 100,000)"
            )
        seen: set[str] = set()
        for i, request in enumerate(requests):
            if not isinstance(request, Mapping):
                raise _invalid(f"requests.{i}: Input should be a valid dictionary")
            custom_id = request.get("custom_id")
            if not isinstance(custom_id, str) or not _CUSTOM_ID.match(custom_id):
                raise _invalid(f"requests.{i}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'")
            if custom_id in seen:
                raise _invalid(f"requests.{i}.custom_id: {custom_id!r} is used twice; custom_id must be unique")
            seen.add(custom_id)
            if not isinstance(request.get("params"), Mapping):
                raise _invalid(f"requests.{i}.params: Field required")
        return requests

    def _answer(self, params: Mapping[str, Any]) -> dict[str, Any]:
        if params.get("stream") is True:
            error = {"type": "invalid_request_error", "message": "stream: streaming is not supported in batches"}
            return {"type": "errored", "error": {"type": "error", "error": error}}
        return self._process(params)

    def _final(self, batch: _Batch) -> tuple[dict[str, Any], ...]:
        if batch.cancel_initiated is not None:
            return tuple({"type": "canceled"} for _ in batch.results)
        return batch.results

    def _view(self, batch: _Batch, base_url: str) -> dict[str, Any]:
        now = self._clock()
        ended = batch.ended(now)
        counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        if ended:
            for result in self._final(batch):
                counts[result["type"]] += 1
        else:
            counts["processing"] = len(batch.results)
        if batch.cancel_initiated is not None:
            status, ended_at = ("ended", batch.cancel_initiated) if ended else ("canceling", None)
        else:
            status, ended_at = ("ended", batch.created + self.delay) if ended else ("in_progress", None)
        return {
            "id": batch.id,
            "type": "message_batch",
            "processing_status": status,
            "request_counts": counts,
            "ended_at": rfc3339(ended_at) if ended_at is not None else None,
            "created_at": rfc3339(batch.created),
            "expires_at": rfc3339(batch.created + _DAY),
            "archived_at": None,
            "cancel_initiated_at": rfc3339(batch.cancel_initiated) if batch.cancel_initiated is not None else None,
            "results_url": f"{base_url}/v1/messages/batches/{batch.id}/results" if ended else None,
        }
