"""Failover with real processes: `claudewire sim` processes as upstreams (one killed and restarted under load),
the official Python SDK (plain calls and streams) at concurrency 16 and Claude Code's CLI as clients."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import pytest

from claudewire.gateway import GatewayConfig, GatewayThread
from claudewire.gateway.upstream.specs import UpstreamSpec
from claudewire.policy import Policy, RetryBudget
from claudewire.sim import Pacing
from claudewire.testing import run_sim
from tests.conftest import SIM_KEY, SIM_MODEL
from tests.gateway.test_failover import _samples, _value
from tests.gateway.test_real_clients import CLAUDE, needs_node

MESSAGES: list[Any] = [{"role": "user", "content": "hello"}]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def sim_process(port: int, *args: str) -> Iterator[subprocess.Popen[str]]:
    """`claudewire sim` on 127.0.0.1:`port` as its own process, until the block ends (or the test kills it)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "claudewire", "sim", "--port", str(port), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                raise AssertionError(f"sim exited early: {proc.stderr.read() if proc.stderr else ''}")
            if line.startswith("Press Ctrl-C"):
                break
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate(timeout=5)


def _until(done: Callable[[], bool], seconds: float = 60.0) -> None:
    """Wait (bounded) until `done()` is true."""
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, "the load did not progress"
        time.sleep(0.01)


def _served(proc: subprocess.Popen[str]) -> int:
    """How many requests a sim process answered (its last line on SIGINT)."""
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=15)
    found = re.search(r"stopped after (\d+) request", out)
    assert found is not None, out
    return int(found.group(1))


@dataclass(slots=True)
class _Call:
    """What one call of the kill test ended as: streamed or not, whether a first event arrived, the error if any."""

    stream: bool
    started: bool = False
    error: BaseException | None = None


def _streamed(client: anthropic.Anthropic, call: _Call, max_tokens: int) -> None:
    """One stream through the official SDK's `messages.stream`, marking the call started at its first event."""
    with client.messages.stream(model=SIM_MODEL, max_tokens=max_tokens, messages=MESSAGES) as stream:
        for _ in stream:
            call.started = True
        final = stream.get_final_message()
    assert final.stop_reason in ("max_tokens", "end_turn"), final


@pytest.mark.timeout(240)
def test_primary_killed_mid_load_loses_no_call_and_is_used_again_once_back() -> None:
    """500 SDK calls at concurrency 16, a third of them streams, the primary SIGKILLed after ~150 and restarted
    after ~300: every plain call and every stream without a first event at the kill succeeds from the backup; only
    streams already flowing may fail (at most the 16 in flight); the restarted primary serves again (half-open probe).
    """
    primary_port, backup_port = _free_port(), _free_port()
    policy = Policy(breaker_cooldown=0.5, retry_budget=RetryBudget(min_retries=10_000))
    # streams last 16 deltas at 20 ms: some are mid-flow when the primary dies
    pacing = ("--ttft", "0.005", "--per-token", "0.02")
    done = 0
    calls = [_Call(stream=i % 3 == 0) for i in range(500)]
    with sim_process(backup_port, *pacing) as backup, sim_process(primary_port, *pacing) as first:
        specs = (
            UpstreamSpec("primary", f"http://127.0.0.1:{primary_port}"),
            UpstreamSpec("backup", f"http://127.0.0.1:{backup_port}", priority=1),
        )
        config = GatewayConfig(upstreams=specs, port=0, policy=policy, access_log=None)
        with GatewayThread(config) as gw:
            client = anthropic.Anthropic(base_url=gw.base_url, api_key=SIM_KEY, max_retries=0, timeout=60)

            def one(call: _Call) -> None:
                nonlocal done
                try:
                    if call.stream:
                        _streamed(client, call, 16)
                    else:
                        client.messages.create(model=SIM_MODEL, max_tokens=8, messages=MESSAGES)
                except AssertionError:
                    raise  # a stream that ended wrong is a failed test, not an allowed cut
                except Exception as exc:  # counted, not raised: the assertions below say which may fail
                    call.error = exc
                done += 1

            with ThreadPoolExecutor(16) as pool:
                futures = [pool.submit(one, call) for call in calls]
                _until(lambda: done >= 150, 120)
                first.kill()  # SIGKILL: connections reset, nothing drained
                first.wait(5)
                _until(lambda: done >= 300, 120)
                with sim_process(primary_port, *pacing) as again:
                    deadline = time.monotonic() + 120
                    for f in futures:
                        f.result(timeout=max(1.0, deadline - time.monotonic()))
                    # traffic after the outage, plain and streamed: a few calls more, once the cooldown is surely over
                    time.sleep(0.6)
                    for i in range(21):
                        if i % 3 == 0:
                            _streamed(client, _Call(stream=True), 4)
                        else:
                            client.messages.create(model=SIM_MODEL, max_tokens=8, messages=MESSAGES)
                    samples = _samples(gw)
                    back = _served(again)
    failed = [c for c in calls if c.error is not None]
    unexpected = [f"stream={c.stream} started={c.started}: {c.error!r}" for c in failed if not c.started]
    # a plain call's answer is sent whole, so a plain call never counts as started: any failed one is listed here
    assert unexpected == [], "calls failed that had not received a first event"
    assert len(failed) <= 16, f"{len(failed)} failed: more than the calls in flight at the kill"
    assert back >= 1, "the restarted primary was never used again"
    moved = sum(
        _value(samples, "claudewire_upstream_failovers_total", reason=r, to="backup", **{"from": "primary"})
        for r in ("connect_refused", "connection_reset", "stream_interrupted", "circuit_open", "server")
    )
    assert moved >= 1
    assert _value(samples, "claudewire_upstream_requests_total", upstream="primary", status_class="2xx") >= 150
    assert _value(samples, "claudewire_upstream_requests_total", upstream="backup", status_class="2xx") >= 1
    assert _served(backup) >= 1


@needs_node
@pytest.mark.skipif(not CLAUDE.exists(), reason="tests/js/node_modules lacks @anthropic-ai/claude-code")
def test_claude_code_never_sees_the_primarys_529s(tmp_path: Path) -> None:
    """`claude -p` through a gateway whose primary answers 529 to everything gets its answer from the backup."""
    primary_port, backup_port = _free_port(), _free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "ANTHROPIC_API_KEY": "sk-ant-sim-claude-code-0123456789",
        "ANTHROPIC_MODEL": SIM_MODEL,
        "ANTHROPIC_SMALL_FAST_MODEL": SIM_MODEL,
        "DISABLE_TELEMETRY": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
    }
    with sim_process(primary_port, "--fault", "529:1.0"), sim_process(backup_port):
        specs = (
            UpstreamSpec("primary", f"http://127.0.0.1:{primary_port}"),
            UpstreamSpec("backup", f"http://127.0.0.1:{backup_port}", priority=1),
        )
        config = GatewayConfig(upstreams=specs, port=0, access_log=None)
        with GatewayThread(config) as gw:
            env["ANTHROPIC_BASE_URL"] = gw.base_url
            result = subprocess.run(
                [str(CLAUDE), "-p", "hello"], capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path
            )
            samples = _samples(gw)
            ready = httpx2.get(gw.base_url + "/readyz").json()
    assert result.returncode == 0, result.stderr + result.stdout
    assert "claudewire simulator" in result.stdout
    assert "529" not in result.stdout + result.stderr and "verloaded" not in result.stdout
    assert (
        _value(samples, "claudewire_upstream_failovers_total", reason="overloaded", to="backup", **{"from": "primary"})
        >= 1
    )
    assert _value(samples, "claudewire_upstream_requests_total", upstream="backup", status_class="2xx") >= 1
    assert ready["status"] == "ready"


@needs_node
@pytest.mark.skipif(not CLAUDE.exists(), reason="tests/js/node_modules lacks @anthropic-ai/claude-code")
def test_claude_code_sessions_stick_to_one_upstream_and_move_when_it_fails(tmp_path: Path) -> None:
    """One Claude Code session (its X-Claude-Code-Session-Id, kept by --resume) stays on one of two equal upstreams;
    when that one answers 529 the session moves, unseen by the CLI, and stays where its cache is now warm."""
    session = str(uuid.uuid4())
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "ANTHROPIC_API_KEY": "sk-ant-sim-claude-code-0123456789",
        "ANTHROPIC_MODEL": SIM_MODEL,
        "ANTHROPIC_SMALL_FAST_MODEL": SIM_MODEL,
        "DISABLE_TELEMETRY": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
    }
    with run_sim(seed=0, pacing=Pacing()) as a, run_sim(seed=0, pacing=Pacing()) as b:
        specs = (UpstreamSpec("a", a.base_url), UpstreamSpec("b", b.base_url))
        with GatewayThread(GatewayConfig(upstreams=specs, port=0, access_log=None)) as gw:
            env["ANTHROPIC_BASE_URL"] = gw.base_url

            def claude(*args: str) -> None:
                result = subprocess.run(
                    [str(CLAUDE), *args], capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path
                )
                assert result.returncode == 0, result.stderr + result.stdout
                assert "claudewire simulator" in result.stdout

            claude("--session-id", session, "-p", "hello")
            claude("--resume", session, "-p", "again")
            claude("--resume", session, "-p", "and again")
            counts = (a.stats.total, b.stats.total)
            assert min(counts) == 0 and max(counts) >= 3, counts
            home, away = (a, b) if counts[0] else (b, a)
            home.set_faults(["529:1.0"])
            claude("--resume", session, "-p", "while it is overloaded")
            home.set_faults([])
            before = home.stats.total
            claude("--resume", session, "-p", "after it recovered")
            samples = _samples(gw)
    assert home.stats.total == before  # the session stayed where it moved
    assert away.stats.total >= 2
    assert _value(samples, "claudewire_affinity_total", outcome="break", reason="failed") == 1
    assert _value(samples, "claudewire_affinity_total", outcome="hit", reason="none") >= 3
