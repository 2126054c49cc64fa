"""End to end through the gateway's cloud kinds: the official SDK and Claude Code → claudewire proxy → the simulator
speaking Bedrock / Mantle / Vertex / Foundry, compared with the same calls to an anthropic-mode simulator."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest

from claudewire.gateway import GatewayConfig, GatewayThread
from claudewire.gateway.upstream.specs import upstreams_from_list
from claudewire.sim import SimServer
from claudewire.testing import FastClock, run_sim
from tests.conftest import SIM_KEY, SIM_MODEL
from tests.gateway.conftest import ROOMY

AKID, SECRET = "AKIDGATEWAYTEST", "gateway-test-secret"
HELLO = [{"role": "user", "content": "Hello"}]
TOOLS = [
    {
        "name": "get_weather",
        "description": "Weather for a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
]
CLAUDE = Path(__file__).resolve().parent.parent / "js" / "node_modules" / ".bin" / "claude"


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Static AWS credentials for the standard chain, and no profile or metadata lookups."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", AKID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@contextlib.contextmanager
def gateway(*upstreams: dict[str, Any], **overrides: Any) -> Iterator[GatewayThread]:
    """A gateway on 127.0.0.1:0 with these [[upstreams]] tables."""
    specs = upstreams_from_list(list(upstreams))
    config = GatewayConfig(upstreams=specs, port=0, policy=ROOMY, access_log=None, **overrides)
    with GatewayThread(config, clock=FastClock()) as gw:
        yield gw


@contextlib.contextmanager
def bedrock_pair(**sim: Any) -> Iterator[tuple[SimServer, GatewayThread]]:
    """A Bedrock simulator verifying SigV4 with the test key pair, and a gateway with it as a bedrock upstream."""
    with (
        run_sim(api="bedrock", seed=0, aws_access_key_id=AKID, aws_secret_access_key=SECRET, **sim) as bedrock,
        gateway({"name": "bedrock", "kind": "bedrock", "url": bedrock.base_url, "region": "us-east-1"}) as gw,
    ):
        yield bedrock, gw


def client(base_url: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=base_url, api_key=SIM_KEY, max_retries=0)


def answers(c: anthropic.Anthropic) -> dict[str, Any]:
    """Text, streamed text, tool use with streamed arguments, usage and count_tokens, as plain data."""
    message = c.messages.create(model=SIM_MODEL, max_tokens=256, messages=HELLO)
    with c.messages.stream(model=SIM_MODEL, max_tokens=256, messages=HELLO) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    with c.messages.stream(model=SIM_MODEL, max_tokens=256, messages=HELLO, tools=TOOLS) as stream:  # type: ignore[arg-type]
        tool = stream.get_final_message()
    counted = c.messages.count_tokens(model=SIM_MODEL, messages=HELLO)  # type: ignore[arg-type]
    return {
        "text": message.content[0].text,  # type: ignore[union-attr]
        "stop": message.stop_reason,
        "usage": (message.usage.input_tokens, message.usage.output_tokens),
        "pieces": pieces,
        "stream_usage": (final.usage.input_tokens, final.usage.output_tokens),
        "tool": (tool.stop_reason, tool.content[0].name, tool.content[0].input),  # type: ignore[union-attr]
        "tool_usage": tool.usage.output_tokens,
        "counted": counted.input_tokens,
    }


def test_sdk_through_a_bedrock_upstream_equals_the_anthropic_api() -> None:
    """Via a bedrock upstream: text, streamed text, streamed tool arguments, usage, count_tokens as direct."""
    with run_sim(seed=0) as direct:
        expected = answers(client(direct.base_url))
    with bedrock_pair() as (bedrock, gw):
        got = answers(client(gw.base_url))
        paths = {r.path.rsplit("/", 1)[-1] for r in bedrock.requests}
        auth = {r.headers["authorization"].split("/")[0] for r in bedrock.requests}
    assert got == expected
    assert len(got["pieces"]) > 1 and got["tool"][2] == {"city": "example"}
    assert paths == {"invoke", "invoke-with-response-stream", "count-tokens"}
    assert auth == {f"AWS4-HMAC-SHA256 Credential={AKID}"}  # signed by the gateway, verified by the simulator


def test_beta_outside_the_allowlist_never_reaches_bedrock() -> None:
    """An unknown beta is dropped (the call succeeds); an allowed one and an aliased one arrive in anthropic_beta."""
    with bedrock_pair() as (bedrock, gw):
        c = client(gw.base_url)
        betas = ["files-api-2025-04-14", "interleaved-thinking-2025-05-14", "advanced-tool-use-2025-11-20"]
        message = c.beta.messages.create(model=SIM_MODEL, max_tokens=8, messages=HELLO, betas=betas)  # type: ignore[arg-type]
        sent = bedrock.app.received[-1]["anthropic_beta"]  # type: ignore[attr-defined]
    assert message.content
    assert sent == ["interleaved-thinking-2025-05-14", "tool-search-tool-2025-10-19"]


def test_midstream_throttling_reaches_the_client_as_a_rate_limit_error_event() -> None:
    """A throttlingException frame after two deltas arrives as an SSE error event of type rate_limit_error."""
    with bedrock_pair(faults=["midstream_error:1.0,after=2,status=429"]) as (_, gw):
        pieces: list[str] = []
        call = client(gw.base_url).messages.stream(model=SIM_MODEL, max_tokens=256, messages=HELLO)
        with pytest.raises(anthropic.APIStatusError) as info, call as stream:
            pieces.extend(stream.text_stream)
    assert len(pieces) == 2
    assert info.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]


def test_bedrock_errors_are_retried_and_mapped_by_the_gateway() -> None:
    """A ThrottlingException 429 is retried by the gateway's policy; a persistent one reaches the client as 429."""
    with bedrock_pair(faults=["429:1.0,count=2"]) as (bedrock, gw):
        assert client(gw.base_url).messages.create(model=SIM_MODEL, max_tokens=8, messages=HELLO).content
        assert bedrock.stats.snapshot()["by_status"] == {429: 2, 200: 1}
    with bedrock_pair(faults=["400"]) as (_, gw), pytest.raises(anthropic.BadRequestError) as bad:
        client(gw.base_url).messages.create(model=SIM_MODEL, max_tokens=8, messages=HELLO)
    assert bad.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]


def test_batches_are_refused_by_a_bedrock_upstream() -> None:
    """Message Batches through a bedrock upstream: a clear 400 naming it, and nothing sent to Bedrock."""
    with bedrock_pair() as (bedrock, gw), pytest.raises(anthropic.BadRequestError, match="bedrock"):
        client(gw.base_url).messages.batches.list()
    assert bedrock.stats.total == 0


def test_vertex_upstream_serves_messages_stream_and_count_tokens() -> None:
    """Via a vertex upstream with a static token: the same answers; rejected fields are removed before Vertex."""
    with run_sim(seed=0) as direct:
        expected = answers(client(direct.base_url))
    with (
        run_sim(api="vertex", seed=0, api_keys=("ya29.gateway",), region="us-east5") as vertex,
        gateway(
            {
                "name": "vertex",
                "kind": "vertex",
                "url": vertex.base_url + "/v1",
                "project": "proj",
                "region": "us-east5",
                "keys": ["ya29.gateway"],
            }
        ) as gw,
    ):
        c = client(gw.base_url)
        assert answers(c) == expected
        extra = c.messages.create(model=SIM_MODEL, max_tokens=8, messages=HELLO, extra_body={"service_tier": "auto"})
        fields = vertex.app.received[-1]["fields"]  # type: ignore[attr-defined]
    assert extra.content and "service_tier" not in fields


def test_foundry_upstream_gets_its_own_key() -> None:
    """Via a foundry upstream: answers come back, and Foundry sees its key, never the client's."""
    with (
        run_sim(api="foundry", seed=0, api_keys=("foundry-key",)) as foundry,
        gateway(
            {"name": "foundry", "kind": "foundry", "url": foundry.base_url + "/anthropic", "keys": ["foundry-key"]}
        ) as gw,
    ):
        assert client(gw.base_url).messages.create(model=SIM_MODEL, max_tokens=8, messages=HELLO).content
        seen = foundry.requests[-1].headers
    assert seen["api-key"] == seen["x-api-key"] == "foundry-key"


@pytest.mark.parametrize("kind", ["bedrock", "bedrock-mantle"])
@pytest.mark.parametrize("stream", [False, True])
def test_failover_from_an_overloaded_anthropic_upstream_to_aws(kind: str, stream: bool) -> None:
    """The anthropic upstream answers 529: the bedrock (or bedrock-mantle) one serves, and the client sees one clean
    answer."""
    with (
        run_sim(seed=0, faults=["529:1.0"]) as primary,
        run_sim(api=kind, seed=0, aws_access_key_id=AKID, aws_secret_access_key=SECRET) as aws,
        gateway(
            {"name": "primary", "url": primary.base_url, "priority": 0},
            {"name": "aws", "kind": kind, "url": aws.base_url, "region": "us-east-1", "priority": 1},
        ) as gw,
    ):
        c = client(gw.base_url)
        if stream:
            with c.messages.stream(model=SIM_MODEL, max_tokens=64, messages=HELLO) as s:
                text = "".join(s.text_stream)
        else:
            text = c.messages.create(model=SIM_MODEL, max_tokens=64, messages=HELLO).content[0].text  # type: ignore[union-attr]
        assert primary.stats.snapshot()["by_status"].get(529, 0) >= 1
        assert aws.stats.snapshot()["by_status"] == {200: 1}
    assert text.startswith("Hello! I am the claudewire simulator")


@contextlib.contextmanager
def mantle_pair(**sim: Any) -> Iterator[tuple[SimServer, GatewayThread]]:
    """A Mantle simulator verifying SigV4 (bedrock-mantle) with the test key pair, and a gateway in front of it."""
    with (
        run_sim(api="bedrock-mantle", seed=0, aws_access_key_id=AKID, aws_secret_access_key=SECRET, **sim) as mantle,
        gateway({"name": "mantle", "kind": "bedrock-mantle", "url": mantle.base_url, "region": "us-east-1"}) as gw,
    ):
        yield mantle, gw


def test_sdk_through_a_mantle_upstream_equals_the_anthropic_api() -> None:
    """Via a bedrock-mantle upstream: the same answers as direct, signed for bedrock-mantle, anthropic.<id> sent."""
    with run_sim(seed=0) as direct:
        expected = answers(client(direct.base_url))
    with mantle_pair() as (mantle, gw):
        got = answers(client(gw.base_url))
        paths = {r.path for r in mantle.requests}
        auth = {r.headers["authorization"].split("/")[0] for r in mantle.requests}
        models = {r["model"] for r in mantle.app.received}  # type: ignore[attr-defined]
    assert got == expected
    assert paths == {"/anthropic/v1/messages", "/anthropic/v1/messages/count_tokens"}
    assert auth == {f"AWS4-HMAC-SHA256 Credential={AKID}"}
    assert models == {f"anthropic.{SIM_MODEL}"}


def test_mantle_upstream_with_a_bedrock_api_key_and_unoffered_endpoints() -> None:
    """keys = [API key]: sent as a bearer; Batches and Models are refused at the gateway, nothing reaches Mantle."""
    with (
        run_sim(api="bedrock-mantle", seed=0, api_keys=("brk-gateway",)) as mantle,
        gateway(
            {
                "name": "mantle",
                "kind": "bedrock-mantle",
                "url": mantle.base_url + "/anthropic",
                "region": "us-east-1",
                "keys": ["brk-gateway"],
            }
        ) as gw,
    ):
        c = client(gw.base_url)
        assert c.messages.create(model=SIM_MODEL, max_tokens=8, messages=HELLO).content
        assert mantle.requests[-1].headers["authorization"] == "Bearer brk-gateway"
        with pytest.raises(anthropic.BadRequestError, match="not offered by Claude in Amazon Bedrock"):
            c.messages.batches.list()
        # Mantle has no Models API: the gateway's own list (the catalogue's current models) answers instead
        assert any(m.id.startswith(SIM_MODEL) for m in c.models.list())
        assert c.models.retrieve(SIM_MODEL).id.startswith(SIM_MODEL)  # one model, from the same list
        with pytest.raises(anthropic.NotFoundError, match="claude-haiku-9"):
            c.models.retrieve("claude-haiku-9")
        assert mantle.stats.total == 1


def test_mantle_front_door_refusal_reaches_the_client_as_an_authentication_error() -> None:
    """A wrong secret: AWS's 403 InvalidSignatureException arrives as an Anthropic 401 authentication_error."""
    with (
        run_sim(api="bedrock-mantle", seed=0, aws_access_key_id=AKID, aws_secret_access_key="another-secret") as m,
        gateway({"name": "mantle", "kind": "bedrock-mantle", "url": m.base_url, "region": "us-east-1"}) as gw,
        pytest.raises(anthropic.AuthenticationError) as info,
    ):
        client(gw.base_url).messages.create(model=SIM_MODEL, max_tokens=8, messages=HELLO)
    assert "signature we calculated does not match" in info.value.body["error"]["message"]  # type: ignore[index]


@pytest.mark.skipif(shutil.which("node") is None or not CLAUDE.exists(), reason="needs node and Claude Code")
def test_claude_code_through_a_bedrock_upstream(tmp_path: Path) -> None:
    """Claude Code (default model and betas) → gateway → Bedrock: its answer, its default betas filtered, no 400."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "ANTHROPIC_API_KEY": "sk-ant-sim-claude-code-0123456789",
        "DISABLE_TELEMETRY": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
    }
    with bedrock_pair() as (bedrock, gw):
        env["ANTHROPIC_BASE_URL"] = gw.base_url
        result = subprocess.run(
            [str(CLAUDE), "-p", "hello"], capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path
        )
        statuses = bedrock.stats.snapshot()["by_status"]
        sent = list(bedrock.app.received)  # type: ignore[attr-defined]
    assert result.returncode == 0, result.stderr + result.stdout
    assert "claudewire simulator" in result.stdout
    assert set(statuses) == {200}
    assert sent and all("claude-code-20250219" not in s["anthropic_beta"] for s in sent)


def test_claudewire_proxy_with_a_bedrock_config_file(tmp_path: Path) -> None:
    """`claudewire proxy --config` with a kind = "bedrock" upstream signs with the AWS chain from the environment."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with run_sim(api="bedrock", seed=0, aws_access_key_id=AKID, aws_secret_access_key=SECRET) as bedrock:
        config = tmp_path / "cloud.toml"
        lines = ["[[upstreams]]", 'name = "bedrock-east"', 'kind = "bedrock"', f'url = "{bedrock.base_url}"']
        config.write_text("\n".join([*lines, 'region = "us-east-1"', ""]))
        env = {**os.environ, "AWS_ACCESS_KEY_ID": AKID, "AWS_SECRET_ACCESS_KEY": SECRET}
        proc = subprocess.Popen(
            [sys.executable, "-m", "claudewire", "proxy", "--port", str(port), "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            assert proc.stdout is not None
            banner = proc.stdout.readline() + proc.stdout.readline()
            assert f"export ANTHROPIC_BASE_URL=http://127.0.0.1:{port}" in banner, banner
            reply = client(f"http://127.0.0.1:{port}").messages.create(model=SIM_MODEL, max_tokens=8, messages=HELLO)
        finally:
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=15)
        assert reply.content and bedrock.stats.snapshot()["by_status"] == {200: 1}


def test_vertex_upstream_with_a_service_account_file(tmp_path: Path) -> None:
    """credentials_file: google-auth signs a JWT grant to the file's token_uri; the token it gets goes to Vertex."""
    from aiohttp import web
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from tests.gateway.conftest import Upstream

    grants: list[str] = []

    async def token(request: web.Request) -> web.Response:
        form = await request.post()
        grants.append(str(form.get("grant_type")))
        return web.json_response({"access_token": "ya29.from-service-account", "expires_in": 3600})

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with Upstream(token) as token_server:
        account = {
            "type": "service_account",
            "project_id": "proj",
            "private_key_id": "k1",
            "private_key": pem.decode(),
            "client_email": "sim@proj.iam.gserviceaccount.com",
            "client_id": "1",
            "token_uri": token_server.base_url + "/token",
        }
        path = tmp_path / "sa.json"
        path.write_text(json.dumps(account))
        with (
            run_sim(api="vertex", seed=0, api_keys=("ya29.from-service-account",)) as vertex,
            gateway(
                {
                    "name": "vertex",
                    "kind": "vertex",
                    "url": vertex.base_url + "/v1",
                    "project": "proj",
                    "region": "us-east5",
                    "credentials_file": str(path),
                }
            ) as gw,
        ):
            c = client(gw.base_url)
            for _ in range(2):
                assert c.messages.create(model=SIM_MODEL, max_tokens=8, messages=HELLO).content
    assert grants == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]  # one token, reused while valid


@pytest.mark.skipif(shutil.which("node") is None or not CLAUDE.exists(), reason="needs node and Claude Code")
def test_claude_code_through_a_vertex_upstream(tmp_path: Path) -> None:
    """Claude Code (default model and betas) → gateway → Vertex AI: streamRawPredict with the gateway's token."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "ANTHROPIC_API_KEY": "sk-ant-sim-claude-code-0123456789",
        "DISABLE_TELEMETRY": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
    }
    with (
        run_sim(api="vertex", seed=0, api_keys=("ya29.gateway",), region="us-east5") as vertex,
        gateway(
            {
                "name": "vertex",
                "kind": "vertex",
                "url": vertex.base_url + "/v1",
                "project": "proj",
                "region": "us-east5",
                "keys": ["ya29.gateway"],
            }
        ) as gw,
    ):
        env["ANTHROPIC_BASE_URL"] = gw.base_url
        result = subprocess.run(
            [str(CLAUDE), "-p", "hello"], capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path
        )
        statuses = vertex.stats.snapshot()["by_status"]
        paths = [r.path for r in vertex.requests]
    assert result.returncode == 0, result.stderr + result.stdout
    assert "claudewire simulator" in result.stdout
    assert set(statuses) == {200}
    assert any(p.endswith(":streamRawPredict") for p in paths)
