"""Claude Code's CLI in its Bedrock and Vertex modes against the simulator speaking those clouds."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from claudewire.testing import run_sim

CLAUDE = Path(__file__).resolve().parent.parent / "js" / "node_modules" / ".bin" / "claude"

pytestmark = [
    pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed (scripts/test installs it)"),
    pytest.mark.skipif(not CLAUDE.exists(), reason="tests/js/node_modules lacks Claude Code: run ./scripts/test"),
]


def _claude(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),  # a fresh profile: no login, no settings of the machine's user
        "DISABLE_TELEMETRY": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
    }
    return subprocess.run(
        [str(CLAUDE), "-p", "hello"], capture_output=True, text=True, timeout=120, env=base | env, cwd=tmp_path
    )


def test_claude_code_bedrock_mode(tmp_path: Path) -> None:
    """CLAUDE_CODE_USE_BEDROCK=1 at the simulator: it streams over event-stream, betas in the body, and answers."""
    with run_sim(api="bedrock", seed=0) as sim:
        result = _claude(
            tmp_path,
            CLAUDE_CODE_USE_BEDROCK="1",
            CLAUDE_CODE_SKIP_BEDROCK_AUTH="1",
            ANTHROPIC_BEDROCK_BASE_URL=sim.base_url,
            AWS_REGION="us-east-1",
        )
        streamed = [r.path for r in sim.requests if r.path.endswith("/invoke-with-response-stream")]
        sent = list(sim.app.received)  # type: ignore[attr-defined]
    assert result.returncode == 0, result.stderr + result.stdout
    assert "claudewire simulator" in result.stdout
    assert streamed and all(p.startswith("/model/") for p in streamed)
    assert all(s["anthropic_version"] == "bedrock-2023-05-31" for s in sent)
    assert any(s["anthropic_beta"] for s in sent)  # Claude Code's default betas, all on the allowlist


def test_claude_code_vertex_mode(tmp_path: Path) -> None:
    """CLAUDE_CODE_USE_VERTEX=1 at the simulator: streamRawPredict for the project and region, and it answers."""
    with run_sim(api="vertex", seed=0, region="us-east5") as sim:
        result = _claude(
            tmp_path,
            CLAUDE_CODE_USE_VERTEX="1",
            CLAUDE_CODE_SKIP_VERTEX_AUTH="1",
            ANTHROPIC_VERTEX_BASE_URL=sim.base_url + "/v1",
            ANTHROPIC_VERTEX_PROJECT_ID="sim-project",
            CLOUD_ML_REGION="us-east5",
        )
        paths = [r.path for r in sim.requests]
    assert result.returncode == 0, result.stderr + result.stdout
    assert "claudewire simulator" in result.stdout
    assert any(
        p.startswith("/v1/projects/sim-project/locations/us-east5/publishers/anthropic/models/")
        and p.endswith(":streamRawPredict")
        for p in paths
    )
