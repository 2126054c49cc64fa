"""Files through the official SDK (upload, list, metadata, download, delete), and the "not simulated" answer."""

from __future__ import annotations

import anthropic
import httpx2
import pytest

from claudewire.sim import SimServer, StorageLimits
from claudewire.testing import run_sim
from tests.conftest import SIM_KEY

HEADERS = {"x-api-key": SIM_KEY, "anthropic-version": "2023-06-01"}


def client(base_url: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=base_url, api_key=SIM_KEY, max_retries=0)


def test_upload_list_metadata_delete(sim: SimServer) -> None:
    """An uploaded file's metadata (name, type, size) lists newest first, retrieves, deletes, then is a 404."""
    c = client(sim.base_url)
    notes = c.beta.files.upload(file=("notes.txt", b"hello files", "text/plain"))
    pdf = c.beta.files.upload(file=("dir/report.pdf", b"%PDF-1.4 x", "application/octet-stream"))
    assert notes.type == "file" and notes.id.startswith("file_")
    assert (notes.filename, notes.mime_type, notes.size_bytes, notes.downloadable) == (
        "notes.txt",
        "text/plain",
        11,
        False,
    )
    assert pdf.filename == "report.pdf" and pdf.mime_type == "application/pdf"  # basename; type from the name
    assert [f.id for f in c.beta.files.list()] == [pdf.id, notes.id]
    assert c.beta.files.retrieve_metadata(notes.id) == notes
    deleted = c.beta.files.delete(notes.id)
    assert deleted.id == notes.id and deleted.type == "file_deleted"
    with pytest.raises(anthropic.NotFoundError, match=notes.id):
        c.beta.files.retrieve_metadata(notes.id)
    assert [f.id for f in c.beta.files.list()] == [pdf.id]


def test_list_pages_by_cursor_and_by_ids(sim: SimServer) -> None:
    """list(limit=) pages with next_page cursors the SDK follows; ids= returns just those files."""
    c = client(sim.base_url)
    made = [c.beta.files.upload(file=(f"f{i}.txt", b"x", "text/plain")).id for i in range(5)]
    first = c.beta.files.list(limit=2)
    assert [f.id for f in first.data] == made[::-1][:2] and first.next_page
    assert [f.id for f in c.beta.files.list(limit=2)] == made[::-1]
    assert {f.id for f in c.beta.files.list(ids=[made[0], made[3], "file_gone"])} == {made[0], made[3]}
    old_style = httpx2.get(f"{sim.base_url}/v1/files", params={"limit": 2, "after_id": made[3]}, headers=HEADERS)
    assert [f["id"] for f in old_style.json()["data"]] == [made[2], made[1]] and old_style.json()["has_more"]


def test_uploaded_files_are_not_downloadable_tool_files_are(sim: SimServer) -> None:
    """Downloading an uploaded file is the API's 400; a file a tool created (files.add) downloads byte for byte."""
    c = client(sim.base_url)
    uploaded = c.beta.files.upload(file=("in.txt", b"mine", "text/plain"))
    with pytest.raises(anthropic.BadRequestError, match="not downloadable"):
        c.beta.files.download(uploaded.id)
    made = sim.files.add("chart.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    assert c.beta.files.retrieve_metadata(made.id).downloadable is True
    assert c.beta.files.download(made.id).read() == b"\x89PNG\r\n\x1a\n" + bytes(range(256))


def test_files_are_bounded_with_clear_errors() -> None:
    """Past max_file_bytes an upload is a 413 naming the limit; past max_files a 400; no file part a 400."""
    with run_sim(storage=StorageLimits(max_files=2, max_file_bytes=1000)) as sim:
        c = client(sim.base_url)
        with pytest.raises(anthropic.APIStatusError, match="max_file_bytes") as big:
            c.beta.files.upload(file=("big.bin", b"x" * 1001, "application/octet-stream"))
        c.beta.files.upload(file=("a.txt", b"a", "text/plain"))
        c.beta.files.upload(file=("b.txt", b"b", "text/plain"))
        with pytest.raises(anthropic.BadRequestError, match="max_files"):
            c.beta.files.upload(file=("c.txt", b"c", "text/plain"))
        no_part = httpx2.post(f"{sim.base_url}/v1/files", headers=HEADERS, files={"other": ("x", b"x")})
    assert big.value.status_code == 413 and big.value.body["error"]["type"] == "request_too_large"  # type: ignore[index]
    assert no_part.status_code == 400 and no_part.json()["error"]["message"] == "file: Field required"


def test_an_unsimulated_endpoint_is_a_clear_404_in_the_apis_error_shape(sim: SimServer) -> None:
    """A path the simulator lacks answers not_found_error naming it and the endpoints it does simulate."""
    answer = httpx2.post(f"{sim.base_url}/v1/skills", headers=HEADERS, json={})
    body = answer.json()
    assert answer.status_code == 404 and body["type"] == "error" and body["request_id"]
    assert body["error"]["type"] == "not_found_error"
    message = body["error"]["message"]
    assert message.startswith("POST /v1/skills is not simulated by claudewire sim; simulated endpoints:")
    assert "POST /v1/messages," in message and "GET /v1/files" in message
    with pytest.raises(anthropic.NotFoundError, match="is not simulated"):
        client(sim.base_url).get("/v1/organizations/me", cast_to=object)


def test_a_cloud_dialect_names_its_own_endpoints_when_a_path_is_not_simulated() -> None:
    """The Bedrock dialect answers an unknown path in Bedrock's error shape, listing its InvokeModel paths."""
    with run_sim(api="bedrock") as sim:
        answer = httpx2.get(f"{sim.base_url}/v1/messages/batches", headers={"authorization": "Bearer k"})
    assert answer.status_code == 404 and answer.headers["x-amzn-errortype"].startswith("ResourceNotFoundException")
    assert "is not simulated" in answer.json()["message"] and "/model/{model_id}/invoke" in answer.json()["message"]
