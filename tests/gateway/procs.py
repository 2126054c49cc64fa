"""`claudewire proxy` as a real subprocess (several of them share one Redis in the scale-out tests)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx2

from tests.redis_server import free_port


class GatewayProcess:
    """`claudewire proxy --config CONFIG` on 127.0.0.1 and a free port; waits until every worker answers."""

    def __init__(self, config: Path, *, workers: int = 1, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.workers = workers
        self.config = config
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[str] | None = None
        self.banner = ""

    @property
    def base_url(self) -> str:
        """Where clients send requests."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> GatewayProcess:
        """Start it; returns once `workers` different processes have answered /healthz (bounded)."""
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "claudewire", "proxy", "--config", str(self.config), "--port", str(self.port),
             "--workers", str(self.workers), "--access-log", "off"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
        )  # fmt: skip
        assert self.proc.stdout is not None
        for _ in range(20):  # the banner ends with the metrics line
            line = self.proc.stdout.readline()
            self.banner += line
            if not line or "metrics:" in line:
                break
        pids: set[str] = set()
        deadline = time.monotonic() + 30
        while len(pids) < self.workers and time.monotonic() < deadline:
            try:
                with httpx2.Client() as fresh:  # a new connection each time: the kernel picks a worker
                    pids.add(fresh.get(self.base_url + "/healthz").headers["x-claudewire-worker"])
            except httpx2.ConnectError:
                time.sleep(0.05)
        assert len(pids) == self.workers, f"only {len(pids)} of {self.workers} workers answered"
        return self

    def metric(self, name: str, *, token: str | None = None) -> float:
        """The value of an unlabelled metric on whichever worker answers /metrics (`token`: in tokens mode)."""
        text = httpx2.get(self.base_url + "/metrics", headers={"x-api-key": token} if token else None).text
        m = re.search(rf"^{name} (\S+)$", text, re.M)
        assert m, f"{name} not in /metrics"
        return float(m.group(1))

    def stop(self) -> str:
        """SIGTERM, wait (bounded); returns what it wrote on stderr."""
        if self.proc is None:
            return ""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
        try:
            _, err = self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate(timeout=10)
        return err

    def __enter__(self) -> GatewayProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
