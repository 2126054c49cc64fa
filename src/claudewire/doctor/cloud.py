"""``claudewire doctor --target bedrock|bedrock-mantle|vertex|foundry``: check a cloud endpoint before you need it.

`cloud_target` resolves what to check (URL, region, project, model, which key) from the flags and the environment;
`run_cloud` probes it (the I/O): find the credential source (botocore's chain, google-auth's default credentials,
an API key), make one 1-token call (its answer and ``Date`` feed the credentials, region, clock and model checks),
then one 1-token call per beta the client sends; the judges (`claudewire.doctor.cloud_checks`) turn what was seen
into frozen checks. Nothing here imports the gateway: a gateway config's upstreams arrive as `CloudTarget` values.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx2

from claudewire._secrets import redact, redact_url
from claudewire.doctor.cloud_checks import (
    CLOUD_KINDS,
    CallProbe,
    CloudReport,
    CloudTarget,
    CredentialProbe,
    judge_betas,
    judge_clock,
    judge_credentials,
    judge_model,
    judge_region,
)
from claudewire.doctor.cloud_commands import messages_url

__all__ = ["DEFAULT_BETAS", "cloud_target", "run_cloud"]

DEFAULT_BETAS: tuple[str, ...] = (
    "claude-code-20250219",
    "interleaved-thinking-2025-05-14",
    "context-management-2025-06-27",
    "fine-grained-tool-streaming-2025-05-14",
)
"""Betas tried when the client names none: what Claude Code sends on the first-party API."""

_MAX_BETAS = 8
_MAX_BODY = 64 * 1024
_HELLO = [{"role": "user", "content": "hi"}]
_AWS_METHODS = {
    "env": "AWS environment variables",
    "shared-credentials-file": "~/.aws/credentials",
    "config-file": "~/.aws/config",
    "sso": "AWS IAM Identity Center (SSO)",
    "assume-role": "an assumed role (profile)",
    "assume-role-with-web-identity": "web identity (AWS_WEB_IDENTITY_TOKEN_FILE)",
    "iam-role": "instance metadata (IAM role)",
    "container-role": "container credentials (ECS/EKS)",
    "custom-process": "credential_process",
}


def _first(env: Mapping[str, str], *names: str) -> tuple[str | None, str | None]:
    for name in names:
        if env.get(name, "").strip():
            return env[name].strip(), name
    return None, None


def cloud_target(
    kind: str,
    *,
    region: str | None = None,
    project: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    model: str | None = None,
    betas: tuple[str, ...] = (),
    env: Mapping[str, str] | None = None,
) -> CloudTarget:
    """The `CloudTarget` the flags (else the environment each cloud's SDK reads) describe; ValueError if impossible."""
    if kind not in CLOUD_KINDS:
        raise ValueError(f"unknown target {kind!r}; one of {', '.join(CLOUD_KINDS)}")
    env = os.environ if env is None else env
    source = "--region" if region else None
    key_source = "--api-key" if api_key else None
    if kind in ("bedrock", "bedrock-mantle"):
        if not region:
            region, source = _first(env, "AWS_REGION", "AWS_DEFAULT_REGION")
        if not api_key:
            api_key, key_source = _first(env, "AWS_BEARER_TOKEN_BEDROCK")
        host = "bedrock-runtime.{r}.amazonaws.com" if kind == "bedrock" else "bedrock-mantle.{r}.api.aws"
        url = base_url or (f"https://{host.format(r=region)}" if region else "")
        geo = "eu" if (region or "").startswith("eu-") else "apac" if (region or "").startswith("ap-") else "us"
        default = "anthropic.claude-haiku-4-5"
        if kind == "bedrock":
            default = f"{geo}.anthropic.claude-haiku-4-5-20251001-v1:0"
    elif kind == "vertex":
        if not region:
            region, source = _first(env, "CLOUD_ML_REGION", "GOOGLE_CLOUD_LOCATION")
        project = project or _first(env, "ANTHROPIC_VERTEX_PROJECT_ID", "GOOGLE_CLOUD_PROJECT")[0]
        host = "aiplatform.googleapis.com" if region in (None, "global") else f"{region}-aiplatform.googleapis.com"
        url = base_url or f"https://{host}/v1"
        default = "claude-haiku-4-5@20251001"
    else:
        if not api_key:
            api_key, key_source = _first(env, "ANTHROPIC_FOUNDRY_API_KEY")
        resource = env.get("ANTHROPIC_FOUNDRY_RESOURCE", "").strip()
        url = base_url or env.get("ANTHROPIC_FOUNDRY_BASE_URL", "").strip()
        url = url or (f"https://{resource}.services.ai.azure.com/anthropic" if resource else "")
        default = "claude-haiku-4-5"
    if not url:
        raise ValueError(
            f"{kind}: no endpoint: give --base-url, or "
            + ("--region / AWS_REGION" if kind != "foundry" else "ANTHROPIC_FOUNDRY_RESOURCE / _BASE_URL")
        )
    return CloudTarget(
        kind,
        kind,
        url,
        model or default,
        region,
        source,
        project,
        api_key,
        key_source,
        tuple(betas or DEFAULT_BETAS)[:_MAX_BETAS],
    )


@dataclass(slots=True)
class _Signer:
    """How to authenticate one target's calls (holds the credential; never rendered)."""

    target: CloudTarget
    token: str | None = field(default=None, repr=False)
    aws: Any = field(default=None, repr=False)  # botocore credentials

    def headers(self, url: str, body: bytes, base: dict[str, str]) -> dict[str, str]:
        headers = dict(base)
        kind = self.target.kind
        if kind == "foundry":
            headers["api-key"] = headers["x-api-key"] = self.token or ""
        elif self.aws is not None:
            from botocore.auth import SigV4Auth
            from botocore.awsrequest import AWSRequest

            request = AWSRequest("POST", url, data=body, headers=headers)
            SigV4Auth(self.aws, kind, self.target.region).add_auth(request)
            headers = {k: str(v) for k, v in request.headers.items()}
        elif self.token:
            headers["authorization"] = f"Bearer {self.token}"
        return headers


def _credentials(target: CloudTarget) -> tuple[CredentialProbe, _Signer | None]:
    """The credential source (named, never shown) and a signer for the calls."""
    named = f"{redact(target.api_key)} from {target.key_source or 'the configuration'}" if target.api_key else ""
    if target.kind in ("bedrock", "bedrock-mantle"):
        if target.api_key:
            return CredentialProbe(f"Bedrock API key {named}", "api-key"), _Signer(target, token=target.api_key)
        try:
            import botocore.session
        except ImportError:
            return CredentialProbe(None, error="botocore is missing: pip install 'claudewire[bedrock]'"), None
        try:
            creds = botocore.session.get_session().get_credentials()
            frozen = creds.get_frozen_credentials() if creds is not None else None
        except Exception as exc:  # an expired SSO cache, an unreadable profile ...: botocore's own words
            return CredentialProbe(None, error=f"{type(exc).__name__}: {str(exc)[:200]}"), None
        if creds is None or frozen is None:
            return CredentialProbe(None, error="the AWS credential chain found nothing"), None
        method = _AWS_METHODS.get(str(creds.method), str(creds.method))
        profile = os.environ.get("AWS_PROFILE")
        label = f"{method}{f' (profile {profile})' if profile else ''}, access key {redact(frozen.access_key)}"
        return CredentialProbe(label, "sigv4"), _Signer(target, aws=frozen)
    if target.kind == "vertex":
        if target.api_key:
            return CredentialProbe(f"static token {named}", "bearer"), _Signer(target, token=target.api_key)
        return _google(target)
    if target.api_key:
        return CredentialProbe(f"API key {named}", "api-key"), _Signer(target, token=target.api_key)
    return CredentialProbe(None, error="no key: ANTHROPIC_FOUNDRY_API_KEY is not set"), None


def _google(target: CloudTarget) -> tuple[CredentialProbe, _Signer | None]:
    try:
        import google.auth
        import google.auth.transport.requests
    except ImportError:
        return CredentialProbe(None, error="google-auth is missing: pip install 'claudewire[vertex]'"), None
    try:
        creds, project = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
        creds.refresh(google.auth.transport.requests.Request())  # type: ignore[no-untyped-call]
    except Exception as exc:  # DefaultCredentialsError, RefreshError: google-auth's own words
        return CredentialProbe(None, error=f"{type(exc).__name__}: {str(exc)[:200]}"), None
    path = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    where = f"GOOGLE_APPLICATION_CREDENTIALS ({os.path.basename(path)})" if path else "application default credentials"
    label = f"{type(creds).__name__} from {where}" + (f", project {project}" if project else "")
    return CredentialProbe(label, "bearer"), _Signer(target, token=str(creds.token))


def _call(client: httpx2.Client, target: CloudTarget, signer: _Signer, beta: str | None) -> CallProbe:
    url = messages_url(target)
    body: dict[str, Any] = {"max_tokens": 1, "messages": _HELLO}
    headers = {"content-type": "application/json"}
    if target.kind == "bedrock":
        body["anthropic_version"] = "bedrock-2023-05-31"
        if beta:
            body["anthropic_beta"] = [beta]
    elif target.kind == "vertex":
        body["anthropic_version"] = "vertex-2023-10-16"
    else:
        body["model"] = target.model
        headers["anthropic-version"] = "2023-06-01"
    if beta and target.kind != "bedrock":
        headers["anthropic-beta"] = beta
    data = json.dumps(body).encode()
    sent = time.time()
    try:
        response = client.post(url, content=data, headers=signer.headers(url, data, headers))
    except httpx2.HTTPError as exc:
        return CallProbe(beta, None, sent_at=sent, received_at=time.time(), transport_error=type(exc).__name__)
    received = time.time()
    name, message = _error_of(response)
    date = response.headers.get("date")
    return CallProbe(beta, response.status_code, name, message, date, sent, received)


def _error_of(response: httpx2.Response) -> tuple[str, str]:
    """(error name, message) of an error answer in AWS's, Google's or Anthropic's shape; ("", "") for a success."""
    if response.status_code < 400:
        return "", ""
    name = (response.headers.get("x-amzn-errortype") or "").split(":", 1)[0]
    try:
        parsed = json.loads(response.content[:_MAX_BODY])
    except ValueError:
        return name, response.text[:200]
    err = parsed.get("error") if isinstance(parsed, dict) else None
    if isinstance(err, dict):  # Anthropic's {"type":"error","error":{"type","message"}} or Google's {"status"}
        return str(err.get("type") or err.get("status") or name), str(err.get("message", ""))[:300]
    if isinstance(parsed, dict):
        return name, str(parsed.get("message") or parsed.get("Message") or "")[:300]
    return name, ""


def run_cloud(target: CloudTarget, *, timeout: float = 10.0) -> CloudReport:
    """Probe `target` (bounded by `timeout` per call) and judge it: credentials, region, clock, model, betas."""
    found, signer = _credentials(target)
    model: CallProbe | None = None
    betas: list[CallProbe] = []
    placed = target.kind == "foundry" or (bool(target.region) and (target.kind != "vertex" or bool(target.project)))
    if signer is not None and placed:
        with httpx2.Client(timeout=timeout, follow_redirects=False) as client:
            model = _call(client, target, signer, None)
            if model.status == 200:
                betas = [_call(client, target, signer, beta) for beta in target.betas]
    checks = (
        judge_credentials(target, found, model),
        judge_region(target, model),
        judge_clock(target, model),
        judge_model(target, model),
        judge_betas(target, model, betas),
    )
    return CloudReport(target.name, target.kind, redact_url(target.url), checks)
