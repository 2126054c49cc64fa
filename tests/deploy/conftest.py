"""Fixtures for the deploy tests: a gateway in front of a faulty simulator, traffic for it, a real Prometheus."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anthropic
import pytest

from claudewire.gateway import GatewayConfig, GatewayThread
from claudewire.policy import Policy
from claudewire.sim import SimServer
from claudewire.testing import run_sim
from tests.conftest import SIM_KEY, SIM_MODEL

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
"""The repository's deploy/ directory."""

REVOKED_KEY = "sk-ant-revoked-0000000000"
"""A key the simulator below rejects with 401 (it only accepts SIM_KEY)."""

FAST = Policy(
    backoff_initial=0.001,
    backoff_max=0.005,
    max_retries=2,
    breaker_cooldown=2.0,
    breaker_probe_after=None,
    breaker_window=5,
    breaker_silence=0.0,
)
"""Millisecond backoff so retries cost no test time; two retries so calls give up under 529 storms; the seed's
breaker (window = the run, no silence: it opens after 5 failures in a row even right after successes) that stays
open a fixed 2 s (long enough for a 1 s scrape to see it)."""

MSG = [{"role": "user", "content": "hello"}]


@dataclass
class LiveGateway:
    """A gateway (in a thread) in front of a simulator that overloads now and then and knows one key."""

    sim: SimServer
    gateway: GatewayThread

    @property
    def base_url(self) -> str:
        """What clients use as base_url."""
        return self.gateway.base_url

    @property
    def metrics_url(self) -> str:
        """The gateway's /metrics."""
        return self.gateway.base_url + "/metrics"

    def wait_recovered(self, timeout: float = 15.0) -> None:
        """Send a call every 0.1 s (bounded) until one succeeds: the breaker's cooldown ended and its probe passed.

        (Not /readyz: it stays 503 from the cooldown's end until some request is sent as the probe.)
        """
        client = anthropic.Anthropic(base_url=self.base_url, api_key=SIM_KEY, max_retries=0)
        deadline = time.monotonic() + timeout
        while True:
            try:
                client.messages.create(model=SIM_MODEL, max_tokens=16, messages=MSG)
                return
            except anthropic.APIStatusError:
                assert time.monotonic() < deadline, "the gateway's breaker stayed open"
                time.sleep(0.1)

    def scrape(self) -> str:
        """The text of /metrics now."""
        with urllib.request.urlopen(self.metrics_url, timeout=5) as response:
            return str(response.read().decode())


def drive(base_url: str, *, calls: int = 24, revoked: int = 3) -> None:
    """Send `calls` messages (every third one streamed) with the good key and `revoked` with a rejected key.

    Failures the simulator injects are expected and swallowed; what matters is that the gateway counts them.
    """
    good = anthropic.Anthropic(base_url=base_url, api_key=SIM_KEY, max_retries=0)
    for i in range(calls):
        try:
            if i % 3 == 2:
                with good.messages.stream(model=SIM_MODEL, max_tokens=16, messages=MSG) as stream:
                    stream.until_done()
            else:
                good.messages.create(model=SIM_MODEL, max_tokens=16, messages=MSG)
        except anthropic.APIError:
            pass
    bad = anthropic.Anthropic(base_url=base_url, api_key=REVOKED_KEY, max_retries=0)
    for _ in range(revoked):
        with pytest.raises(anthropic.AuthenticationError):
            bad.messages.create(model=SIM_MODEL, max_tokens=16, messages=MSG)


@pytest.fixture
def live_gateway() -> Iterator[LiveGateway]:
    """A gateway before a simulator overloading 30% of calls, already driven with good and revoked keys."""
    with run_sim(seed=7, api_keys=(SIM_KEY,), faults=["529:0.3"]) as sim:
        config = GatewayConfig(upstream=sim.base_url, port=0, access_log=None, policy=FAST)
        with GatewayThread(config) as gateway:
            live = LiveGateway(sim, gateway)
            drive(live.base_url)
            yield live


def free_port() -> int:
    """A TCP port nothing listens on right now (127.0.0.1)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Prometheus:
    """A real Prometheus server on 127.0.0.1:<free port> with a temporary data dir, scraping `targets` every second."""

    def __init__(self, workdir: Path, targets: list[str], rule_files: list[Path]) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(p) for p in rule_files],
            "scrape_configs": [{"job_name": "claudewire", "static_configs": [{"targets": targets}]}],
        }
        self.config = workdir / "prometheus.yml"
        self.config.write_text(json.dumps(config))  # JSON is YAML
        self.log = workdir / "prometheus.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> Prometheus:
        """Start it and wait (bounded) until /-/ready answers."""
        binary = shutil.which("prometheus")
        assert binary, "prometheus is not installed (Debian package prometheus, see scripts/apt-packages.txt)"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    binary,
                    f"--config.file={self.config}",
                    f"--storage.tsdb.path={self.workdir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"prometheus exited {self.process.returncode}: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=2) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.2)
        raise AssertionError(f"prometheus not ready after {timeout}s: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        """Stop it (SIGTERM, then SIGKILL after 10 s)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def api(self, path: str, **params: str) -> Any:
        """GET /api/v1/<path>; the ``data`` of a success, AssertionError with Prometheus's error otherwise."""
        url = f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                body = json.load(response)
        except urllib.error.HTTPError as exc:
            body = json.load(exc)
        assert body.get("status") == "success", f"{path} {params}: {body.get('errorType')}: {body.get('error')}"
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant vector `expr` evaluates to now."""
        data = self.api("query", query=expr)
        result: list[dict[str, Any]] = data["result"] if data["resultType"] == "vector" else []
        return result

    def wait_for(self, expr: str, predicate: Any, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Poll `expr` until `predicate(result)` holds (bounded); the last result."""
        deadline = time.monotonic() + timeout
        result = self.query(expr)
        while not predicate(result):
            assert time.monotonic() < deadline, f"{expr} never satisfied the condition; last result {result}"
            time.sleep(0.5)
            result = self.query(expr)
        return result


@pytest.fixture
def prometheus_for(tmp_path: Path) -> Iterator[Any]:
    """A factory: `prometheus_for(targets, rule_files)` starts a real Prometheus, stopped after the test."""
    started: list[Prometheus] = []

    def start(targets: list[str], rule_files: list[Path] | None = None) -> Prometheus:
        server = Prometheus(tmp_path, targets, rule_files or [])
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


def exported_series(exposition: str) -> set[str]:
    """Every series name a scrape of `exposition` can give, declared families without samples included."""
    from prometheus_client.parser import text_string_to_metric_families

    suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum", "_created")}
    names: set[str] = set()
    for family in text_string_to_metric_families(exposition):
        names.update(family.name + suffix for suffix in suffixes.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return names


def referenced_metrics(promql: str) -> set[str]:
    """The claudewire_* metric names a PromQL expression reads (recording rules, with colons, excluded)."""
    return set(re.findall(r"\bclaudewire_[a-zA-Z0-9_]+\b(?!:)", promql))


def dashboard_queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, PromQL) of every target of every panel, rows' nested panels included."""
    out: list[tuple[str, str]] = []
    for panel in dashboard["panels"]:
        for inner in [panel, *panel.get("panels", [])]:
            out.extend((inner["title"], target["expr"]) for target in inner.get("targets", []))
    return out


def concrete(promql: str, rate_interval: str = "1m") -> str:
    """A dashboard query with Grafana's variables filled in as "All" would fill them."""
    return promql.replace("$__rate_interval", rate_interval).replace("$job", ".*").replace("$instance", ".*")
