"""`claudewire sim --api vertex` and `--api foundry` against the official SDK's AnthropicVertex and AnthropicFoundry."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import pytest

from claudewire.sim import SimServer
from claudewire.sim.vertex import VERTEX_REJECTED, vertex_model_name
from claudewire.testing import run_sim

MODEL = "claude-haiku-4-5@20251001"
HELLO = [{"role": "user", "content": "Hello"}]


@pytest.fixture
def vertex() -> Iterator[SimServer]:
    """A Vertex-mode simulator accepting one bearer token, serving us-east5."""
    with run_sim(api="vertex", seed=0, api_keys=("ya29.sim-token",), region="us-east5") as server:
        yield server


def client(sim: SimServer, token: str = "ya29.sim-token", region: str = "us-east5") -> anthropic.AnthropicVertex:
    return anthropic.AnthropicVertex(
        region=region, project_id="sim-project", access_token=token, base_url=sim.base_url + "/v1", max_retries=0
    )


def test_create_stream_and_count_tokens(vertex: SimServer) -> None:
    """AnthropicVertex's create, stream and count_tokens reach rawPredict / streamRawPredict / count-tokens."""
    c = client(vertex)
    message = c.messages.create(model=MODEL, max_tokens=256, messages=HELLO)
    with c.messages.stream(model=MODEL, max_tokens=256, messages=HELLO) as stream:
        text = "".join(stream.text_stream)
    counted = c.messages.count_tokens(model=MODEL, messages=HELLO)  # type: ignore[arg-type]
    assert message.model == "claude-haiku-4-5-20251001"
    assert text == message.content[0].text  # type: ignore[union-attr]
    assert counted.input_tokens == message.usage.input_tokens
    prefix = "/v1/projects/sim-project/locations/us-east5/publishers/anthropic/models/"
    assert [r.path for r in vertex.requests] == [
        prefix + MODEL + ":rawPredict",
        prefix + MODEL + ":streamRawPredict",
        prefix + "count-tokens:rawPredict",
    ]


@pytest.mark.parametrize("field", sorted(VERTEX_REJECTED))
def test_fields_vertex_rejects_are_extra_inputs(vertex: SimServer, field: str) -> None:
    """A body field Vertex does not take is a 400 invalid_request_error "<field>: Extra inputs are not permitted"."""
    with pytest.raises(anthropic.BadRequestError, match=f"{field}: Extra inputs are not permitted"):
        client(vertex).messages.create(model=MODEL, max_tokens=8, messages=HELLO, extra_body={field: {}})


def test_bearer_token_is_checked_in_google_error_shape(vertex: SimServer) -> None:
    """A token the simulator does not accept is Google's 401 UNAUTHENTICATED; the SDK raises AuthenticationError."""
    with pytest.raises(anthropic.AuthenticationError) as info:
        client(vertex, token="wrong").messages.create(model=MODEL, max_tokens=8, messages=HELLO)
    assert info.value.body["error"]["status"] == "UNAUTHENTICATED"  # type: ignore[index]


def test_region_and_model_errors(vertex: SimServer) -> None:
    """Another location is a 400 and an unknown publisher model Google's 404 NOT_FOUND."""
    with pytest.raises(anthropic.BadRequestError, match="Location europe-west1"):
        client(vertex, region="europe-west1").messages.create(model=MODEL, max_tokens=8, messages=HELLO)
    with pytest.raises(anthropic.NotFoundError, match="Publisher Model"):
        client(vertex).messages.create(model="claude-nonexistent@20990101", max_tokens=8, messages=HELLO)


@pytest.mark.parametrize(
    ("fault", "error", "shape"),
    [
        ("429", anthropic.RateLimitError, "google"),
        ("529", anthropic.OverloadedError, "anthropic"),
        ("500", anthropic.InternalServerError, "anthropic"),
    ],
)
def test_status_faults(vertex: SimServer, fault: str, error: type[Exception], shape: str) -> None:
    """Quota errors come in Google's shape, the model's own (overloaded, api_error) in Anthropic's."""
    vertex.set_faults([fault])
    with pytest.raises(error) as info:
        client(vertex).messages.create(model=MODEL, max_tokens=8, messages=HELLO)
    body = info.value.body  # type: ignore[attr-defined]
    assert ("status" in body["error"]) == (shape == "google")


def test_midstream_error_is_an_sse_error_event(vertex: SimServer) -> None:
    """Vertex streams are plain SSE: a midstream_error,status=429 fault arrives as a rate_limit_error event."""
    vertex.set_faults(["midstream_error:1.0,after=2,status=429"])
    stream_call = client(vertex).messages.stream(model=MODEL, max_tokens=256, messages=HELLO)
    with pytest.raises(anthropic.APIStatusError) as info, stream_call as stream:
        list(stream.text_stream)
    assert info.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]


def test_vertex_model_ids() -> None:
    """name@date is the catalogue's dated id; an id without a date is kept."""
    assert vertex_model_name("claude-sonnet-4-5@20250929") == "claude-sonnet-4-5-20250929"
    assert vertex_model_name("claude-opus-4-8") == "claude-opus-4-8"


def test_foundry_client_under_anthropic_prefix() -> None:
    """AnthropicFoundry reaches /anthropic/v1/messages with api-key and x-api-key; a wrong key is a 401."""
    with run_sim(api="foundry", api_keys=("foundry-key",)) as sim:
        base = sim.base_url + "/anthropic/"
        c = anthropic.AnthropicFoundry(api_key="foundry-key", base_url=base, max_retries=0)
        message = c.messages.create(model="claude-haiku-4-5", max_tokens=8, messages=HELLO)
        with c.messages.stream(model="claude-haiku-4-5", max_tokens=8, messages=HELLO) as stream:
            assert stream.get_final_message().content[0].text == message.content[0].text  # type: ignore[union-attr]
        assert c.messages.count_tokens(model="claude-haiku-4-5", messages=HELLO).input_tokens > 0  # type: ignore[arg-type]
        record = sim.requests[0]
        assert record.path == "/anthropic/v1/messages"
        assert record.headers["api-key"] == record.headers["x-api-key"] == "foundry-key"
        wrong = anthropic.AnthropicFoundry(api_key="other", base_url=base, max_retries=0)
        with pytest.raises(anthropic.AuthenticationError):
            wrong.messages.create(model="claude-haiku-4-5", max_tokens=8, messages=HELLO)
