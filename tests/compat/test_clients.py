"""Real clients against the simulator and through the gateway: the default model, a tool call, a stream.

CI runs these with its pinned clients (the installed ``anthropic``, tests/js/node_modules). ``./scripts/canary`` runs
them with the newest releases: it sets ``CLAUDEWIRE_JS_NODE_MODULES`` to its scratch node_modules (with Node 24 first
on PATH) and ``CLAUDEWIRE_CANARY=1``, which also turns on the checks CI pins elsewhere (the SDK's model list against
the catalogue, Claude Code's default model).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest
from anthropic import beta_tool

from claudewire.sim import SimServer
from claudewire.testing import run_sim
from tests.conftest import SIM_KEY, SIM_MODEL
from tests.gateway.conftest import run_gateway

HERE = Path(__file__).resolve().parent
NODE_MODULES = Path(os.environ.get("CLAUDEWIRE_JS_NODE_MODULES") or HERE.parent / "js" / "node_modules")
TS_SDK = NODE_MODULES / "@anthropic-ai" / "sdk"
CLAUDE = NODE_MODULES / ".bin" / "claude"
CANARY = os.environ.get("CLAUDEWIRE_CANARY") == "1"

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed (scripts/test installs it)")
canary_only = pytest.mark.skipif(not CANARY, reason="the canary's check (./scripts/canary); CI pins it elsewhere")


@pytest.fixture(params=["sim", "gateway"])
def target(request: pytest.FixtureRequest) -> Iterator[tuple[str, SimServer]]:
    """(base URL, simulator): the simulator itself, or a gateway in front of it."""
    with run_sim(seed=0) as sim:
        if request.param == "sim":
            yield sim.base_url, sim
            return
        with run_gateway(sim.base_url) as gw:
            yield gw.base_url, sim


def _client(base_url: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=base_url, api_key=SIM_KEY, max_retries=0)


# --- the official Python SDK ----------------------------------------------------------------------------------------


def test_python_sdk_stream(target: tuple[str, SimServer]) -> None:
    """messages.stream delivers text deltas that assemble to an end_turn message."""
    with _client(target[0]).messages.stream(
        model=SIM_MODEL, max_tokens=64, messages=[{"role": "user", "content": "Hello"}]
    ) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) > 1 and final.stop_reason == "end_turn"
    assert "".join(pieces) == final.content[0].text  # type: ignore[union-attr]


def test_python_sdk_tool_runner_round_trip(target: tuple[str, SimServer]) -> None:
    """The SDK's tool_runner: one call with inputs its validation accepts, then the loop ends in text."""
    calls: list[tuple[str, int]] = []

    @beta_tool
    def get_weather(city: str, days: int) -> str:
        """The weather for a city.

        Args:
            city: the city
            days: how many days ahead
        """
        calls.append((city, days))
        return "sunny"

    runner = _client(target[0]).beta.messages.tool_runner(
        model=SIM_MODEL,
        max_tokens=256,
        max_iterations=4,
        tools=[get_weather],
        messages=[{"role": "user", "content": "Weather in Paris?"}],
    )
    assert [m.stop_reason for m in runner] == ["tool_use", "end_turn"]
    assert calls == [("example", 1)]


def _literals(tp: Any) -> set[str]:
    found: set[str] = set()
    for arg in typing.get_args(tp):
        if isinstance(arg, str):
            found.add(arg)
        else:
            found |= _literals(arg)
    return found


@canary_only
def test_every_model_the_python_sdk_names_is_known_to_the_simulator(sim: SimServer) -> None:
    """Each model id in the installed SDK's ModelParam resolves in the simulator's catalogue (current or retired)."""
    names = _literals(anthropic.types.ModelParam)
    unknown = sorted(n for n in names if sim.catalogue.get(n) is None)
    assert len(names) > 1  # the SDK still spells its model ids as Literals
    assert not unknown, f"anthropic {anthropic.__version__} names models the simulator lacks: {unknown}"


# --- the official TypeScript SDK ------------------------------------------------------------------------------------


@needs_node
@pytest.mark.skipif(not TS_SDK.is_dir(), reason=f"{TS_SDK} is missing: run ./scripts/test (or ./scripts/canary)")
def test_typescript_sdk_stream_and_tool_call(target: tuple[str, SimServer]) -> None:
    """The TS SDK streams text deltas and completes a tool round trip with schema-typed input."""
    result = subprocess.run(
        ["node", str(HERE / "ts_compat.mjs"), str(TS_SDK), target[0], SIM_MODEL],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["stream"]["stop_reason"] == "end_turn" and out["stream"]["deltas"] > 1
    assert out["tool"] == {
        "stop_reason": "tool_use",
        "name": "get_weather",
        "input": {"city": "example", "days": 1, "metric": False},
        "then": "end_turn",
    }


# --- Claude Code ----------------------------------------------------------------------------------------------------


def _claude(home: Path, base_url: str, *args: str, **env: str) -> tuple[subprocess.CompletedProcess[str], list[Any]]:
    """`claude -p ... --output-format stream-json` in a fresh profile; the process and its parsed events."""
    base = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),  # a fresh profile: no login, no settings of the machine's user
        "ANTHROPIC_API_KEY": "sk-ant-sim-claude-code-0123456789",
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_BEDROCK_BASE_URL": base_url,
        "DISABLE_TELEMETRY": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
    }
    result = subprocess.run(
        [str(CLAUDE), "-p", *args, "--output-format", "stream-json", "--verbose"],
        capture_output=True,
        text=True,
        timeout=120,
        env=base | env,
        cwd=home,
    )
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return result, events


def _init_model(events: list[Any]) -> str | None:
    return next((e.get("model") for e in events if e.get("type") == "system" and e.get("subtype") == "init"), None)


def _outcome(result: subprocess.CompletedProcess[str], events: list[Any]) -> str:
    final = next((e for e in reversed(events) if e.get("type") == "result"), {})
    return f"exit {result.returncode}, model {_init_model(events)}: {final.get('result')!r} {result.stderr[-500:]}"


needs_claude = pytest.mark.skipif(not CLAUDE.exists(), reason=f"{CLAUDE} is missing: run ./scripts/test")


@needs_node
@needs_claude
@canary_only
def test_claude_code_default_model(target: tuple[str, SimServer], tmp_path: Path) -> None:
    """`claude -p` with no model pinned: the model Claude Code picks by default is served and it answers."""
    result, events = _claude(tmp_path, target[0], "say pong")
    code = result.returncode
    assert code == 0, _outcome(result, events)
    assert any(e.get("type") == "result" and not e.get("is_error") for e in events), _outcome(result, events)


@needs_node
@needs_claude
def test_claude_code_tool_call_round_trip(target: tuple[str, SimServer], tmp_path: Path) -> None:
    """A prompt naming Bash: Claude Code runs the simulated Bash call, sends its result, and the turn ends in text."""
    result, events = _claude(
        tmp_path, target[0], "Use the Bash tool to list the files", "--allowedTools", "Bash", ANTHROPIC_MODEL=SIM_MODEL
    )
    code = result.returncode
    assert code == 0, _outcome(result, events)
    uses = [
        block
        for e in events
        if e.get("type") == "assistant"
        for block in e["message"]["content"]
        if block.get("type") == "tool_use"
    ]
    results = [
        block
        for e in events
        if e.get("type") == "user" and isinstance(e["message"].get("content"), list)
        for block in e["message"]["content"]
        if block.get("type") == "tool_result"
    ]
    assert [u["name"] for u in uses] == ["Bash"] and isinstance(uses[0]["input"].get("command"), str)
    assert [r["tool_use_id"] for r in results] == [uses[0]["id"]]  # the tool ran once; no loop
    final = [e for e in events if e.get("type") == "result"]
    assert final and final[-1]["subtype"] == "success" and final[-1]["num_turns"] == 2


@needs_node
@needs_claude
def test_claude_code_bedrock_mode_turn_ends(tmp_path: Path) -> None:
    """Claude Code's Bedrock mode (its default Bedrock model, "hello", no tool named) finishes: no endless tool loop."""
    with run_sim(api="bedrock", seed=0) as sim:
        result, events = _claude(
            tmp_path,
            sim.base_url,
            "hello",
            CLAUDE_CODE_USE_BEDROCK="1",
            CLAUDE_CODE_SKIP_BEDROCK_AUTH="1",
            AWS_REGION="us-east-1",
        )
        calls = sum(1 for r in sim.requests if r.path.startswith("/model/"))
    code = result.returncode
    assert code == 0, _outcome(result, events)
    assert 0 < calls < 40, f"{calls} model calls for one 'hello'"  # 192 in 60 s when harness turns drew tool calls
