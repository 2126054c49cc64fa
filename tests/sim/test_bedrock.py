"""`claudewire sim --api bedrock` against clients no one here wrote: the SDK's AnthropicBedrock, botocore's signer."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import anthropic
import httpx2
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from claudewire.sim import SimServer
from claudewire.sim.bedrock import bedrock_model_name
from claudewire.testing import run_sim

AKID, SECRET = "AKIDSIMTEST0000", "sim-secret-key"
MODEL = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
HELLO = [{"role": "user", "content": "Hello"}]


@pytest.fixture
def bedrock() -> Iterator[SimServer]:
    """A Bedrock-mode simulator that verifies signatures made with AKID/SECRET."""
    with run_sim(api="bedrock", seed=0, aws_access_key_id=AKID, aws_secret_access_key=SECRET) as server:
        yield server


def client(sim: SimServer, secret: str = SECRET, region: str = "us-east-1") -> anthropic.AnthropicBedrock:
    return anthropic.AnthropicBedrock(
        aws_access_key=AKID, aws_secret_key=secret, aws_region=region, base_url=sim.base_url, max_retries=0
    )


def signed_post(sim: SimServer, path: str, body: dict[str, object], service: str = "bedrock") -> httpx2.Response:
    """POST `body` signed by botocore's SigV4Auth for `service` in us-east-1."""
    data = json.dumps(body).encode()
    request = AWSRequest("POST", sim.base_url + path, data=data, headers={"content-type": "application/json"})
    SigV4Auth(Credentials(AKID, SECRET), service, "us-east-1").add_auth(request)
    return httpx2.post(sim.base_url + path, content=data, headers=dict(request.headers.items()), timeout=10)


def test_create_and_stream_through_the_sdk(bedrock: SimServer) -> None:
    """AnthropicBedrock's create and stream get the catalogue's answer; the stream assembles to its final message."""
    c = client(bedrock)
    message = c.messages.create(model=MODEL, max_tokens=256, messages=HELLO)
    assert message.model == "claude-haiku-4-5-20251001" and message.stop_reason == "end_turn"
    with c.messages.stream(model=MODEL, max_tokens=256, messages=HELLO) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == message.content[0].text  # type: ignore[union-attr]
    assert final.usage.output_tokens == message.usage.output_tokens
    assert [r.path for r in bedrock.requests] == [
        f"/model/{MODEL}/invoke",
        f"/model/{MODEL}/invoke-with-response-stream",
    ]
    sent = bedrock.app.received[-1]  # type: ignore[attr-defined]
    assert sent["anthropic_version"] == "2026-10-21"  # what SDK 2.15's AnthropicBedrock puts in the body


def test_stream_is_eventstream_framed(bedrock: SimServer) -> None:
    """The streamed answer is application/vnd.amazon.eventstream, not SSE (the SDK decodes it with botocore)."""
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 8, "messages": HELLO}
    answer = signed_post(bedrock, f"/model/{MODEL}/invoke-with-response-stream", body)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/vnd.amazon.eventstream"
    assert b"event: " not in answer.content and answer.headers["x-amzn-requestid"]


def test_tool_use_streams_its_arguments(bedrock: SimServer) -> None:
    """A tool call streamed over Bedrock arrives with its input assembled from input_json_delta events."""
    tools = [{"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]
    with client(bedrock).messages.stream(model=MODEL, max_tokens=256, messages=HELLO, tools=tools) as stream:  # type: ignore[arg-type]
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    assert final.content[0].input == {"city": "example"}  # type: ignore[union-attr]


def test_count_tokens_path_wraps_the_invoke_body(bedrock: SimServer) -> None:
    """/count-tokens takes {"input":{"invokeModel":{"body":base64}}} and answers inputTokens equal to usage."""
    inner = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 8, "messages": HELLO}
    encoded = base64.b64encode(json.dumps(inner).encode()).decode()
    counted = signed_post(bedrock, f"/model/{MODEL}/count-tokens", {"input": {"invokeModel": {"body": encoded}}})
    used = client(bedrock).messages.create(model=MODEL, max_tokens=8, messages=HELLO).usage.input_tokens
    assert counted.status_code == 200 and counted.json() == {"inputTokens": used}


def test_sdk_count_tokens_is_refused_by_the_sdk_itself(bedrock: SimServer) -> None:
    """SDK 2.15's AnthropicBedrock raises before sending count_tokens (so the path is tested with botocore above)."""
    with pytest.raises(anthropic.AnthropicError, match="not supported in Bedrock"):
        client(bedrock).messages.count_tokens(model=MODEL, messages=HELLO)  # type: ignore[arg-type]
    assert bedrock.stats.total == 0


def test_wrong_secret_wrong_region_and_wrong_service_are_refused(bedrock: SimServer) -> None:
    """A signature with the wrong secret, for another region or another service is a 403 from Bedrock's front door."""
    with pytest.raises(anthropic.PermissionDeniedError, match="signature we calculated does not match"):
        client(bedrock, secret="wrong").messages.create(model=MODEL, max_tokens=8, messages=HELLO)
    with pytest.raises(anthropic.PermissionDeniedError, match="valid region"):
        client(bedrock, region="eu-west-1").messages.create(model=MODEL, max_tokens=8, messages=HELLO)
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 8, "messages": HELLO}
    wrong = signed_post(bedrock, f"/model/{MODEL}/invoke", body, service="sagemaker")
    assert wrong.status_code == 403 and "correct service" in wrong.json()["message"]
    assert wrong.headers["x-amzn-errortype"].startswith("InvalidSignatureException")
    unsigned = httpx2.post(bedrock.base_url + f"/model/{MODEL}/invoke", json=body, timeout=10)
    assert unsigned.status_code == 403 and unsigned.json() == {"message": "Missing Authentication Token"}


def test_bedrock_api_key_is_a_bearer_token() -> None:
    """A Bedrock API key (AWS_BEARER_TOKEN_BEDROCK) is sent as Authorization: Bearer and accepted; others refused."""
    with run_sim(api="bedrock", api_keys=("bedrock-api-key-1",)) as sim:
        good = anthropic.AnthropicBedrock(api_key="bedrock-api-key-1", aws_region="us-east-1", base_url=sim.base_url)
        assert good.messages.create(model=MODEL, max_tokens=8, messages=HELLO).content
        bad = anthropic.AnthropicBedrock(api_key="other", aws_region="us-east-1", base_url=sim.base_url, max_retries=0)
        with pytest.raises(anthropic.PermissionDeniedError):
            bad.messages.create(model=MODEL, max_tokens=8, messages=HELLO)


def test_beta_outside_the_allowlist_is_invalid_beta_flag(bedrock: SimServer) -> None:
    """An anthropic_beta value Bedrock does not know fails the whole request with 400 "invalid beta flag"."""
    c = client(bedrock)
    ok = c.beta.messages.create(model=MODEL, max_tokens=8, messages=HELLO, betas=["interleaved-thinking-2025-05-14"])  # type: ignore[arg-type]
    assert ok.content
    assert bedrock.app.received[-1]["anthropic_beta"] == ["interleaved-thinking-2025-05-14"]  # type: ignore[attr-defined]
    with pytest.raises(anthropic.BadRequestError, match="invalid beta flag") as info:
        c.beta.messages.create(model=MODEL, max_tokens=8, messages=HELLO, betas=["files-api-2025-04-14"])  # type: ignore[arg-type]
    assert info.value.response.headers["x-amzn-errortype"].startswith("ValidationException")


def test_model_and_stream_in_the_body_are_extraneous_keys(bedrock: SimServer) -> None:
    """A body still carrying model or stream (an untranslated Messages body) is Bedrock's malformed-input 400."""
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 8, "messages": HELLO, "model": MODEL}
    answer = signed_post(bedrock, f"/model/{MODEL}/invoke", body)
    assert answer.status_code == 400 and "extraneous key [model] is not permitted" in answer.json()["message"]
    del body["model"], body["anthropic_version"]
    answer = signed_post(bedrock, f"/model/{MODEL}/invoke", body)
    assert "required key [anthropic_version] not found" in answer.json()["message"]


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("429", anthropic.RateLimitError),
        ("503", anthropic.InternalServerError),
        ("529", anthropic.InternalServerError),
        ("500", anthropic.InternalServerError),
        ("400", anthropic.BadRequestError),
        ("403", anthropic.PermissionDeniedError),
    ],
)
def test_status_faults_are_bedrock_errors(bedrock: SimServer, fault: str, error: type[Exception]) -> None:
    """Each status fault answers in Bedrock's shape ({"message"} + x-amzn-ErrorType), raised as the SDK's class."""
    bedrock.set_faults([fault])
    with pytest.raises(error) as info:
        client(bedrock).messages.create(model=MODEL, max_tokens=8, messages=HELLO)
    response = info.value.response  # type: ignore[attr-defined]
    assert set(response.json()) == {"message"}
    assert response.headers["x-amzn-errortype"].split(":")[0].endswith("Exception")
    assert "anthropic-ratelimit-requests-limit" not in response.headers and "retry-after" not in response.headers


@pytest.mark.parametrize(
    ("status", "exception"),
    [
        (429, "throttlingException"),
        (503, "serviceUnavailableException"),
        (424, "modelStreamErrorException"),
        (529, "modelStreamErrorException"),
        (408, "modelTimeoutException"),
        (400, "validationException"),
        (500, "internalServerException"),
    ],
)
def test_midstream_faults_are_exception_frames(bedrock: SimServer, status: int, exception: str) -> None:
    """midstream_error,status=N ends the stream with the matching exception frame; the SDK raises it as an error."""
    bedrock.set_faults([f"midstream_error:1.0,after=2,status={status}"])
    pieces: list[str] = []
    stream_call = client(bedrock).messages.stream(model=MODEL, max_tokens=256, messages=HELLO)
    with pytest.raises(anthropic.APIStatusError) as info, stream_call as stream:
        pieces.extend(stream.text_stream)
    assert len(pieces) == 2
    assert info.value.body["error"]["type"] == exception  # type: ignore[index]


def test_model_ids_resolve_to_the_catalogue() -> None:
    """Bedrock model ids, cross-region inference profiles and ARNs name the catalogue's Anthropic model."""
    assert bedrock_model_name("anthropic.claude-haiku-4-5-20251001-v1:0") == "claude-haiku-4-5-20251001"
    assert bedrock_model_name("global.anthropic.claude-sonnet-4-5-20250929-v1:0") == "claude-sonnet-4-5-20250929"
    arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-opus-4-8-v1"
    assert bedrock_model_name(arn) == "claude-opus-4-8"
