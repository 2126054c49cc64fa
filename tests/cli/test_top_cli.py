"""`claudewire top`: driven in a real terminal (tmux) against a gateway under traffic; plain lines off a terminal."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import anthropic
import pytest

from claudewire.gateway import GatewayConfig, GatewayThread
from claudewire.testing import run_sim
from tests.conftest import SIM_KEY, SIM_MODEL
from tests.deploy.conftest import FAST, MSG, free_port

TOP = [sys.executable, "-m", "claudewire", "top"]


@pytest.fixture
def busy_gateway() -> Iterator[str]:
    """The /metrics URL of a gateway before a simulator overloading 20% of calls, with a client calling it nonstop."""
    stop = threading.Event()
    with run_sim(seed=11, faults=["529:0.2"]) as sim:
        config = GatewayConfig(upstream=sim.base_url, port=0, access_log=None, policy=FAST)
        with GatewayThread(config) as gateway:
            client = anthropic.Anthropic(base_url=gateway.base_url, api_key=SIM_KEY, max_retries=0)

            def traffic() -> None:
                while not stop.is_set():
                    with contextlib.suppress(anthropic.APIError):
                        client.messages.create(model=SIM_MODEL, max_tokens=16, messages=MSG)
                    stop.wait(0.02)

            thread = threading.Thread(target=traffic, daemon=True)
            thread.start()
            try:
                yield gateway.base_url + "/metrics"
            finally:
                stop.set()
                thread.join(10)


class Tmux:
    """A private tmux server (its own socket) with one 150x50 session running a command; torn down after the test."""

    def __init__(self, socket: Path) -> None:
        binary = shutil.which("tmux")
        assert binary, "tmux is not installed (scripts/apt-packages.txt)"
        self.base = [binary, "-S", str(socket)]
        self.env = {**os.environ, "TERM": "xterm-256color"}

    def run(self, *args: str) -> str:
        done = subprocess.run([*self.base, *args], capture_output=True, text=True, env=self.env, timeout=10)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def start(self, command: list[str], size: tuple[int, int] = (150, 50)) -> None:
        """Run `command` in a shell that prints its exit status and the terminal's mode after it, then lingers."""
        line = " ".join(command) + '; echo "top exited $?"; stty -a | grep -o -- "-*icanon"; sleep 60'
        self.run("new-session", "-d", "-s", "top", "-x", str(size[0]), "-y", str(size[1]), line)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "top")

    def wait_for(self, ready: Callable[[str], bool], timeout: float = 30.0) -> str:
        """Capture the pane every 0.2 s until `ready(screen)` (bounded); the screen."""
        deadline = time.monotonic() + timeout
        screen = self.screen()
        while not ready(screen):
            assert time.monotonic() < deadline, f"the screen never got there:\n{screen}"
            time.sleep(0.2)
            screen = self.screen()
        return screen

    def kill(self) -> None:
        subprocess.run([*self.base, "kill-server"], capture_output=True, env=self.env, timeout=10, check=False)


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    """A private tmux server for one test."""
    server = Tmux(tmp_path / "tmux.sock")
    try:
        yield server
    finally:
        server.kill()


def _live_figures(screen: str) -> bool:
    """The view shows a nonzero request rate, the model's tokens/min and a closed or tripped breaker."""
    rate = re.search(r"requests/s\s+([\d,.]+)", screen)
    return bool(rate) and float(rate.group(1).replace(",", "")) > 0 and "claude-haiku-4-5" in screen  # type: ignore[union-attr]


def test_live_view_in_a_terminal_quits_on_q(busy_gateway: str, tmux: Tmux) -> None:
    """In tmux, top shows live figures (requests/s > 0, errors by kind, p50/p99, breaker, tokens) and quits on q."""
    tmux.start([*TOP, "--url", busy_gateway, "--interval", "0.5", "--window", "5"])
    screen = tmux.wait_for(lambda s: _live_figures(s) and "overloaded" in s)  # the retries the 529s caused
    assert "q to quit" in screen
    assert re.search(r"Retries by reason.*\n.*\n.*\s+overloaded\s+[\d.]+\s+\d+", screen), screen
    assert re.search(r"latency p50 / p99\s+[\d.]+m?s / [\d.]+m?s", screen), screen
    assert re.search(r"127-0-0-1-\d+#0\s+(closed|half-open|open)", screen), screen  # the upstream name#key
    assert "requests" in screen  # the rate-limit family the simulator reports

    first = re.search(r"requests \(total\)\s+(\d+)", screen)
    assert first is not None
    later = tmux.wait_for(
        lambda s: (m := re.search(r"requests \(total\)\s+(\d+)", s)) is not None and m.group(1) != first.group(1)
    )
    assert "Tokens/min by model" in later  # it redraws with new figures

    tmux.run("send-keys", "-t", "top", "q")
    after = tmux.wait_for(lambda s: "icanon" in s)
    assert "top exited 0" in after
    assert "Traceback" not in after
    assert "-icanon" not in after  # the terminal is back in line mode


def test_the_live_view_fits_an_80_by_24_terminal(busy_gateway: str, tmux: Tmux) -> None:
    """In an 80x24 tmux pane the whole view is on screen: header, traffic, cache hit, and the token table's rows."""
    tmux.start([*TOP, "--url", busy_gateway, "--interval", "0.5", "--window", "5"], size=(80, 24))
    screen = tmux.wait_for(lambda s: _live_figures(s) and re.search(r"\n" + SIM_MODEL + r"\S*\s+[\d,]+", s) is not None)
    assert screen.splitlines()[0].startswith("claudewire top")
    assert "prompt cache hit" in screen and "cache hit" in screen.split("Tokens/min by model")[1]
    tmux.run("send-keys", "-t", "top", "q")


def test_ctrl_c_exits_cleanly(busy_gateway: str, tmux: Tmux) -> None:
    """Ctrl-C leaves top with status 0 and no traceback, the terminal restored."""
    tmux.start([*TOP, "--url", busy_gateway, "--interval", "0.5"])
    tmux.wait_for(lambda s: "q to quit" in s)
    tmux.run("send-keys", "-t", "top", "C-c")
    after = tmux.wait_for(lambda s: "icanon" in s)
    assert "top exited 0" in after
    assert "Traceback" not in after
    assert "-icanon" not in after


def test_sigterm_exits_cleanly(busy_gateway: str, tmux: Tmux) -> None:
    """SIGTERM to top (a service manager stopping it) exits 0 with the terminal restored, like Ctrl-C."""
    tmux.start([*TOP, "--url", busy_gateway, "--interval", "0.5"])
    tmux.wait_for(lambda s: "q to quit" in s)
    shell = tmux.run("list-panes", "-t", "top", "-F", "#{pane_pid}").strip()
    children = subprocess.run(["pgrep", "-P", shell], capture_output=True, text=True, timeout=10).stdout.split()
    assert len(children) == 1, children
    os.kill(int(children[0]), signal.SIGTERM)
    after = tmux.wait_for(lambda s: "icanon" in s)
    assert "top exited 0" in after
    assert "Traceback" not in after
    assert "-icanon" not in after


def test_a_gateway_that_goes_away_is_reported_and_top_keeps_running(tmux: Tmux) -> None:
    """When the gateway stops mid-run, the view says the scrape failed and why, and q still quits cleanly."""
    with run_sim(seed=0) as sim:
        gateway = GatewayThread(GatewayConfig(upstream=sim.base_url, port=0, access_log=None, policy=FAST)).start()
        try:
            tmux.start([*TOP, "--url", gateway.base_url + "/metrics", "--interval", "0.3"])
            tmux.wait_for(lambda s: "q to quit" in s and "closed" in s)
        finally:
            gateway.stop()
    screen = tmux.wait_for(lambda s: "scrape failed" in s)
    assert "cannot reach" in screen and "refused" in screen
    tmux.run("send-keys", "-t", "top", "q")
    after = tmux.wait_for(lambda s: "icanon" in s)
    assert "top exited 0" in after


def test_plain_lines_when_stdout_is_not_a_terminal(busy_gateway: str) -> None:
    """Piped, --once prints one key=value line with the live figures and exits 0."""
    done = subprocess.run(
        [*TOP, "--url", busy_gateway, "--interval", "0.5", "--once"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1
    fields = dict(field.split("=", 1) for field in lines[0].split()[1:])
    assert float(fields["req/s"]) > 0
    assert fields["breaker"].endswith((":closed", ":open", ":half-open"))
    assert fields["p99"].endswith("s")
    assert int(float(fields["requests"])) > 0


def test_plain_lines_repeat_each_interval(busy_gateway: str) -> None:
    """Piped without --once, a new line comes every interval until the process is stopped."""
    process = subprocess.Popen([*TOP, "--url", busy_gateway, "--interval", "0.2"], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(3)]
    finally:
        process.terminate()
        process.wait(10)
    assert all(line.split()[1].startswith("req/s=") for line in lines)


def test_unreachable_url_is_a_clear_error() -> None:
    """Nothing listening: a one-line cause and hint on stderr, exit status 1, no traceback."""
    url = f"http://127.0.0.1:{free_port()}/metrics"
    done = subprocess.run([*TOP, "--url", url, "--once"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert f"cannot reach {url}" in done.stderr
    assert "refused" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_a_page_that_is_not_claudewire_metrics_is_refused(sim: object) -> None:
    """A URL answering something else (here the simulator, 401) is refused with the status, exit status 1."""
    url = f"{sim.base_url}/v1/models"  # type: ignore[attr-defined]
    done = subprocess.run([*TOP, "--url", url, "--once"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "answered HTTP 401" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_gateway_in_tokens_mode_is_watched_with_a_token() -> None:
    """Tokens mode: without --token top says to pass one (exit 1); with --token it prints the figures."""
    token = "gw-top-token-0123"
    with run_sim(seed=0) as sim:
        config = GatewayConfig(upstream=sim.base_url, port=0, access_log=None, tokens=(token,), upstream_key=SIM_KEY)
        with GatewayThread(config) as gateway:
            url = gateway.base_url + "/metrics"
            refused = subprocess.run([*TOP, "--url", url, "--once"], capture_output=True, text=True, timeout=60)
            wrong = subprocess.run(
                [*TOP, "--url", url, "--once", "--token", "not-it"], capture_output=True, text=True, timeout=60
            )
            env = {**os.environ, "CLAUDEWIRE_TOKEN": token}
            watched = subprocess.run(
                [*TOP, "--url", url, "--interval", "0.2", "--once"], capture_output=True, text=True, timeout=60, env=env
            )
    assert refused.returncode == 1 and "needs a gateway token" in refused.stderr and "--token" in refused.stderr
    assert wrong.returncode == 1 and "the token was refused" in wrong.stderr
    assert watched.returncode == 0, watched.stderr
    assert watched.stdout.split()[1].startswith("req/s=")
    assert token not in refused.stderr + wrong.stderr + watched.stdout + watched.stderr
