"""The base-URL contract with the real Claude Code CLI, the newest release (Node 24) and 2.1.197 (Node 20): its
default model, a tool call, and a stream through a Bedrock upstream that falls silent (the gateway's pings keep it
alive), each with ``ANTHROPIC_BASE_URL`` at the gateway and a gateway token as its only credential."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from claudewire.gateway import GatewayConfig, GatewayThread
from claudewire.gateway.upstream.specs import upstreams_from_list
from claudewire.testing import FastClock, run_sim
from tests.gateway.claude_code import NEWEST, VERSIONS, ClaudeCode
from tests.gateway.conftest import ROOMY, run_gateway

TOKEN = "cw-gateway-token-0123456789"
HELD = "sk-ant-sim-held-key-0123456789"
SILENCE = 12.0  # seconds: past the 10 s the newest Claude Code lets a stream go without a byte (as set below)


def access_log(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@contextlib.contextmanager
def bedrock_gateway(log: Path, faults: list[str], ping_interval: float) -> Iterator[GatewayThread]:
    """The Bedrock simulator (a Bedrock API key) behind a gateway in token mode, its access log at `log`."""
    with run_sim(api="bedrock", seed=0, api_keys=("bedrock-key",), faults=faults) as sim:
        table = {"name": "bedrock", "kind": "bedrock", "url": sim.base_url, "region": "us-east-1"}
        config = GatewayConfig(
            upstreams=upstreams_from_list([{**table, "keys": ["bedrock-key"]}]),
            tokens=(TOKEN,),
            port=0,
            policy=ROOMY,
            access_log=str(log),
            ping_interval=ping_interval,
        )
        with GatewayThread(config, clock=FastClock()) as gw:
            yield gw


@pytest.mark.parametrize("claude", VERSIONS)
def test_default_model_with_a_gateway_token(tmp_path: Path, claude: ClaudeCode) -> None:
    """No model pinned, ANTHROPIC_AUTH_TOKEN the gateway's token: every call answered, the held key sent upstream."""
    log = tmp_path / "access.log"
    home = tmp_path / "home"
    home.mkdir()
    with (
        run_sim(seed=0) as sim,
        run_gateway(sim.base_url, tokens=(TOKEN,), upstream_key=HELD, access_log=str(log)) as gw,
    ):
        result = claude.run(home, gw.base_url, "say pong", ANTHROPIC_API_KEY="", ANTHROPIC_AUTH_TOKEN=TOKEN)
        keys = {r.api_key for r in sim.requests}
    assert result.returncode == 0, result.stderr + result.stdout
    assert "claudewire simulator" in result.stdout
    calls = access_log(log)
    assert calls and all(c["status"] == 200 and c["model"] for c in calls)  # its own default model, served
    assert keys == {HELD}


@pytest.mark.skipif(NEWEST.missing() is not None, reason=NEWEST.missing() or "")
def test_claude_code_preconnect_is_answered_by_the_gateway(tmp_path: Path) -> None:
    """The newest Claude Code sends HEAD {base}/api/hello before its first call: at the API it arrives, through the
    gateway it is answered there and never forwarded."""
    with run_sim(seed=0) as sim:
        direct = NEWEST.run(tmp_path, sim.base_url, "say pong", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="")
        asked = [(r.method, r.path) for r in sim.requests]
    assert direct.returncode == 0, direct.stderr + direct.stdout
    assert ("HEAD", "/api/hello") in asked
    with run_sim(seed=0) as sim, run_gateway(sim.base_url, tokens=(TOKEN,), upstream_key=HELD) as gw:
        result = NEWEST.run(
            tmp_path, gw.base_url, "say pong", ANTHROPIC_API_KEY=TOKEN, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=""
        )
        forwarded = [r.path for r in sim.requests]
    assert result.returncode == 0, result.stderr + result.stdout
    assert "/api/hello" not in forwarded and "/v1/messages" in forwarded


@pytest.mark.parametrize("claude", VERSIONS)
def test_a_tool_call_through_the_gateway(tmp_path: Path, claude: ClaudeCode) -> None:
    """The model calls Read, Claude Code runs it and sends its result back, and the turn ends with text."""
    with run_sim(seed=0) as sim, run_gateway(sim.base_url, tokens=(TOKEN,), upstream_key=HELD) as gw:
        result = claude.run(
            tmp_path,
            gw.base_url,
            "Use the Read tool",
            "--output-format",
            "stream-json",
            "--verbose",
            "--allowedTools",
            "Read",
            ANTHROPIC_API_KEY=TOKEN,
        )
    assert result.returncode == 0, result.stderr + result.stdout
    blocks: list[tuple[str, dict[str, Any]]] = []
    final: dict[str, Any] = {}
    for line in result.stdout.splitlines():
        event = json.loads(line)
        if event.get("type") in ("assistant", "user"):
            blocks += [(event["type"], b) for b in event["message"]["content"] if isinstance(b, dict)]
        elif event.get("type") == "result":
            final = event
    uses = [b for who, b in blocks if who == "assistant" and b.get("type") == "tool_use" and b["name"] == "Read"]
    results = [b for who, b in blocks if who == "user" and b.get("type") == "tool_result"]
    assert uses and results and results[0]["tool_use_id"] == uses[0]["id"]
    assert final.get("subtype") == "success" and "claudewire simulator" in final.get("result", "")


@pytest.mark.parametrize("claude", VERSIONS)
def test_a_silent_bedrock_stream_is_kept_alive_by_pings(tmp_path: Path, claude: ClaudeCode) -> None:
    """Bedrock falls silent for 12 s mid-stream; Claude Code cuts a stream after 10 s without a byte (newest, as set
    here), so only the gateway's pings, once a second, let the stream finish: no call cut, no non-streamed retry."""
    log = tmp_path / "access.log"
    home = tmp_path / "home"
    home.mkdir()
    gap = f"pause:1.0,after=1,seconds={SILENCE:g},count=1"
    with bedrock_gateway(log, [gap], ping_interval=1.0) as gw:
        result = claude.run(
            home,
            gw.base_url,
            "say pong",
            ANTHROPIC_API_KEY=TOKEN,
            CLAUDE_BYTE_STREAM_IDLE_TIMEOUT_MS="10000",
            CLAUDE_ENABLE_BYTE_WATCHDOG="1",
            timeout=120 + SILENCE,
        )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "claudewire simulator" in result.stdout
    calls = access_log(log)
    paused = [c for c in calls if c.get("pings")]
    assert len(paused) == 1 and paused[0]["status"] == 200 and paused[0]["pings"] >= SILENCE / 2
    assert paused[0]["duration_ms"] >= SILENCE * 1000  # it is the stream that went quiet, read to its end
    assert all(c["status"] == 200 for c in calls)  # not one cut by its client (499) and retried
