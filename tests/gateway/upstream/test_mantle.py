"""The bedrock-mantle kind offline: the Anthropic request in, Mantle's path, model id and auth out."""

from __future__ import annotations

import asyncio
import json

import pytest
from botocore.credentials import Credentials

from claudewire.gateway.upstream.kinds import build_kind
from claudewire.gateway.upstream.kinds.base import Refusal, UpstreamCall
from claudewire.gateway.upstream.kinds.mantle import MantleKind, mantle_model_id
from claudewire.gateway.upstream.pool import Upstream, UpstreamTarget
from claudewire.gateway.upstream.specs import upstreams_from_list
from claudewire.gateway.wire import first_header as header_value
from claudewire.sim.sigv4 import SignedRequest, check_sigv4

TARGET = UpstreamTarget.parse("http://127.0.0.1:9999")
HEADERS = [
    (b"x-api-key", b"sk-ant-client-key"),
    (b"anthropic-version", b"2023-06-01"),
    (b"content-type", b"application/json"),
    (b"anthropic-beta", b"interleaved-thinking-2025-05-14"),
    (b"user-agent", b"test"),
]
BODY = {"model": "claude-haiku-4-5", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}], "stream": True}


def mantle(target: UpstreamTarget = TARGET, **kwargs: object) -> MantleKind:
    kwargs.setdefault("credentials", Credentials("AKIDMANTLE", "mantle-secret"))
    return MantleKind("mantle", target, region="us-east-1", **kwargs)  # type: ignore[arg-type]


def send(kind: MantleKind, path: bytes = b"/v1/messages", body: object = BODY) -> UpstreamCall | Refusal:
    return asyncio.run(kind.request(b"POST", path, HEADERS, json.dumps(body).encode(), None))


def test_path_gains_anthropic_and_only_the_model_changes() -> None:
    """/v1/messages → /anthropic/v1/messages; the body is the client's with model anthropic.<id>; betas stay."""
    call = send(mantle())
    assert isinstance(call, UpstreamCall)
    assert call.path == b"/anthropic/v1/messages" and call.stream and call.op == "messages"
    assert json.loads(call.body) == {**BODY, "model": "anthropic.claude-haiku-4-5"}
    assert header_value(call.headers, b"anthropic-beta") == b"interleaved-thinking-2025-05-14"
    assert header_value(call.headers, b"anthropic-version") == b"2023-06-01"
    assert header_value(call.headers, b"x-api-key") is None  # the client's key never goes to AWS
    counted = send(mantle(), b"/v1/messages/count_tokens?beta=true", {"model": "claude-haiku-4-5", "messages": []})
    assert isinstance(counted, UpstreamCall) and counted.path == b"/anthropic/v1/messages/count_tokens?beta=true"
    already = send(mantle(UpstreamTarget.parse("http://127.0.0.1:9999/anthropic")))
    assert isinstance(already, UpstreamCall) and already.path == b"/v1/messages"  # the URL carries /anthropic


def test_signature_verifies_for_service_bedrock_mantle() -> None:
    """The SigV4 signature is for service bedrock-mantle in the region, over the path and body as sent."""
    call = send(mantle())
    assert isinstance(call, UpstreamCall)
    headers = {"host": "127.0.0.1:9999", "content-type": "application/json"}
    headers["authorization"] = (header_value(call.headers, b"authorization") or b"").decode()
    headers["x-amz-date"] = (header_value(call.headers, b"x-amz-date") or b"").decode()
    signed = SignedRequest("POST", "http://127.0.0.1:9999" + call.path.decode(), headers, call.body)
    akid = check_sigv4(
        signed, service="bedrock-mantle", region="us-east-1", access_key="AKIDMANTLE", secret_key="mantle-secret"
    )
    assert akid == "AKIDMANTLE"


def test_bedrock_api_key_is_a_bearer_token() -> None:
    """With keys, the one the pool chose goes as Authorization: Bearer and nothing is signed."""
    kind = mantle(keys=("brk-1", "brk-2"))
    call = asyncio.run(kind.request(b"POST", b"/v1/messages", HEADERS, json.dumps(BODY).encode(), "brk-2"))
    assert isinstance(call, UpstreamCall)
    assert header_value(call.headers, b"authorization") == b"Bearer brk-2"
    assert header_value(call.headers, b"x-amz-date") is None


@pytest.mark.parametrize(
    ("path", "what"),
    [
        (b"/v1/messages/batches", "Message Batches"),
        (b"/v1/files", "the Files API"),
        (b"/v1/models", "the Models API"),
        (b"/v1/models/claude-haiku-4-5", "the Models API"),
    ],
)
def test_unoffered_endpoints_are_refused_saying_so(path: bytes, what: str) -> None:
    """Batches, Files and Models: a 400 in the Anthropic shape naming the endpoint, never forwarded."""
    refusal = asyncio.run(mantle().request(b"GET", path, HEADERS, b"", None))
    assert isinstance(refusal, Refusal) and refusal.status == 400
    assert refusal.error_type == "invalid_request_error"
    assert refusal.message.startswith(what) and "not offered by Claude in Amazon Bedrock" in refusal.message


def test_model_ids_default_and_map() -> None:
    """model_map wins; an id already in Bedrock's form passes; otherwise anthropic.<id>."""
    assert mantle_model_id("claude-opus-5", {}) == "anthropic.claude-opus-5"
    assert mantle_model_id("anthropic.claude-opus-5", {}) == "anthropic.claude-opus-5"
    assert mantle_model_id("us.anthropic.claude-opus-5", {}) == "us.anthropic.claude-opus-5"
    assert mantle_model_id("claude-opus-5", {"claude-opus-5": "anthropic.claude-opus-5-v2"}) == (
        "anthropic.claude-opus-5-v2"
    )


def test_front_door_errors_become_anthropic_errors() -> None:
    """An AWS-shaped refusal (x-amzn-ErrorType) becomes the Anthropic status and body; an Anthropic one passes."""
    call = send(mantle())
    assert isinstance(call, UpstreamCall)
    headers = [(b"x-amzn-errortype", b"ExpiredTokenException:http://internal"), (b"content-type", b"application/json")]
    translator = mantle().response(call, 403, headers)
    body = json.loads(translator.feed(b'{"message":"The security token included in the request is expired"}'))
    assert translator.status == 401 and body["error"]["type"] == "authentication_error"
    assert "expired" in body["error"]["message"]
    plain = mantle().response(call, 529, [(b"content-type", b"application/json")])
    assert plain.status == 529 and not plain.whole_body


def test_config_registers_the_kind_with_its_fields() -> None:
    """kind = "bedrock-mantle" is accepted with region and model_map; the region comes from the host otherwise."""
    (spec,) = upstreams_from_list(
        [{"name": "m", "kind": "bedrock-mantle", "url": "https://bedrock-mantle.eu-west-1.api.aws"}]
    )
    kind = build_kind(spec, Upstream(spec.url), credentials=Credentials("A", "B"))
    assert isinstance(kind, MantleKind) and kind.region == "eu-west-1"
    assert not spec.forwards_credentials  # without keys: the AWS chain, never the client's key
