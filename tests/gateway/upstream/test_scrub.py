"""Every credential the gateway holds or mints stays on the gateway: an upstream that echoes the request (a
misbehaving proxy, a debugging endpoint) gets it scrubbed from the answer's headers and bodies, for every kind."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from claudewire.gateway import GatewayConfig, GatewayThread
from claudewire.gateway.upstream.specs import upstreams_from_list
from claudewire.testing import FastClock
from tests.gateway.conftest import ROOMY, ask
from tests.gateway.conftest import Upstream as AioUpstream

HELD = "sk-ant-api03-held-by-the-gateway-0123456789"
BEDROCK_KEY = "ABSKbedrock-api-key-held-0123456789"
FOUNDRY_KEY = "foundry-key-held-by-the-gateway-0123"
MINTED = "ya29.minted-by-the-gateway-0123456789abcdef"
SESSION = "FwoGZXIvYXdzEJr-session-token-of-the-gateway-0123456789"
SIGNATURE = re.compile(rb"Signature=[0-9a-f]{64}")


async def echo(request: web.Request) -> web.StreamResponse:
    """Answer with the request's headers, in the body and in a response header; `?status` via the model name."""
    raw = await request.read()
    headers = {k: v for k, v in request.headers.items()}
    seen = "; ".join(f"{k}={v}" for k, v in headers.items())
    failing = b"fail" in raw or "fail" in request.path
    if not failing:
        return web.json_response({"headers": headers, "type": "message"}, headers={"x-echo": seen})
    if request.path.startswith("/model/"):  # Bedrock's error shape
        body: dict[str, Any] = {"message": seen}
        extra = {"x-amzn-errortype": "ValidationException:http://internal.amazon.com/", "x-echo": seen}
        return web.json_response(body, status=400, headers=extra)
    if "/projects/" in request.path:  # Google's
        body = {"error": {"code": 400, "message": seen, "status": "INVALID_ARGUMENT"}}
        return web.json_response(body, status=400, headers={"x-echo": seen})
    body = {"type": "error", "error": {"type": "invalid_request_error", "message": seen}}
    return web.json_response(body, status=400, headers={"x-echo": seen})


async def token(request: web.Request) -> web.Response:
    """A Google token endpoint: every grant gets the same access token."""
    return web.json_response({"access_token": MINTED, "expires_in": 3600, "token_type": "Bearer"})


def service_account(tmp_path: Path, token_uri: str) -> str:
    """A service-account file whose token_uri is the test's token endpoint."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    account = {
        "type": "service_account",
        "project_id": "proj",
        "private_key_id": "k1",
        "private_key": pem.decode(),
        "client_email": "gw@proj.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": token_uri,
    }
    path = tmp_path / "sa.json"
    path.write_text(json.dumps(account))
    return str(path)


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Temporary AWS credentials (with a session token) for the standard chain; no profile or metadata lookups."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ASIAGATEWAYTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "gateway-test-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", SESSION)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@contextlib.contextmanager
def gateway(table: dict[str, Any]) -> Iterator[GatewayThread]:
    config = GatewayConfig(upstreams=upstreams_from_list([table]), port=0, policy=ROOMY, access_log=None)
    with GatewayThread(config, clock=FastClock()) as gw:
        yield gw


def call(model: str) -> bytes:
    body = json.dumps({"model": model, "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}).encode()
    return (
        b"POST /v1/messages HTTP/1.1\r\nhost: gw\r\nconnection: close\r\ncontent-type: application/json\r\n"
        b"x-api-key: sk-ant-client-own\r\nanthropic-version: 2023-06-01\r\ncontent-length: %d\r\n\r\n%b"
        % (len(body), body)
    )


def tables(url: str, tmp_path: Path, token_url: str) -> dict[str, tuple[dict[str, Any], tuple[str, ...]]]:
    """Each kind's upstream table and the secrets that must not come back."""
    return {
        "anthropic": ({"name": "a", "url": url, "keys": [HELD]}, (HELD,)),
        "bedrock-key": (
            {"name": "b", "kind": "bedrock", "url": url, "region": "us-east-1", "keys": [BEDROCK_KEY]},
            (BEDROCK_KEY,),
        ),
        "bedrock-sigv4": ({"name": "b", "kind": "bedrock", "url": url, "region": "us-east-1"}, (SESSION,)),
        "vertex-minted": (
            {
                "name": "v",
                "kind": "vertex",
                "url": url + "/v1",
                "project": "proj",
                "region": "us-east5",
                "credentials_file": service_account(tmp_path, token_url),
            },
            (MINTED,),
        ),
        "foundry": ({"name": "f", "kind": "foundry", "url": url + "/anthropic", "keys": [FOUNDRY_KEY]}, (FOUNDRY_KEY,)),
    }


@pytest.mark.parametrize("failing", [False, True], ids=["200", "error"])
@pytest.mark.parametrize("kind", ["anthropic", "bedrock-key", "bedrock-sigv4", "vertex-minted", "foundry"])
def test_an_echoing_upstream_never_hands_a_held_or_minted_credential_back(
    kind: str, failing: bool, tmp_path: Path
) -> None:
    """The upstream saw the credential (the echo proves it); the client's answer holds none of it, neither in a
    header nor in the body, and no AWS signature either."""
    with AioUpstream(echo) as upstream, AioUpstream(token) as tokens:
        table, secrets = tables(upstream.base_url, tmp_path, tokens.base_url + "/token")[kind]
        with gateway(table) as gw:
            answer = ask(gw, call("claude-haiku-4-5-fail" if failing else "claude-haiku-4-5"))
    assert answer.status == (400 if failing else 200), answer.raw[:500]
    assert b"x-echo" in answer.raw.lower() and b"sk-ant-client-own" not in answer.raw
    for secret in secrets:
        assert secret.encode() not in answer.raw, (kind, secret)
        assert secret[-4:].encode() in answer.raw  # it was echoed, and shown redacted
    assert SIGNATURE.search(answer.raw) is None
