"""`explain` knows the newer texts: the user-set spend limit, plan usage through third-party apps, adaptive-only
thinking, Bedrock/Mantle model access and throttling, and workload identity federation's exchange errors."""

from __future__ import annotations

import asyncio
import json

import pytest

from claudewire._errors import FailureKind as K
from claudewire.explain import explain
from claudewire.gateway.upstream.federation import ExchangeRefused, FederatedToken, FederationSpec, Minted
from claudewire.gateway.upstream.kinds.base import Refusal
from claudewire.gateway.upstream.kinds.federation import FederationKind
from claudewire.gateway.upstream.pool import Upstream

SPEC = FederationSpec("/nonexistent/token", "fdrl_1", "org", "svac_1")

CASES: list[tuple[str, K, str]] = [
    (
        "anthropic.BadRequestError: Error code: 400 - {'type': 'error', 'error': {'type': 'invalid_request_error', "
        "'message': 'You have reached your specified API usage limits. You will regain access on 2026-12-01 at "
        "00:00 UTC.'}}",
        K.SPEND_LIMIT,
        "Settings > Limits",
    ),
    (
        "API Error: 400 Third-party apps now draw from your extra usage, not your plan limits. Turn on extra usage "
        "to keep going.",
        K.BILLING,
        "extra usage",
    ),
    (
        'API Error: 400 {"type":"error","error":{"type":"invalid_request_error","message":"\\"thinking.type.enabled\\" '
        'is not supported for this model. Use \\"thinking.type.adaptive\\" and \\"output_config.effort\\" to control '
        'thinking behavior."}}',
        K.INVALID_REQUEST,
        '"adaptive"',
    ),
    (
        "botocore.errorfactory.AccessDeniedException: An error occurred (AccessDeniedException) when calling the "
        "InvokeModel operation: Model access is denied due to IAM user or service role is not authorized to perform "
        "the required AWS Marketplace actions (aws-marketplace:ViewSubscriptions, aws-marketplace:Subscribe) to "
        "enable access to this model.",
        K.PERMISSION,
        "aws-marketplace:Subscribe",
    ),
    (
        "anthropic.PermissionDeniedError: Error code: 403 - {'message': 'User: arn:aws:iam::123456789012:user/ci is "
        "not authorized to perform: bedrock-mantle:CreateInference on resource: "
        "arn:aws:bedrock-mantle:us-east-1:123456789012:model/anthropic.claude-opus-5'}",
        K.PERMISSION,
        "IAM identity",
    ),
    (
        "An error occurred (ValidationException) when calling the InvokeModel operation: Invocation of model ID "
        "anthropic.claude-sonnet-4-6 with on-demand throughput isn't supported. Retry your request with the ID or "
        "ARN of an inference profile that contains this model.",
        K.INVALID_REQUEST,
        "us.anthropic.claude-",
    ),
    (
        "anthropic.RateLimitError: Error code: 429 - {'message': 'Too many requests, please wait before trying "
        "again.'}",
        K.RATE_LIMIT,
        "Service Quotas",
    ),
    (
        "An error occurred (ServiceQuotaExceededException) when calling the InvokeModel operation: Your request "
        "exceeds the quota for this model.",
        K.RATE_LIMIT,
        "Service Quotas",
    ),
    (
        "anthropic.lib.credentials.WorkloadIdentityError: Token exchange failed (HTTP 401): {'error': "
        "'invalid_grant', 'error_description': 'the identity token has expired'} Ensure your federation rule "
        "matches your identity token.",
        K.AUTH,
        "federation_rule_id",
    ),
    (
        "Identity token assertion is 20480 bytes, which exceeds the 16384-byte limit. This is almost certainly not "
        "a JWT",
        K.AUTH,
        "projected token",
    ),
]


@pytest.mark.parametrize(("text", "kind", "hint"), CASES)
def test_new_texts_get_their_kind_and_hint(text: str, kind: K, hint: str) -> None:
    """Each newer text is named as its kind, with the family's own hint in the fix."""
    failure = explain(text)
    assert failure.kind is kind, failure
    assert hint in failure.fix


def test_the_gateways_federation_refusal_is_an_auth_failure_with_the_rule_hint() -> None:
    """The 401 body the gateway answers for a refused federation exchange reads as auth, with the rule hint."""
    kind = FederationKind("primary", Upstream("http://127.0.0.1:9"), SPEC, clock=lambda: 0.0)

    async def refused() -> Minted:
        raise ExchangeRefused(401, "invalid_grant", "the identity token's signature does not verify")

    kind.tokens = FederatedToken(refused, lambda: 0.0, "primary")
    refusal = asyncio.run(kind.request(b"POST", b"/v1/messages", [], b"{}", "federation:primary"))
    assert isinstance(refusal, Refusal)
    body = json.dumps({"type": "error", "error": {"type": refusal.error_type, "message": refusal.message}})
    failure = explain(f"Error code: {refusal.status} - {body}")
    assert failure.kind is K.AUTH
    assert "federation_rule_id" in failure.fix
