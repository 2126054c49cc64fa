"""Commands that reproduce a cloud check by hand (``aws``, ``gcloud``, ``curl``): no secret in them, only the
environment variables that hold one."""

from __future__ import annotations

import json
import shlex
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from claudewire.doctor.cloud_checks import CloudTarget

__all__ = ["messages_url", "reproduce"]

_HELLO = [{"role": "user", "content": "hi"}]


def messages_url(target: CloudTarget) -> str:
    """The URL of the target's 1-token call."""
    base = target.url.rstrip("/")
    if target.kind == "bedrock":
        from urllib.parse import quote

        return f"{base}/model/{quote(target.model, safe=':')}/invoke"
    if target.kind == "bedrock-mantle":
        return f"{base if base.endswith('/anthropic') else base + '/anthropic'}/v1/messages"
    if target.kind == "vertex":
        location = f"projects/{target.project}/locations/{target.region}"
        return f"{base}/{location}/publishers/anthropic/models/{target.model}:rawPredict"
    return f"{base}/v1/messages"


def _body(target: CloudTarget) -> str:
    if target.kind == "bedrock":
        body: dict[str, object] = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 1, "messages": _HELLO}
    elif target.kind == "vertex":
        body = {"anthropic_version": "vertex-2023-10-16", "max_tokens": 1, "messages": _HELLO}
    else:
        body = {"model": target.model, "max_tokens": 1, "messages": _HELLO}
    return json.dumps(body, separators=(",", ":"))


def _curl(target: CloudTarget, extra: str = "") -> str:
    url = shlex.quote(messages_url(target))
    data = shlex.quote(_body(target))
    json_header = "-H 'content-type: application/json'"
    if target.kind == "vertex":
        auth = '-H "Authorization: Bearer $(gcloud auth application-default print-access-token)"'
        return f"curl -sS {auth} {json_header} {extra}{url} -d {data}"
    version = "" if target.kind == "bedrock" else "-H 'anthropic-version: 2023-06-01' "
    if target.kind == "foundry":
        return f'curl -sS -H "api-key: $ANTHROPIC_FOUNDRY_API_KEY" {version}{json_header} {extra}{url} -d {data}'
    if target.signs:
        sigv4 = f"--aws-sigv4 'aws:amz:{target.region}:{target.kind}'"
        user = '--user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -H "x-amz-security-token: $AWS_SESSION_TOKEN"'
        return f"curl -sS {sigv4} {user} {version}{json_header} {extra}{url} -d {data}"
    auth = '-H "Authorization: Bearer $AWS_BEARER_TOKEN_BEDROCK"'
    return f"curl -sS {auth} {version}{json_header} {extra}{url} -d {data}"


def reproduce(target: CloudTarget, check: str) -> str:
    """A shell command that repeats `check` against `target` by hand."""
    region = target.region or "REGION"
    if check == "credentials":
        if target.kind in ("bedrock", "bedrock-mantle"):
            return "aws sts get-caller-identity" if target.signs else _curl(target)
        if target.kind == "vertex":
            return "gcloud auth application-default print-access-token >/dev/null && echo ok"
        return _curl(target)
    if check == "clock":
        return f"curl -sI {shlex.quote(target.url)} | grep -i '^date:'; date -u"
    if check == "region" and target.kind in ("bedrock", "bedrock-mantle"):
        return 'aws configure get region; echo "AWS_REGION=$AWS_REGION"'
    if check == "region" and target.kind == "vertex":
        return f"gcloud ai models list --region={shlex.quote(region)} --project={shlex.quote(target.project or '')}"
    if check == "model" and target.kind == "bedrock" and target.signs:
        return (
            f"aws bedrock-runtime invoke-model --region {shlex.quote(region)} --model-id "
            f"{shlex.quote(target.model)} --cli-binary-format raw-in-base64-out --body {shlex.quote(_body(target))} "
            "/dev/stdout; "
            f"aws bedrock list-foundation-models --region {shlex.quote(region)} --by-provider anthropic"
        )
    if check == "betas":
        if target.kind == "bedrock":
            return _curl(target).replace('"max_tokens"', '"anthropic_beta":["BETA"],"max_tokens"')
        return _curl(target, "-H 'anthropic-beta: BETA' ")
    return _curl(target)
