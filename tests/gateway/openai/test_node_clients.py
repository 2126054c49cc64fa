"""Node clients through the OpenAI ingress: the official `openai` npm SDK and the Vercel AI SDK (`ai` with
`@ai-sdk/openai-compatible` for chat and `@ai-sdk/openai` for responses): generateText, streamText, a tool call."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from claudewire.testing import ToolCall
from tests.conftest import SIM_KEY
from tests.gateway.openai.conftest import ingress

JS = Path(__file__).resolve().parents[2] / "js"
NEEDED = ("openai", "ai", "@ai-sdk/openai-compatible", "@ai-sdk/openai")

pytestmark = [
    pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed (scripts/test installs it)"),
    pytest.mark.skipif(
        not all((JS / "node_modules" / name).is_dir() for name in NEEDED),
        reason="tests/js/node_modules lacks the OpenAI Node clients: run ./scripts/test (npm install in tests/js)",
    ),
]

REPLIES = [
    "js chat",  # openai SDK: chat
    "js stream of words",  # openai SDK: streamed chat
    ToolCall("get_weather", {"city": "Paris"}),  # openai SDK: a tool call
    "js responses",  # openai SDK: responses
    "ai chat",  # AI SDK (openai-compatible): generateText
    "ai stream of words",  # streamText
    ToolCall("get_weather", {"city": "Paris"}),  # a tool call the AI SDK runs ...
    "Sunny via chat.",  # ... and its answer once the result went back
    "ai responses",  # AI SDK (openai responses): generateText
    "ai responses stream",  # streamText
    ToolCall("get_weather", {"city": "Oslo"}),
    "Sunny via responses.",
]


def test_openai_npm_sdk_and_vercel_ai_sdk_work_through_the_gateway() -> None:
    """Each client gets its scripted answer: plain, streamed (with usage), and a tool call run to its answer."""
    with ingress(replies=REPLIES) as (sim, gw):
        done = subprocess.run(
            ["node", str(JS / "openai_clients.mjs"), gw.base_url, SIM_KEY],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=JS,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        keys = {r.api_key for r in sim.requests}
    out = json.loads(done.stdout)
    assert out["sdk_chat"] == "js chat"
    assert out["sdk_stream"]["text"] == "js stream of words" and out["sdk_stream"]["completion_tokens"] > 0
    assert out["sdk_tool"]["name"] == "get_weather" and out["sdk_tool"]["arguments"] == {"city": "Paris"}
    assert out["sdk_responses"] == "js responses"
    assert out["sdk_models"][:2] == ["cw-haiku", "cw-haiku-thinking"]
    assert out["ai_chat"] == "ai chat"
    assert out["ai_stream"]["text"] == "ai stream of words" and out["ai_stream"]["output_tokens"] > 0
    assert out["ai_tool"] == {"text": "Sunny via chat.", "steps": 2, "calls": ["get_weather"]}
    assert out["ai_responses"] == "ai responses"
    assert out["ai_responses_stream"] == "ai responses stream"
    assert out["ai_responses_tool"] == {"text": "Sunny via responses.", "steps": 2, "calls": ["get_weather"]}
    assert keys == {SIM_KEY}
