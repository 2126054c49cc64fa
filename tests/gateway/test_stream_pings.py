"""Pings on translated streams: a Bedrock stream (no pings of its own) that falls silent gets the gateway's ``ping``
events between its events; a native stream keeps only its own; ``idle_timeout`` still ends a stream gone quiet."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2

from claudewire.gateway import GatewayConfig, GatewayThread
from claudewire.gateway.upstream.specs import upstreams_from_list
from claudewire.testing import FastClock, run_sim
from tests.conftest import SIM_KEY, SIM_MODEL
from tests.gateway.conftest import ROOMY, run_gateway

BODY = {"model": SIM_MODEL, "max_tokens": 64, "stream": True, "messages": [{"role": "user", "content": "Hello"}]}
PAUSE = "pause:1.0,after=2,seconds=1.5"  # a 1.5 s silence after the second content delta


@contextlib.contextmanager
def bedrock_gateway(faults: list[str], **overrides: Any) -> Iterator[GatewayThread]:
    """A gateway whose one upstream is the Bedrock simulator (a Bedrock API key: no SigV4 needed)."""
    with run_sim(api="bedrock", seed=0, api_keys=("bedrock-key",), faults=faults) as sim:
        table = {"name": "bedrock", "kind": "bedrock", "url": sim.base_url, "region": "us-east-1"}
        specs = upstreams_from_list([{**table, "keys": ["bedrock-key"]}])
        overrides.setdefault("access_log", None)
        config = GatewayConfig(upstreams=specs, port=0, policy=ROOMY, **overrides)
        with GatewayThread(config, clock=FastClock()) as gw:
            yield gw


def events(base_url: str) -> list[tuple[str, dict[str, Any]]]:
    """Every SSE event of one streamed call, in order, each parsed whole (a torn event fails the parse)."""
    headers = {"x-api-key": SIM_KEY, "anthropic-version": "2023-06-01"}
    with httpx2.stream("POST", base_url + "/v1/messages", json=BODY, headers=headers, timeout=30) as response:
        assert response.status_code == 200
        raw = b"".join(response.iter_bytes())
    assert raw.endswith(b"\n\n")
    out: list[tuple[str, dict[str, Any]]] = []
    for block in raw.decode().split("\n\n")[:-1]:
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        assert set(lines) == {"event", "data"}, block
        data = json.loads(lines["data"])
        assert data["type"] == lines["event"]
        out.append((lines["event"], data))
    return out


def text(stream: list[tuple[str, dict[str, Any]]]) -> str:
    return "".join(d["delta"].get("text", "") for name, d in stream if name == "content_block_delta")


def test_a_silent_bedrock_stream_gets_pings_between_its_events() -> None:
    """During the upstream's silence the client gets ping events, each between two whole events; the stream ends."""
    with bedrock_gateway([]) as gw:
        plain = events(gw.base_url)
    with bedrock_gateway([PAUSE], ping_interval=0.2) as gw:
        paused = events(gw.base_url)
    names = [name for name, _ in paused]
    deltas = [i for i, name in enumerate(names) if name == "content_block_delta"]
    gap = names[deltas[1] + 1 : deltas[2]]  # what came between the second and third deltas: the silence
    assert set(gap) == {"ping"} and 2 <= len(gap) <= 8  # at most one per 0.2 s of the 1.5 s
    assert names.count("ping") == len(gap)  # Bedrock has none of its own: only the silence's
    assert names[-1] == "message_stop" and text(paused) == text(plain)
    assert "ping" not in [name for name, _ in plain]  # a stream that never falls silent gets none


def test_pings_are_off_at_zero_and_counted_in_the_call_record(tmp_path: Path) -> None:
    """ping_interval = 0 writes none; otherwise the access log's line says how many the gateway wrote."""
    with bedrock_gateway([PAUSE], ping_interval=0) as gw:
        assert "ping" not in [name for name, _ in events(gw.base_url)]
    log = tmp_path / "access.log"
    with bedrock_gateway([PAUSE], ping_interval=0.2, access_log=str(log)) as gw:
        sent = [name for name, _ in events(gw.base_url)].count("ping")
    line = json.loads(log.read_text().splitlines()[-1])
    assert line["status"] == 200 and line["pings"] == sent >= 1


def test_a_native_stream_keeps_only_its_own_pings() -> None:
    """The Anthropic API's stream carries its own pings: a silence in it is passed on as it is, nothing added."""
    with run_sim(seed=0) as sim, run_gateway(sim.base_url) as gw:
        plain = [name for name, _ in events(gw.base_url)].count("ping")
    with run_sim(seed=0, faults=[PAUSE]) as sim, run_gateway(sim.base_url, ping_interval=0.2) as gw:
        paused = events(gw.base_url)
    assert [name for name, _ in paused].count("ping") == plain == 1
    assert paused[-1][0] == "message_stop"


def test_pings_do_not_keep_a_dead_upstream_alive() -> None:
    """Silence past idle_timeout still ends the stream with an error event, pings notwithstanding."""
    with bedrock_gateway(["pause:1.0,after=2,seconds=5"], ping_interval=0.1, idle_timeout=0.8) as gw:
        stream = events(gw.base_url)
    names = [name for name, _ in stream]
    assert names[-1] == "error" and "message_stop" not in names
    assert "stream idle timeout" in stream[-1][1]["error"]["message"]
    assert 1 <= names.count("ping") <= 8  # at most one a tenth of a second until the 0.8 s ran out
