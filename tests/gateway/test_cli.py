"""The `claudewire proxy` command: banner with the export line, --workers, safe binding, clean shutdown."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import anthropic
import httpx2

from claudewire.testing import run_sim
from tests.conftest import SIM_KEY, SIM_MODEL


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_proxy_prints_the_export_line_serves_and_stops_cleanly_on_sigint() -> None:
    """`claudewire proxy` prints `export ANTHROPIC_BASE_URL=...`, proxies an SDK call, logs it, exits 0 on SIGINT."""
    port = _free_port()
    with run_sim(seed=0) as sim:
        proc = subprocess.Popen(
            [sys.executable, "-m", "claudewire", "proxy", "--port", str(port), "--upstream", sim.base_url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            banner = proc.stdout.readline() + proc.stdout.readline()
            assert f"export ANTHROPIC_BASE_URL=http://127.0.0.1:{port}" in banner
            client = anthropic.Anthropic(base_url=f"http://127.0.0.1:{port}", api_key=SIM_KEY, max_retries=0)
            assert client.messages.create(model=SIM_MODEL, max_tokens=8, messages=[{"role": "user", "content": "hi"}])
        finally:
            proc.send_signal(signal.SIGINT)
            rest, err = proc.communicate(timeout=15)
    assert proc.returncode == 0
    assert rest.strip().endswith("claudewire proxy stopped.")
    assert '"route":"messages"' in err and '"status":200' in err  # the access line was flushed on the way out
    assert SIM_KEY not in err


def test_non_loopback_bind_without_tokens_is_refused_with_a_clear_message() -> None:
    """Binding 0.0.0.0 with neither tokens nor --allow-open exits non-zero and says how to fix it."""
    result = subprocess.run(
        [sys.executable, "-m", "claudewire", "proxy", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "--allow-open" in result.stderr and "tokens" in result.stderr


def test_bad_config_file_is_a_usage_error(tmp_path: Path) -> None:
    """A config file with an unknown setting exits non-zero naming the setting."""
    config = tmp_path / "claudewire.toml"
    config.write_text("[proxy]\nprot = 1\n")
    result = subprocess.run(
        [sys.executable, "-m", "claudewire", "proxy", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "prot" in result.stderr


def test_workers_option_shares_one_port_between_processes(tmp_path: Path) -> None:
    """`claudewire proxy --workers 2` starts two processes that both answer on the one port (SO_REUSEPORT)."""
    port = _free_port()
    with run_sim(seed=0) as sim:
        proc = subprocess.Popen(
            [sys.executable, "-m", "claudewire", "proxy", "--port", str(port), "--upstream", sim.base_url,
             "--workers", "2", "--access-log", "off"],
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        try:
            assert proc.stdout is not None
            banner = proc.stdout.readline() + proc.stdout.readline()
            assert f"export ANTHROPIC_BASE_URL=http://127.0.0.1:{port}" in banner
            pids: set[str] = set()
            deadline = time.monotonic() + 20
            while len(pids) < 2 and time.monotonic() < deadline:
                try:
                    with httpx2.Client() as fresh:  # a new connection each time: the kernel picks a worker
                        pids.add(fresh.get(f"http://127.0.0.1:{port}/readyz").headers.get("x-claudewire-worker", ""))
                except httpx2.ConnectError:
                    time.sleep(0.05)
            assert len(pids) == 2 and "" not in pids
        finally:
            os.kill(proc.pid, signal.SIGTERM)
            assert proc.wait(15) == 0


def test_sigterm_lets_a_stream_in_flight_finish() -> None:
    """On SIGTERM the gateway stops accepting but lets a stream already flowing reach message_stop, then exits 0."""
    from claudewire.sim import Pacing

    port = _free_port()
    with run_sim(seed=0, pacing=Pacing(ttft=0.0, per_token=0.05)) as sim:
        proc = subprocess.Popen(
            [sys.executable, "-m", "claudewire", "proxy", "--port", str(port), "--upstream", sim.base_url,
             "--access-log", "off"],
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        try:
            assert proc.stdout is not None
            proc.stdout.readline()
            client = anthropic.Anthropic(base_url=f"http://127.0.0.1:{port}", api_key=SIM_KEY, max_retries=0)
            with client.messages.stream(
                model=SIM_MODEL, max_tokens=16, messages=[{"role": "user", "content": "hi"}]
            ) as stream:
                kinds = [next(iter(stream)).type]
                os.kill(proc.pid, signal.SIGTERM)
                kinds += [event.type for event in stream]
        finally:
            code = proc.wait(15)
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert code == 0


def test_first_byte_timeout_flag_bounds_a_stream_whose_head_never_comes(tmp_path: Path) -> None:
    """`--first-byte-timeout` reaches the gateway: a stalled stream is answered 504 no_response after one attempt."""
    config = tmp_path / "claudewire.toml"
    config.write_text("[policy]\nmax_retries = 0\n")
    port = _free_port()
    with run_sim(seed=0, faults=["stall:1.0,seconds=20"]) as sim:
        proc = subprocess.Popen(
            [sys.executable, "-m", "claudewire", "proxy", "--port", str(port), "--upstream", sim.base_url,
             "--config", str(config), "--first-byte-timeout", "0.5", "--access-log", "off"],
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        try:
            assert proc.stdout is not None
            proc.stdout.readline()
            # the SDK would give up at 10 s by itself: a 504 from the gateway proves the 0.5 s bound was applied
            base = f"http://127.0.0.1:{port}"
            client = anthropic.Anthropic(base_url=base, api_key=SIM_KEY, max_retries=0, timeout=10)
            hello = [{"role": "user", "content": "hi"}]
            try:
                with client.messages.stream(model=SIM_MODEL, max_tokens=8, messages=hello):
                    raise AssertionError("a stalled upstream produced a stream")
            except anthropic.APIStatusError as exc:
                status, body = exc.status_code, str(exc.body)
            attempts = sim.stats.total
        finally:
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=15)
    assert status == 504 and "no answer came back in time" in body
    assert attempts == 1
