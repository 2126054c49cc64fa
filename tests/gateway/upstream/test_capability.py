"""Cloud rejections in Claude Code's terms: the ``capability_rejected`` classes, the cloud's words kept, and the
501 ``not_supported`` of a count the upstream cannot make."""

from __future__ import annotations

import asyncio
import json

import pytest
from botocore.credentials import Credentials

from claudewire.gateway.upstream.kinds.base import CannotCount, Refusal, UpstreamCall
from claudewire.gateway.upstream.kinds.bedrock import BedrockKind
from claudewire.gateway.upstream.kinds.capability import capability_rejected, whole_message, with_token
from claudewire.gateway.upstream.kinds.errors import bedrock_error, google_error
from claudewire.gateway.upstream.kinds.foundry import FoundryKind
from claudewire.gateway.upstream.kinds.models import bedrock_count_model
from claudewire.gateway.upstream.kinds.vertex import VertexKind
from claudewire.gateway.upstream.pool import UpstreamTarget
from claudewire.gateway.wire import first_header

VALIDATION = b"ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/"
COUNT = UpstreamCall(b"POST", b"/model/x/count-tokens", [], b"{}", op="count_tokens")


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        (400, "prompt is too long: 250123 tokens > 200000 maximum", "prompt_too_long"),
        (400, "Input is too long for requested model.", "prompt_too_long"),
        (413, "The prompt exceeds the model's context window", "prompt_too_long"),
        (400, "messages.1.content.0: Invalid `signature` in `thinking` block", "thinking_signature"),
        (400, "messages.3.content.1.thinking.signature: Field required", "thinking_signature"),
        (400, "thinking.type: enabled is not supported for this model", "thinking_type:enabled"),
        (400, "adaptive thinking is not supported on this model", "thinking_type:adaptive"),
        (400, "output_config.format: Extra inputs are not permitted", "structured_outputs_unsupported"),
        (400, "This model does not support the effort parameter.", "effort_unsupported"),
        (400, "Too much media: 90 document pages + 60 images > 100", "media_budget"),
        (400, "messages.0.content.2.image.source.base64: image exceeds 5 MB maximum", "image_block"),
        (400, "Could not process PDF", "document_block"),
        (400, "messages.2: role 'system' must follow a user or assistant turn", "mid_conv_system"),
        (400, "cache_control: Extra inputs are not permitted", "cache_control_field"),
        (
            400,
            "input length and `max_tokens` exceed context limit: 190000 + 64000 > 200000",
            "max_tokens_context_overflow",
        ),
        (400, "anthropic_beta: unsupported value fast-mode-2026-01-01", "beta_header:fast-mode-2026-01-01"),
        (400, "anthropic-beta mid-conversation-system-2026-07-01 is not supported", "mid_conv_system"),
        (400, "messages: roles must alternate between user and assistant", None),
        (429, "prompt is too long", None),
        (400, "invalid beta flag", None),
    ],
)
def test_rejections_are_classified_as_the_protocol_orders_them(status: int, message: str, expected: str) -> None:
    """Each wording gets the protocol's class (the first in its order), and one it does not name gets none."""
    betas = ("fast-mode-2026-01-01", "mid-conversation-system-2026-07-01")
    assert capability_rejected(status, message, betas) == expected


def test_the_token_follows_the_words_and_whole_messages_are_left_alone() -> None:
    """The token comes after the original text; the sentences the client matches whole are recognised."""
    assert with_token("Prompt too big", "prompt_too_long") == "Prompt too big capability_rejected: prompt_too_long"
    assert with_token("other", None) == "other"
    assert whole_message("Input is too long.") and whole_message(
        "The request size (30037042 bytes) exceeds 30.000MB limit."
    )
    assert not whole_message("Input is too long for requested model.")


def test_bedrock_wording_reaches_the_client_intact_with_the_token_after_it() -> None:
    """Bedrock's ValidationException keeps its words, says who said it, and ends with the capability token."""
    status, body = bedrock_error(400, VALIDATION, b'{"message":"Input is too long for requested model."}')
    message = json.loads(body)["error"]["message"]
    assert status == 400
    assert message == (
        "Input is too long for requested model. (Bedrock ValidationException) capability_rejected: prompt_too_long"
    )
    _, signature = bedrock_error(
        400, VALIDATION, b'{"message":"messages.1.content.0: Invalid signature in thinking block"}'
    )
    assert json.loads(signature)["error"]["message"].endswith(" capability_rejected: thinking_signature")


def test_whole_sentences_the_client_matches_are_sent_exactly() -> None:
    """Bedrock's "Input is too long." and Vertex's request-size limit go as they came: no label, no token."""
    _, bedrock = bedrock_error(400, VALIDATION, b'{"message":"Input is too long."}')
    assert json.loads(bedrock)["error"]["message"] == "Input is too long."
    size = b'{"error":{"code":400,"message":"The request size (30037042 bytes) exceeds 30.000MB limit.",'
    mapped = google_error(400, size + b'"status":"FAILED_PRECONDITION"}}')
    assert mapped is not None
    assert json.loads(mapped[1])["error"] == {
        "type": "invalid_request_error",
        "message": "The request size (30037042 bytes) exceeds 30.000MB limit.",
    }


def test_vertex_wording_gets_the_token_for_a_beta_the_caller_sent() -> None:
    """A Google INVALID_ARGUMENT naming a caller's anthropic-beta value carries beta_header:<that value>."""
    said = b'{"error":{"code":400,"message":"Unsupported anthropic-beta value: x-beta-1","status":"INVALID_ARGUMENT"}}'
    mapped = google_error(400, said, ("x-beta-1",))
    assert mapped is not None
    assert json.loads(mapped[1])["error"]["message"] == (
        "Unsupported anthropic-beta value: x-beta-1 (Vertex AI INVALID_ARGUMENT)"
        " capability_rejected: beta_header:x-beta-1"
    )


def test_foundation_model_ids_for_count_tokens() -> None:
    """CountTokens gets the foundation model of a cross-region profile or its ARN, none for an application profile."""
    assert (
        bedrock_count_model("us.anthropic.claude-haiku-4-5-20251001-v1:0") == "anthropic.claude-haiku-4-5-20251001-v1:0"
    )
    assert bedrock_count_model("anthropic.claude-haiku-4-5-20251001-v1:0") == "anthropic.claude-haiku-4-5-20251001-v1:0"
    arn = "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-opus-4-5-20251101-v1:0"
    assert bedrock_count_model(arn) == "anthropic.claude-opus-4-5-20251101-v1:0"
    assert bedrock_count_model("arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3") is None


def test_an_application_inference_profile_cannot_count() -> None:
    """count_tokens for a model mapped to an application inference profile: 501 not_supported, no retry, not sent."""
    kind = BedrockKind(
        "bedrock-east",
        UpstreamTarget.parse("http://127.0.0.1:9"),
        region="us-east-1",
        model_map={"claude-haiku-4-5": "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1"},
        credentials=Credentials("AKIDUNIT", "unit-secret"),
    )
    body = json.dumps({"model": "claude-haiku-4-5", "messages": [{"role": "user", "content": "hi"}]}).encode()
    refusal = asyncio.run(kind.request(b"POST", b"/v1/messages/count_tokens?beta=true", [], body, None))
    assert isinstance(refusal, Refusal)
    assert (refusal.status, refusal.error_type, refusal.should_retry) == (501, "not_supported", False)


@pytest.mark.parametrize("status", [400, 403, 404])
def test_a_count_refused_by_the_cloud_is_501_not_supported(status: int) -> None:
    """Bedrock and Vertex refusing a count (no such operation, model or permission): 501 with their own words."""
    bedrock = BedrockKind("b", UpstreamTarget.parse("http://127.0.0.1:9"), region="us-east-1", keys=("k",))
    vertex = VertexKind("v", project="p", region="us-east5", keys=("t",))
    for kind in (bedrock, vertex):
        translator = kind.response(COUNT, status, [(b"x-amzn-errortype", VALIDATION)])
        assert isinstance(translator, CannotCount)
        assert translator.status == 501 and first_header(translator.headers, b"x-should-retry") == b"false"
        error = json.loads(translator.feed(b'{"message":"The provided model doesn\'t support counting tokens."}'))
        assert error["error"]["type"] == "not_supported"
        assert error["error"]["message"].endswith("The provided model doesn't support counting tokens.")


def test_throttled_counts_and_foundry_validation_stay_what_they_are() -> None:
    """A 429 count is retried as a 429; Foundry's (the Anthropic API's) own 400 is no "cannot count"."""
    bedrock = BedrockKind("b", UpstreamTarget.parse("http://127.0.0.1:9"), region="us-east-1", keys=("k",))
    assert not isinstance(bedrock.response(COUNT, 429, []), CannotCount)
    foundry = FoundryKind("f", keys=("k",))
    call = asyncio.run(foundry.request(b"POST", b"/v1/messages/count_tokens", [], b"{}", None))
    assert isinstance(call, UpstreamCall) and call.op == "count_tokens"
    assert not isinstance(foundry.response(call, 400, []), CannotCount)
    assert isinstance(foundry.response(call, 404, []), CannotCount)
