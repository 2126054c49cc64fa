"""The official TypeScript SDK (@anthropic-ai/sdk under node) against the simulator: create, stream, a fault."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from claudewire.testing import run_sim
from tests.conftest import SIM_MODEL

JS = Path(__file__).resolve().parents[1] / "js"


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed (./scripts/test installs it in CI)")
@pytest.mark.skipif(
    not (JS / "node_modules" / "@anthropic-ai" / "sdk").is_dir(),
    reason="tests/js/node_modules is missing: run `cd tests/js && npm install` (./scripts/test does)",
)
def test_typescript_sdk_create_stream_and_fault() -> None:
    """The TS SDK gets a message, assembles a stream with stop_reason and usage, and raises OverloadedError on 529."""
    with run_sim(faults=["529:1.0,path=/v1/messages/count_tokens"]) as sim:
        result = subprocess.run(
            ["node", str(JS / "sim_sdk.mjs"), sim.base_url, SIM_MODEL],
            capture_output=True,
            text=True,
            timeout=60,
        )
        seen = sim.stats.snapshot()
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["create"]["stop_reason"] == "end_turn" and out["create"]["text"]
    assert out["create"]["usage"]["output_tokens"] == len(out["create"]["text"].split())
    assert out["stream"]["text"] == out["create"]["text"]
    assert out["stream"]["stop_reason"] == "end_turn"
    assert out["stream"]["deltas"] == out["stream"]["usage"]["output_tokens"] > 1
    assert out["fault"] == {"raised": "OverloadedError", "overloaded": True, "type": "overloaded_error",
                            "request_id": out["fault"]["request_id"]}  # fmt: skip
    assert out["fault"]["request_id"].startswith("req_")
    assert seen["by_path"] == {"/v1/messages": 2, "/v1/messages/count_tokens": 1}
