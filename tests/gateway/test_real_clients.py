"""Real Node clients through the gateway: the official TypeScript SDK and Claude Code's CLI (`claude -p`)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from claudewire.testing import run_sim
from tests.conftest import SIM_MODEL
from tests.gateway.conftest import run_gateway

HERE = Path(__file__).resolve().parent
NODE_MODULES = HERE.parent / "js" / "node_modules"
SDK = NODE_MODULES / "@anthropic-ai" / "sdk"
CLAUDE = NODE_MODULES / ".bin" / "claude"
CLAUDE_2197 = NODE_MODULES / "claude-code-2197" / "bin" / "claude.exe"  # the version these betas were pinned on

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed (scripts/test installs it)")


def _ts(base_url: str) -> dict[str, object]:
    result = subprocess.run(
        ["node", str(HERE / "ts_sdk.mjs"), str(SDK), base_url, SIM_MODEL],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert isinstance(out, dict)
    return out


@needs_node
@pytest.mark.skipif(not SDK.is_dir(), reason="tests/js/node_modules lacks @anthropic-ai/sdk: run ./scripts/test")
def test_typescript_sdk_gets_identical_results_through_the_gateway() -> None:
    """create, stream, models.list and countTokens via the gateway equal direct calls; the beta header arrives."""
    with run_sim(seed=0) as sim, run_gateway(sim.base_url) as gw:
        direct = _ts(sim.base_url)
        via = _ts(gw.base_url)
        seen = [r.headers.get("anthropic-beta") for r in sim.requests]
    assert via == direct
    assert via["stream"]["deltas"] > 1  # type: ignore[index]
    # every request of both runs (models.list takes as many pages as the catalogue needs)
    assert len(seen) >= 8 and seen.count("ts-beta-2025-01-01") == len(seen)


@needs_node
@pytest.mark.skipif(
    not CLAUDE.exists(), reason="tests/js/node_modules lacks @anthropic-ai/claude-code: run ./scripts/test"
)
def test_claude_code_print_mode_works_through_the_gateway(tmp_path: Path) -> None:
    """`claude -p "hello"` with ANTHROPIC_BASE_URL at the gateway prints the simulator's reply and exits 0."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),  # a fresh profile: no login, no settings of the machine's user
        "ANTHROPIC_API_KEY": "sk-ant-sim-claude-code-0123456789",
        "ANTHROPIC_MODEL": SIM_MODEL,
        "ANTHROPIC_SMALL_FAST_MODEL": SIM_MODEL,
        "DISABLE_TELEMETRY": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
    }
    with run_sim(seed=0) as sim, run_gateway(sim.base_url) as gw:
        env["ANTHROPIC_BASE_URL"] = gw.base_url
        result = subprocess.run(
            [str(CLAUDE), "-p", "hello"], capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path
        )
        paths = [r.path for r in sim.requests]
        keys = {r.api_key for r in sim.requests}
    assert result.returncode == 0, result.stderr + result.stdout
    assert "claudewire simulator" in result.stdout
    assert "/v1/messages" in paths
    assert keys == {"sk-ant-sim-claude-code-0123456789"}


@needs_node
@pytest.mark.skipif(not CLAUDE_2197.exists(), reason="tests/js/node_modules lacks claude-code-2197: run ./scripts/test")
@pytest.mark.parametrize("via_gateway", [False, True], ids=["direct", "gateway"])
def test_claude_code_default_model_works(tmp_path: Path, via_gateway: bool) -> None:
    """`claude -p` 2.1.197 with NO model pinned (its default model, a mid-conversation system message, its betas)
    exits 0 (the newest: tests/gateway/test_claude_code_contract.py)."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "ANTHROPIC_API_KEY": "sk-ant-sim-claude-code-0123456789",
        "DISABLE_TELEMETRY": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
    }
    with run_sim(seed=0) as sim, run_gateway(sim.base_url) as gw:
        env["ANTHROPIC_BASE_URL"] = gw.base_url if via_gateway else sim.base_url
        result = subprocess.run(
            [str(CLAUDE_2197), "-p", "say pong"], capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path
        )
        sent = [r for r in sim.requests if r.path == "/v1/messages"]
    assert result.returncode == 0, result.stderr + result.stdout
    assert "claudewire simulator" in result.stdout
    assert sent, "Claude Code sent no messages request"
    assert "mid-conversation-system-" in (sent[0].headers.get("anthropic-beta") or "")
