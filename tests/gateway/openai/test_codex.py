"""Codex CLI (`@openai/codex`) through the ingress: a custom model provider on the Responses wire API, and a
`codex exec` turn that runs a tool and reads its result back."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from claudewire.testing import ToolCall
from tests.conftest import SIM_KEY
from tests.gateway.openai.conftest import tapped

CODEX = Path(__file__).resolve().parents[2] / "js" / "node_modules" / ".bin" / "codex"

pytestmark = [
    pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed (scripts/test installs it)"),
    pytest.mark.skipif(not CODEX.exists(), reason="tests/js/node_modules lacks @openai/codex: run ./scripts/test"),
]


def _config(base_url: str) -> str:
    """~/.codex/config.toml: the gateway as a custom provider on the Responses API, tools run without asking."""
    return f"""model = "cw-haiku"
model_provider = "claudewire"
approval_policy = "never"
sandbox_mode = "danger-full-access"

[model_providers.claudewire]
name = "claudewire"
base_url = "{base_url}/v1"
env_key = "CLAUDEWIRE_API_KEY"
wire_api = "responses"
"""


def test_codex_exec_completes_a_turn_that_runs_a_tool(tmp_path: Path) -> None:
    """`codex exec` asks, the model calls exec_command, Codex runs it and sends its output back (the same call id),
    and the turn ends with the model's answer; the file the command wrote exists."""
    home, work = tmp_path / "home", tmp_path / "work"
    (home / ".codex").mkdir(parents=True)
    work.mkdir()
    replies = [ToolCall("exec_command", {"cmd": "echo codex-was-here > proof.txt"}), "All done."]
    with tapped(replies=replies) as (tap, gw):
        (home / ".codex" / "config.toml").write_text(_config(gw.base_url))
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "CLAUDEWIRE_API_KEY": SIM_KEY}
        done = subprocess.run(
            [str(CODEX), "exec", "--skip-git-repo-check", "write the proof file"],
            capture_output=True,
            text=True,
            timeout=180,
            env=env,
            cwd=work,
            stdin=subprocess.DEVNULL,
        )
        sent = [b for b in tap.bodies if b]
        keys = {r.api_key for r in tap.sim.requests}
    assert done.returncode == 0, done.stderr[-3000:]
    assert "All done." in done.stdout
    assert (work / "proof.txt").read_text().strip() == "codex-was-here"
    assert len(sent) == 2 and all(b["model"] == "claude-haiku-4-5" and b["stream"] is True for b in sent)
    call = next(b for b in sent[0]["tools"] if b["name"] == "exec_command")
    assert call["input_schema"]["type"] == "object"
    result = sent[1]["messages"][-1]["content"][0]
    used = next(b for b in sent[1]["messages"][-2]["content"] if b["type"] == "tool_use")
    assert result["type"] == "tool_result" and result["tool_use_id"] == used["id"]
    assert keys == {SIM_KEY}
