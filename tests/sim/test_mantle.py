"""`claudewire sim --api bedrock-mantle` against the official SDK's own AnthropicBedrockMantle and botocore's signer."""

from __future__ import annotations

import json
from collections.abc import Iterator

import anthropic
import httpx2
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from claudewire.sim import SimServer
from claudewire.sim.mantle import mantle_model_name
from claudewire.testing import run_sim

AKID, SECRET = "AKIDMANTLETEST00", "mantle-sim-secret"
MODEL = "anthropic.claude-haiku-4-5"
HELLO = [{"role": "user", "content": "Hello"}]


@pytest.fixture
def mantle() -> Iterator[SimServer]:
    """A Mantle-mode simulator that verifies signatures made with AKID/SECRET."""
    with run_sim(api="bedrock-mantle", seed=0, aws_access_key_id=AKID, aws_secret_access_key=SECRET) as server:
        yield server


def client(sim: SimServer, secret: str = SECRET, region: str = "us-east-1") -> anthropic.AnthropicBedrockMantle:
    return anthropic.AnthropicBedrockMantle(
        aws_access_key=AKID,
        aws_secret_key=secret,
        aws_region=region,
        base_url=sim.base_url + "/anthropic",
        max_retries=0,
    )


def signed_post(sim: SimServer, path: str, body: dict[str, object], service: str) -> httpx2.Response:
    """POST `body` signed by botocore's SigV4Auth for `service` in us-east-1."""
    data = json.dumps(body).encode()
    headers = {"content-type": "application/json", "anthropic-version": "2023-06-01"}
    request = AWSRequest("POST", sim.base_url + path, data=data, headers=headers)
    SigV4Auth(Credentials(AKID, SECRET), service, "us-east-1").add_auth(request)
    return httpx2.post(sim.base_url + path, content=data, headers=dict(request.headers.items()), timeout=10)


def test_create_stream_and_count_tokens_through_the_sdk(mantle: SimServer) -> None:
    """AnthropicBedrockMantle's create, stream and count_tokens reach /anthropic/v1/... signed for bedrock-mantle."""
    c = client(mantle)
    message = c.messages.create(model=MODEL, max_tokens=256, messages=HELLO)
    with c.messages.stream(model=MODEL, max_tokens=256, messages=HELLO) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    counted = c.messages.count_tokens(model=MODEL, messages=HELLO)  # type: ignore[arg-type]
    assert message.stop_reason == "end_turn" and text == message.content[0].text  # type: ignore[union-attr]
    assert final.usage.output_tokens == message.usage.output_tokens
    assert counted.input_tokens == message.usage.input_tokens
    assert [r.path for r in mantle.requests] == [
        "/anthropic/v1/messages",
        "/anthropic/v1/messages",
        "/anthropic/v1/messages/count_tokens",
    ]
    assert {r.headers["authorization"].split("/")[0] for r in mantle.requests} == {
        f"AWS4-HMAC-SHA256 Credential={AKID}"
    }


def test_stream_is_sse_like_the_anthropic_api(mantle: SimServer) -> None:
    """The streamed answer is text/event-stream with the API's own events (no AWS event-stream framing)."""
    body = {"model": MODEL, "max_tokens": 8, "messages": HELLO, "stream": True}
    answer = signed_post(mantle, "/anthropic/v1/messages", body, "bedrock-mantle")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/event-stream")
    assert answer.content.startswith(b"event: message_start") and answer.headers["x-amzn-requestid"]


def test_wrong_secret_region_and_service_are_refused_by_the_front_door(mantle: SimServer) -> None:
    """A signature with the wrong secret, region or service is a 403 in AWS's shape ({"message"} + ErrorType)."""
    with pytest.raises(anthropic.PermissionDeniedError, match="signature we calculated does not match"):
        client(mantle, secret="wrong").messages.create(model=MODEL, max_tokens=8, messages=HELLO)
    with pytest.raises(anthropic.PermissionDeniedError, match="valid region"):
        client(mantle, region="eu-west-1").messages.create(model=MODEL, max_tokens=8, messages=HELLO)
    body = {"model": MODEL, "max_tokens": 8, "messages": HELLO}
    wrong = signed_post(mantle, "/anthropic/v1/messages", body, "bedrock")
    assert wrong.status_code == 403 and "correct service: 'bedrock-mantle'" in wrong.json()["message"]
    assert wrong.headers["x-amzn-errortype"].startswith("InvalidSignatureException")


def test_bedrock_api_key_is_a_bearer_token() -> None:
    """A Bedrock API key is sent by the SDK as Authorization: Bearer and accepted; another key is refused."""
    with run_sim(api="bedrock-mantle", api_keys=("brk-mantle-key-1",)) as sim:
        base = sim.base_url + "/anthropic"
        good = anthropic.AnthropicBedrockMantle(api_key="brk-mantle-key-1", aws_region="us-east-1", base_url=base)
        assert good.messages.create(model=MODEL, max_tokens=8, messages=HELLO).content
        assert sim.app.received[-1]["auth"] == "api-key"  # type: ignore[attr-defined]
        bad = anthropic.AnthropicBedrockMantle(api_key="other", aws_region="us-east-1", base_url=base, max_retries=0)
        with pytest.raises(anthropic.PermissionDeniedError, match="invalid Bedrock API key"):
            bad.messages.create(model=MODEL, max_tokens=8, messages=HELLO)


def test_bare_anthropic_ids_and_unoffered_endpoints_are_not_found(mantle: SimServer) -> None:
    """A model id without the anthropic. prefix is unknown; Models and Batches are not offered: 404."""
    c = client(mantle)
    with pytest.raises(anthropic.NotFoundError, match="model: claude-haiku-4-5"):
        c.messages.create(model="claude-haiku-4-5", max_tokens=8, messages=HELLO)
    body = {"model": MODEL, "max_tokens": 8, "messages": HELLO}
    for path in ("/anthropic/v1/models", "/anthropic/v1/messages/batches"):
        answer = signed_post(mantle, path, body, "bedrock-mantle")
        assert answer.status_code == 404 and answer.json()["error"]["type"] == "not_found_error"


def test_status_faults_keep_the_anthropic_shape(mantle: SimServer) -> None:
    """The API's own errors (a 529 fault) come in the Anthropic shape, raised as the SDK's class."""
    mantle.set_faults(["529"])
    with pytest.raises(anthropic.InternalServerError) as info:
        client(mantle).messages.create(model=MODEL, max_tokens=8, messages=HELLO)
    assert info.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]


def test_model_ids_resolve_to_the_catalogue() -> None:
    """anthropic.<id> and a geography-prefixed id name the catalogue's model; a bare id names none."""
    assert mantle_model_name("anthropic.claude-opus-5") == "claude-opus-5"
    assert mantle_model_name("us.anthropic.claude-haiku-4-5") == "claude-haiku-4-5"
    assert mantle_model_name("claude-haiku-4-5") is None
