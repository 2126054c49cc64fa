"""The cloud translators (gateway/upstream/kinds) offline: requests in, upstream requests out; frames in, SSE out."""

from __future__ import annotations

import asyncio
import base64
import json
import logging

import pytest
from botocore.credentials import Credentials

from claudewire import FailureKind, classify
from claudewire.gateway.upstream.kinds import build_kind
from claudewire.gateway.upstream.kinds.base import Refusal, UpstreamCall
from claudewire.gateway.upstream.kinds.bedrock import DEFAULT_BETAS, BedrockKind
from claudewire.gateway.upstream.kinds.errors import bedrock_error, google_error
from claudewire.gateway.upstream.kinds.eventstream import EventStreamToSSE
from claudewire.gateway.upstream.kinds.foundry import FoundryKind
from claudewire.gateway.upstream.kinds.models import bedrock_model_id, vertex_model_id
from claudewire.gateway.upstream.kinds.vertex import VertexKind
from claudewire.gateway.upstream.pool import Upstream, UpstreamTarget
from claudewire.gateway.upstream.specs import UpstreamConfigError, upstreams_from_list
from claudewire.gateway.wire import first_header
from claudewire.sim.bedrock import BEDROCK_BETAS
from claudewire.sim.eventstream import chunk_frame, encode_message, exception_frame
from claudewire.sim.sigv4 import SignedRequest, check_sigv4

TARGET = UpstreamTarget.parse("http://127.0.0.1:9999")
HEADERS = [
    (b"x-api-key", b"sk-ant-client-key"),
    (b"anthropic-version", b"2023-06-01"),
    (b"content-type", b"application/json"),
    (b"anthropic-beta", b"interleaved-thinking-2025-05-14,files-api-2025-04-14"),
    (b"user-agent", b"test"),
]
BODY = {"model": "claude-haiku-4-5", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


def bedrock(**kwargs: object) -> BedrockKind:
    kwargs.setdefault("credentials", Credentials("AKIDUNIT", "unit-secret"))
    return BedrockKind("bedrock-east", TARGET, region="us-east-1", **kwargs)  # type: ignore[arg-type]


def translate(kind: object, body: dict[str, object], path: bytes = b"/v1/messages") -> UpstreamCall:
    call = run(kind.request(b"POST", path, HEADERS, json.dumps(body).encode(), None))  # type: ignore[attr-defined]
    assert isinstance(call, UpstreamCall), call
    return call


def test_bedrock_request_body_path_and_headers() -> None:
    """model and stream leave the body for the path; anthropic_version is added; the client's key never goes up."""
    call = translate(bedrock(), {**BODY, "stream": True})
    sent = json.loads(call.body)
    assert call.path == b"/model/us.anthropic.claude-haiku-4-5-20251001-v1:0/invoke-with-response-stream"
    assert "model" not in sent and "stream" not in sent
    assert sent["anthropic_version"] == "2026-10-21" and sent["messages"] == BODY["messages"]
    assert first_header(call.headers, b"x-api-key") is None and first_header(call.headers, b"anthropic-beta") is None
    assert first_header(call.headers, b"user-agent") == b"test"
    plain = translate(bedrock(), BODY)
    assert plain.path.endswith(b"/invoke") and not plain.stream


def test_bedrock_signature_verifies_for_service_and_region() -> None:
    """The SigV4 signature botocore made verifies (service bedrock, the region) over the exact bytes sent."""
    call = translate(bedrock(), BODY)
    headers = {k.decode().lower(): v.decode() for k, v in call.headers}
    headers["host"] = TARGET.host_header.decode()
    signature = headers["authorization"].rpartition("Signature=")[2]
    assert len(signature) == 64 and signature in call.minted  # scrubbed from the answer to this call
    signed = SignedRequest("POST", "http://127.0.0.1:9999" + call.path.decode(), headers, call.body)
    assert check_sigv4(signed, service="bedrock", region="us-east-1", access_key="AKIDUNIT", secret_key="unit-secret")
    with pytest.raises(Exception, match="does not match"):
        check_sigv4(signed, service="bedrock", region="us-east-1", access_key="AKIDUNIT", secret_key="other")


def test_bedrock_api_key_is_sent_as_bearer_in_turn() -> None:
    """With keys, each call carries one as Authorization: Bearer (round robin) and no SigV4."""
    kind = BedrockKind("b", TARGET, region="us-east-1", keys=("k1", "k2"))
    auths = [first_header(translate(kind, BODY).headers, b"authorization") for _ in range(3)]
    assert auths == [b"Bearer k1", b"Bearer k2", b"Bearer k1"]


def test_betas_filtered_through_the_allowlist_and_dropped_ones_logged(caplog: pytest.LogCaptureFixture) -> None:
    """Allowed betas go into anthropic_beta, aliases are renamed, unknown ones are dropped with a warning."""
    kind = bedrock(betas=["interleaved-thinking-2025-05-14", "bedrock-name"], aliases={"files-api-2025-04-14": "x"})
    with caplog.at_level(logging.WARNING, "claudewire.gateway.upstream.kinds.bedrock"):
        sent = json.loads(translate(kind, {**BODY, "anthropic_beta": ["client-name"]}).body)
    assert sent["anthropic_beta"] == ["interleaved-thinking-2025-05-14"]
    assert "files-api-2025-04-14" in caplog.text and "client-name" in caplog.text
    renamed = bedrock(betas=["bedrock-name"], aliases={"files-api-2025-04-14": "bedrock-name"})
    assert json.loads(translate(renamed, BODY).body)["anthropic_beta"] == ["bedrock-name"]


def test_default_allowlist_is_what_the_simulated_bedrock_accepts() -> None:
    """The shipped allowlist holds only betas the Bedrock simulator takes (it answers invalid beta flag otherwise)."""
    assert DEFAULT_BETAS <= BEDROCK_BETAS
    assert "interleaved-thinking-2025-05-14" in DEFAULT_BETAS


def test_bedrock_count_tokens_wraps_the_invoke_body() -> None:
    """count_tokens goes to /count-tokens as {"input":{"invokeModel":{"body":base64}}} without model."""
    call = translate(
        bedrock(), {"model": "claude-haiku-4-5", "messages": BODY["messages"]}, b"/v1/messages/count_tokens"
    )
    assert call.path.endswith(b"/count-tokens") and call.op == "count_tokens"
    inner = json.loads(base64.b64decode(json.loads(call.body)["input"]["invokeModel"]["body"]))
    assert "model" not in inner and inner["anthropic_version"] == "2026-10-21" and inner["messages"]


@pytest.mark.parametrize(
    ("path", "status", "error_type"),
    [
        (b"/v1/messages/batches", 400, "invalid_request_error"),
        (b"/v1/files", 400, "invalid_request_error"),
        (b"/v1/models", 404, "not_found_error"),
    ],
)
def test_unserved_endpoints_are_refused_in_the_anthropic_shape(path: bytes, status: int, error_type: str) -> None:
    """Batches and files are a 400, other paths a 404, each naming the upstream that cannot serve them."""
    refusal = run(bedrock().request(b"POST", path, HEADERS, b"{}", None))
    assert isinstance(refusal, Refusal)
    assert (refusal.status, refusal.error_type) == (status, error_type)
    assert "bedrock-east" in refusal.message


def test_model_mapping_defaults_and_overrides() -> None:
    """Aliases become dated ids in each cloud's spelling; a model_map entry wins; cloud ids pass unchanged."""
    assert bedrock_model_id("claude-sonnet-4-5", "eu-west-1", {}) == "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"
    assert bedrock_model_id("claude-opus-4-8", "us-east-1", {}) == "us.anthropic.claude-opus-4-8-v1:0"
    assert bedrock_model_id("anthropic.claude-x-v1:0", "us-east-1", {}) == "anthropic.claude-x-v1:0"
    assert bedrock_model_id("claude-sonnet-4-5", "us-east-1", {"claude-sonnet-4-5": "arn:p"}) == "arn:p"
    assert vertex_model_id("claude-sonnet-4-5", {}) == "claude-sonnet-4-5@20250929"
    assert vertex_model_id("claude-haiku-4-5-20251001", {}) == "claude-haiku-4-5@20251001"
    assert vertex_model_id("claude-opus-4-8", {}) == "claude-opus-4-8"


def _sse(frames: list[bytes], split: int) -> list[bytes]:
    translator = EventStreamToSSE(200, [(b"content-type", b"application/vnd.amazon.eventstream")])
    data = b"".join(frames)
    return [out for i in range(0, len(data), split) if (out := translator.feed(data[i : i + split]))]


def test_event_stream_becomes_sse_event_by_event() -> None:
    """Each chunk frame becomes one SSE event with its JSON as sent; metrics are stripped from message_stop."""
    start = {"type": "message_start", "message": {"id": "m", "usage": {"input_tokens": 3}}}
    delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": '{"a'}}
    stop = {"type": "message_stop", "amazon-bedrock-invocationMetrics": {"inputTokenCount": 3}}
    frames = [chunk_frame(start), chunk_frame(delta), chunk_frame(stop)]
    whole = b"".join(_sse(frames, 7))
    events = [e for e in whole.split(b"\n\n") if e]
    assert [e.split(b"\n")[0] for e in events] == [
        b"event: message_start",
        b"event: content_block_delta",
        b"event: message_stop",
    ]
    assert json.loads(events[1].split(b"data: ", 1)[1]) == delta  # input_json_delta untouched
    assert json.loads(events[2].split(b"data: ", 1)[1]) == {"type": "message_stop"}


def test_each_frame_is_emitted_as_soon_as_it_is_complete() -> None:
    """No buffering: a complete frame yields its event at once, a partial one nothing until the rest arrives."""
    translator = EventStreamToSSE(200, [])
    frame = chunk_frame({"type": "ping"})
    assert translator.feed(frame[:10]) == b""
    assert translator.feed(frame[10:]) == b'event: ping\ndata: {"type":"ping"}\n\n'


@pytest.mark.parametrize(
    ("exception", "error_type"),
    [
        ("throttlingException", "rate_limit_error"),
        ("serviceUnavailableException", "overloaded_error"),
        ("modelTimeoutException", "timeout_error"),
        ("validationException", "invalid_request_error"),
        ("internalServerException", "api_error"),
        ("modelStreamErrorException", "api_error"),
    ],
)
def test_exception_frames_become_error_events(exception: str, error_type: str) -> None:
    """An exception frame ends the stream with an Anthropic error event of the matching type (and taxonomy kind)."""
    out = b"".join(_sse([chunk_frame({"type": "ping"}), exception_frame(exception, "boom")], 1000))
    last = out.split(b"\n\n")[-2]
    assert last.startswith(b"event: error\ndata: ")
    event = json.loads(last.split(b"data: ", 1)[1])
    assert event["error"]["type"] == error_type and "boom" in event["error"]["message"]
    assert classify(event) is not None


def test_model_stream_error_keeps_the_models_own_status() -> None:
    """modelStreamErrorException with originalStatusCode 529 is an overloaded_error event."""
    frame = exception_frame("modelStreamErrorException", "Overloaded", originalStatusCode=529)
    event = json.loads(b"".join(_sse([frame], 64)).split(b"data: ", 1)[1])
    assert event["error"]["type"] == "overloaded_error"


def test_corrupt_frame_is_an_error_event_not_a_crash() -> None:
    """A frame whose CRC fails ends the stream with an api_error event."""
    frame = bytearray(encode_message({":event-type": "chunk", ":message-type": "event"}, b'{"bytes":""}'))
    frame[-5] ^= 0xFF
    out = b"".join(_sse([bytes(frame)], 1000))
    assert b'"api_error"' in out and b"corrupt" in out


@pytest.mark.parametrize(
    ("name", "status", "answer", "error_type"),
    [
        ("ThrottlingException", 429, 429, "rate_limit_error"),
        ("ServiceUnavailableException", 503, 529, "overloaded_error"),
        ("ModelTimeoutException", 408, 504, "timeout_error"),
        ("ValidationException", 400, 400, "invalid_request_error"),
        ("AccessDeniedException", 403, 403, "permission_error"),
        ("InvalidSignatureException", 403, 401, "authentication_error"),
        ("", 502, 502, "api_error"),
    ],
)
def test_bedrock_error_bodies(name: str, status: int, answer: int, error_type: str) -> None:
    """A Bedrock error answer becomes the Anthropic status and error body, its message kept."""
    header = f"{name}:http://internal.amazon.com/coral/com.amazon.bedrock/".encode() if name else None
    got, body = bedrock_error(status, header, b'{"message":"the reason"}')
    assert got == answer
    err = json.loads(body)["error"]
    assert err["type"] == error_type and err["message"].startswith("the reason")


def test_google_errors_become_anthropic_errors_and_anthropic_ones_pass() -> None:
    """RESOURCE_EXHAUSTED is a 429 rate_limit_error; an Anthropic-shaped body from Vertex is left alone."""
    status, body = google_error(429, b'{"error":{"code":429,"message":"Quota","status":"RESOURCE_EXHAUSTED"}}') or (
        0,
        b"",
    )
    assert status == 429 and json.loads(body)["error"]["type"] == "rate_limit_error"
    assert google_error(529, b'{"type":"error","error":{"type":"overloaded_error","message":"o"}}') is None


def test_taxonomy_classifies_bedrock_http_errors_by_their_header() -> None:
    """classify() reads x-amzn-ErrorType: a Bedrock 503 ServiceUnavailableException is overloaded, retryable."""
    failure = classify(
        503, headers={"x-amzn-ErrorType": "ServiceUnavailableException:http://x/"}, body=b'{"message":"m"}'
    )
    assert failure is not None and failure.kind is FailureKind.OVERLOADED and failure.retryable
    assert failure.message == "m"
    stream = classify({"type": "error", "error": {"type": "throttlingException", "message": "t"}})
    assert stream is not None and stream.kind is FailureKind.RATE_LIMIT and stream.retryable


def test_vertex_request_path_body_and_token() -> None:
    """rawPredict path for project/region/model@date, model out of the body, rejected fields removed, bearer set."""
    kind = VertexKind("vx", project="p1", region="us-east5", keys=("ya29.tok",))
    call = translate(kind, {**BODY, "stream": True, "service_tier": "auto", "output_config": {}})
    assert (
        call.path
        == b"/projects/p1/locations/us-east5/publishers/anthropic/models/claude-haiku-4-5@20251001:streamRawPredict"
    )
    sent = json.loads(call.body)
    assert "model" not in sent and "service_tier" not in sent and "output_config" not in sent and sent["stream"]
    assert first_header(call.headers, b"authorization") == b"Bearer ya29.tok"
    assert first_header(call.headers, b"anthropic-beta") is not None  # Vertex takes the header
    counted = translate(kind, {"model": "claude-haiku-4-5", "messages": []}, b"/v1/messages/count_tokens")
    assert counted.path.endswith(b"/models/count-tokens:rawPredict")
    assert json.loads(counted.body)["model"] == "claude-haiku-4-5@20251001"


def test_foundry_replaces_the_clients_key_with_its_own() -> None:
    """Foundry gets its key as api-key and x-api-key (or a bearer), never the client's."""
    call = translate(FoundryKind("f", keys=("fk",)), BODY)
    assert first_header(call.headers, b"api-key") == first_header(call.headers, b"x-api-key") == b"fk"
    bearer = translate(FoundryKind("f", keys=("tok",), bearer=True), BODY)
    assert first_header(bearer.headers, b"authorization") == b"Bearer tok"
    assert first_header(bearer.headers, b"x-api-key") is None
    assert json.loads(call.body) == BODY and call.path == b"/v1/messages"


def test_upstream_config_accepts_kind_fields_and_names_bad_ones() -> None:
    """[[upstreams]] takes each kind's own fields; a wrong value or a missing required one is refused by name."""
    (spec,) = upstreams_from_list(
        [
            {
                "name": "b",
                "kind": "bedrock",
                "url": "http://127.0.0.1:1",
                "region": "us-west-2",
                "betas": ["interleaved-thinking-2025-05-14"],
                "model_map": {"claude-x": "anthropic.claude-x-v1:0"},
            }
        ]
    )
    kind = build_kind(spec, Upstream(spec.url))
    assert (
        isinstance(kind, BedrockKind)
        and kind.region == "us-west-2"
        and kind.model_map == {"claude-x": "anthropic.claude-x-v1:0"}
    )
    with pytest.raises(UpstreamConfigError, match="unknown field"):
        upstreams_from_list([{"name": "b", "kind": "bedrock", "url": "http://127.0.0.1:1", "project": "p"}])
    (vertex,) = upstreams_from_list([{"name": "v", "kind": "vertex", "url": "http://127.0.0.1:1", "region": "r"}])
    with pytest.raises(UpstreamConfigError, match=r"\(v\)\.project"):
        build_kind(vertex, Upstream(vertex.url))
    (bad,) = upstreams_from_list([{"name": "b", "kind": "bedrock", "url": "http://127.0.0.1:1", "betas": "x"}])
    with pytest.raises(UpstreamConfigError, match=r"\(b\)\.betas: a list"):
        build_kind(bad, Upstream(bad.url))


def test_the_key_the_pool_chose_is_the_one_used() -> None:
    """The key the pool chose for this attempt, given as a value, is the Bedrock API key sent (and the one the
    answer is scrubbed of); the client's own x-api-key never goes."""
    kind = BedrockKind("b", TARGET, region="us-east-1", keys=("k1", "k2"))
    call = run(kind.request(b"POST", b"/v1/messages", HEADERS, json.dumps(BODY).encode(), "k2"))
    assert isinstance(call, UpstreamCall)
    assert first_header(call.headers, b"authorization") == b"Bearer k2"
    assert first_header(call.headers, b"x-api-key") is None
    assert call.minted == ("k2",)


def test_mid_conversation_system_messages_fold_without_their_beta() -> None:
    """Without the mid-conversation-system beta on the allowlist, role system turns become <system-reminder> user
    turns (order kept); with it allowed they pass unchanged."""
    body = {**BODY, "messages": [*BODY["messages"], {"role": "system", "content": "be brief"}]}  # type: ignore[list-item]
    headers = [(n, v.replace(b"files-api-2025-04-14", b"mid-conversation-system-2026-04-07")) for n, v in HEADERS]
    call = run(bedrock().request(b"POST", b"/v1/messages", headers, json.dumps(body).encode(), None))
    assert isinstance(call, UpstreamCall)
    last = json.loads(call.body)["messages"][-1]
    assert last == {
        "role": "user",
        "content": [{"type": "text", "text": "<system-reminder>\nbe brief\n</system-reminder>"}],
    }
    allowed = bedrock(betas=["mid-conversation-system-2026-04-07"])
    kept = run(allowed.request(b"POST", b"/v1/messages", headers, json.dumps(body).encode(), None))
    assert isinstance(kept, UpstreamCall)
    assert json.loads(kept.body)["messages"][-1] == {"role": "system", "content": "be brief"}


def test_thinking_and_signature_deltas_keep_their_bytes() -> None:
    """thinking_delta, signature_delta and cache usage in message_start pass through as the JSON Bedrock sent."""
    events = [
        {"type": "message_start", "message": {"usage": {"input_tokens": 5, "cache_read_input_tokens": 4}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Let me"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "EqQB=="}},
    ]
    out = b"".join(_sse([chunk_frame(e) for e in events], 50))
    datas = [json.loads(part.split(b"data: ", 1)[1]) for part in out.split(b"\n\n") if part]
    assert datas == events
