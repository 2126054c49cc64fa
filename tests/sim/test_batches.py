"""Message Batches through the official SDK: create, retrieve, list, results, cancel and delete, bounded in memory."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx2
import pytest

from claudewire.sim import SimServer, StorageLimits
from claudewire.testing import run_sim
from tests.conftest import SIM_KEY, SIM_MODEL

HELLO = [{"role": "user", "content": "Hello"}]


def client(base_url: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=base_url, api_key=SIM_KEY, max_retries=0)


def request(custom_id: str, **params: Any) -> dict[str, Any]:
    return {"custom_id": custom_id, "params": {"model": SIM_MODEL, "max_tokens": 32, "messages": HELLO, **params}}


def test_create_then_results_answer_each_request_as_messages_would(sim: SimServer) -> None:
    """An instant batch ends at once; results hold a Message per good request and the API's error for a bad one."""
    c = client(sim.base_url)
    batch = c.messages.batches.create(
        requests=[request("ok-1"), request("bad-model", model="claude-nope-9"), request("ok-2", max_tokens=3)]  # type: ignore[list-item]
    )
    assert batch.type == "message_batch" and batch.id.startswith("msgbatch_")
    assert batch.processing_status == "ended" and batch.ended_at is not None
    assert batch.request_counts.succeeded == 2 and batch.request_counts.errored == 1
    assert batch.results_url == f"{sim.base_url}/v1/messages/batches/{batch.id}/results"
    results = {r.custom_id: r.result for r in c.messages.batches.results(batch.id)}
    assert set(results) == {"ok-1", "bad-model", "ok-2"}
    ok, short, bad = results["ok-1"], results["ok-2"], results["bad-model"]
    assert ok.type == "succeeded" and ok.message.stop_reason == "end_turn" and ok.message.content
    assert short.type == "succeeded" and short.message.stop_reason == "max_tokens"
    assert short.message.usage.output_tokens == 3
    assert bad.type == "errored" and bad.error.error.type == "not_found_error"
    assert "claude-nope-9" in bad.error.error.message
    assert c.messages.batches.retrieve(batch.id) == batch


def test_a_delayed_batch_is_in_progress_and_its_results_are_not_ready() -> None:
    """With batch_delay the batch shows in_progress with every request processing, and has no results yet."""
    with run_sim(batch_delay=3600) as sim:
        c = client(sim.base_url)
        batch = c.messages.batches.create(requests=[request("a"), request("b")])  # type: ignore[list-item]
        again = c.messages.batches.retrieve(batch.id)
        with pytest.raises(anthropic.AnthropicError, match="results_url"):
            c.messages.batches.results(batch.id)  # the SDK checks results_url itself
        direct = httpx2.get(
            f"{sim.base_url}/v1/messages/batches/{batch.id}/results",
            headers={"x-api-key": SIM_KEY, "anthropic-version": "2023-06-01"},
        )
    assert batch.processing_status == again.processing_status == "in_progress"
    assert again.request_counts.processing == 2 and again.results_url is None and again.ended_at is None
    assert direct.status_code == 400 and direct.json()["error"]["type"] == "invalid_request_error"


def test_cancel_answers_canceling_then_the_batch_ends_with_canceled_requests() -> None:
    """cancel on an in-progress batch: canceling with cancel_initiated_at, then ended, every result canceled."""
    with run_sim(batch_delay=3600) as sim:
        c = client(sim.base_url)
        batch = c.messages.batches.create(requests=[request("a"), request("b")])  # type: ignore[list-item]
        canceling = c.messages.batches.cancel(batch.id)
        ended = c.messages.batches.retrieve(batch.id)
        results = [r.result.type for r in c.messages.batches.results(batch.id)]
        deleted = c.messages.batches.delete(batch.id)
        with pytest.raises(anthropic.NotFoundError):
            c.messages.batches.retrieve(batch.id)
    assert canceling.processing_status == "canceling" and canceling.cancel_initiated_at is not None
    assert ended.processing_status == "ended" and ended.request_counts.canceled == 2
    assert results == ["canceled", "canceled"]
    assert deleted.id == batch.id and deleted.type == "message_batch_deleted"


def test_an_in_progress_batch_cannot_be_deleted() -> None:
    """Deleting a batch still processing is the API's 400: cancel it first."""
    with run_sim(batch_delay=3600) as sim:
        c = client(sim.base_url)
        batch = c.messages.batches.create(requests=[request("a")])  # type: ignore[list-item]
        with pytest.raises(anthropic.BadRequestError, match="cancel it"):
            c.messages.batches.delete(batch.id)


def test_list_pages_newest_first(sim: SimServer) -> None:
    """list pages newest first by limit/after_id, and the SDK's auto-pagination walks every batch once."""
    c = client(sim.base_url)
    made = [c.messages.batches.create(requests=[request(f"r{i}")]).id for i in range(5)]  # type: ignore[list-item]
    first = c.messages.batches.list(limit=2)
    assert [b.id for b in first.data] == made[::-1][:2] and first.has_more
    assert [b.id for b in c.messages.batches.list(limit=2)] == made[::-1]  # iterating fetches the next pages
    earlier = c.messages.batches.list(limit=2, before_id=made[1])
    assert [b.id for b in earlier.data] == [made[3], made[2]] and earlier.has_more


@pytest.mark.parametrize(
    ("requests", "needle"),
    [
        ([], "at least 1 item"),
        ([request("same"), request("same")], "unique"),
        ([{"custom_id": "bad id!", "params": {}}], "custom_id"),
        ([{"custom_id": "a"}], "params: Field required"),
    ],
    ids=["empty", "duplicate-id", "bad-id", "no-params"],
)
def test_malformed_batches_are_400s(sim: SimServer, requests: list[dict[str, Any]], needle: str) -> None:
    """A batch without requests, with a duplicate or malformed custom_id or no params is refused whole."""
    with pytest.raises(anthropic.BadRequestError, match=needle):
        client(sim.base_url).messages.batches.create(requests=requests)  # type: ignore[arg-type]


def test_the_store_is_bounded_with_clear_errors() -> None:
    """Past max_batch_requests or max_batches a create is a 400 naming the limit; unknown ids are a 404."""
    with run_sim(storage=StorageLimits(max_batches=2, max_batch_requests=3)) as sim:
        c = client(sim.base_url)
        with pytest.raises(anthropic.BadRequestError, match="max_batch_requests"):
            c.messages.batches.create(requests=[request(f"r{i}") for i in range(4)])  # type: ignore[misc]
        for i in range(2):
            c.messages.batches.create(requests=[request(f"r{i}")])  # type: ignore[list-item]
        with pytest.raises(anthropic.BadRequestError, match="max_batches"):
            c.messages.batches.create(requests=[request("one-more")])  # type: ignore[list-item]
        with pytest.raises(anthropic.NotFoundError, match="msgbatch_unknown"):
            c.messages.batches.retrieve("msgbatch_unknown")


def test_a_streaming_request_in_a_batch_is_errored(sim: SimServer) -> None:
    """params with stream: true is an errored result, as batches never stream."""
    c = client(sim.base_url)
    batch = c.messages.batches.create(requests=[request("s", stream=True)])  # type: ignore[list-item]
    (only,) = list(c.messages.batches.results(batch.id))
    assert only.result.type == "errored" and "stream" in only.result.error.error.message
