"""A client given the wrong base URL gets a 404 that names the base URL it needs (README's base-URL table)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import anthropic
import pytest

from claudewire._errors import FailureKind
from claudewire.explain import explain
from claudewire.testing import run_sim
from tests.conftest import SIM_MODEL
from tests.gateway.conftest import ask, run_gateway

HERE = Path(__file__).resolve().parent
NODE_MODULES = HERE.parent / "js" / "node_modules"
AI_SDK = NODE_MODULES / "@ai-sdk" / "anthropic"

needs_ai_sdk = pytest.mark.skipif(
    shutil.which("node") is None or not AI_SDK.is_dir() or not (NODE_MODULES / "ai").is_dir(),
    reason="node or the Vercel AI SDK (ai, @ai-sdk/anthropic in tests/js) is missing: run ./scripts/test",
)


def _get(path: str, host: str = "127.0.0.1") -> bytes:
    return f"POST {path} HTTP/1.1\r\nHost: {host}\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{{}}".encode()


@pytest.mark.parametrize("path", ["/messages", "/messages/count_tokens", "/models", "/files"])
def test_an_api_path_without_v1_names_the_v1_base_url(path: str) -> None:
    """/messages (the root given to a client that adds only /messages) is a 404 naming ROOT/v1, nothing forwarded."""
    with run_sim(seed=0) as sim, run_gateway(sim.base_url) as gw:
        answer = ask(gw, _get(path, f"127.0.0.1:{gw.port}"))
        forwarded = len(sim.requests)
    assert answer.status == 404 and answer.error_type() == "not_found_error"
    message = answer.json()["error"]["message"]
    assert message.startswith("claudewire gateway: ")
    assert f"Set the base URL to {gw.base_url}/v1 for the Vercel AI SDK" in message
    assert f"they take {gw.base_url}, without /v1" in message
    assert "has no extra path" not in message
    assert forwarded == 0


def test_a_doubled_v1_names_the_root_base_url() -> None:
    """/v1/v1/messages (…/v1 given to a client that adds /v1/messages) is a 404 naming the root, nothing forwarded."""
    with run_sim(seed=0) as sim, run_gateway(sim.base_url) as gw:
        answer = ask(gw, _get("/v1/v1/messages", f"127.0.0.1:{gw.port}"))
        forwarded = len(sim.requests)
    assert answer.status == 404 and answer.error_type() == "not_found_error"
    message = answer.json()["error"]["message"]
    assert f"Set the base URL to {gw.base_url}, without /v1, for LiteLLM" in message
    assert f"Only the Vercel AI SDK takes {gw.base_url}/v1" in message
    assert forwarded == 0


@pytest.mark.parametrize(
    ("host", "named"),
    [("gateway.internal:8787", "http://gateway.internal:8787/v1"), ("[::1]:9000", "http://[::1]:9000/v1")],
)
def test_the_fix_names_the_address_the_client_used(host: str, named: str) -> None:
    """The base URL in the fix is built from the Host the client sent (it may reach the gateway by another name)."""
    with run_sim(seed=0) as sim, run_gateway(sim.base_url) as gw:
        answer = ask(gw, _get("/messages", host))
    assert f"Set the base URL to {named} " in answer.json()["error"]["message"]


def test_a_host_header_that_is_not_an_address_is_not_echoed() -> None:
    """A Host that is not a plain host[:port] is not quoted back: the gateway's own base URL is named instead."""
    with run_sim(seed=0) as sim, run_gateway(sim.base_url) as gw:
        answer = ask(gw, _get("/messages", "evil.example/<script>"))
    message = answer.json()["error"]["message"]
    assert "evil" not in message and "<script>" not in message
    assert f"Set the base URL to {gw.base_url}/v1 " in message


def test_other_unknown_paths_keep_the_plain_404() -> None:
    """A path that is no wrong base URL's (/v2/messages, /health) still gets the gateway's list of what it serves."""
    with run_sim(seed=0) as sim, run_gateway(sim.base_url) as gw:
        answer = ask(gw, _get("/v2/messages"))
    assert answer.status == 404
    assert "the gateway serves /v1/*" in answer.json()["error"]["message"]


def test_the_anthropic_sdk_given_v1_is_told_the_root_and_explain_agrees() -> None:
    """The Python SDK given …/v1 (LiteLLM's mistake: it calls /v1/v1/messages) gets a NotFoundError naming the
    root; `explain` of what it printed is the client's base URL, not the gateway's path to the upstream."""
    with run_sim(seed=0) as sim, run_gateway(sim.base_url) as gw:
        client = anthropic.Anthropic(base_url=gw.base_url + "/v1", api_key="sk-ant-sim-0123456789", max_retries=0)
        with pytest.raises(anthropic.NotFoundError) as caught:
            client.messages.create(model=SIM_MODEL, max_tokens=16, messages=[{"role": "user", "content": "hi"}])
        forwarded = len(sim.requests)
    assert forwarded == 0
    assert f"Set the base URL to {gw.base_url}, without /v1" in str(caught.value)
    failure = explain(f"anthropic.NotFoundError: {caught.value}")
    assert failure.kind is FailureKind.NOT_FOUND
    assert "gateway" in failure.cause
    assert failure.fix.startswith(f"Set the base URL to {gw.base_url}, without /v1")
    assert "own path to the upstream" not in failure.fix and "has no extra path" not in failure.fix


def _ai_sdk(base_url: str) -> dict[str, object]:
    result = subprocess.run(
        ["node", str(HERE / "ai_sdk.mjs"), str(NODE_MODULES), base_url, SIM_MODEL],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": os.environ.get("PATH", "")},  # no ANTHROPIC_* of the machine: the baseURL given is used
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert isinstance(out, dict)
    return out


@needs_ai_sdk
def test_the_vercel_ai_sdk_works_at_v1_and_is_told_so_at_the_root() -> None:
    """The Vercel AI SDK given ROOT/v1 (README's table) gets the simulator's reply; given the root, the 404 it
    reports names ROOT/v1; `explain` of its message says the same."""
    with run_sim(seed=0) as sim, run_gateway(sim.base_url) as gw:
        right = _ai_sdk(gw.base_url + "/v1")
        wrong = _ai_sdk(gw.base_url)
        paths = [r.path for r in sim.requests]
    assert "claudewire simulator" in str(right.get("text")), right
    assert wrong["status"] == 404 and wrong["url"] == gw.base_url + "/messages", wrong
    assert f"Set the base URL to {gw.base_url}/v1 for the Vercel AI SDK" in str(wrong["message"])
    assert paths == ["/v1/messages"]  # the wrong call never reached the upstream
    failure = explain(f"AI_APICallError: {wrong['message']}")
    assert failure.kind is FailureKind.NOT_FOUND
    assert failure.fix.startswith(f"Set the base URL to {gw.base_url}/v1")
