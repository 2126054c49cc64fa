"""`claudewire proxy`'s start banner, read from a real start: base URL per client, each upstream's kind, where
metrics and OTLP export go."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from claudewire.cli.banner import otlp_line
from claudewire.gateway import GatewayConfig
from claudewire.testing import run_sim
from tests.redis_server import free_port


def _banner(args: list[str], env: dict[str, str] | None = None) -> str:
    """The banner of `claudewire proxy ARGS` (up to its metrics line, which ends it); the process is stopped."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "claudewire", "proxy", "--access-log", "off", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    banner = ""
    try:
        assert proc.stdout is not None
        for _ in range(30):
            line = proc.stdout.readline()
            banner += line
            if not line or "  metrics: " in line:
                break
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    assert "  metrics: " in banner, banner + err
    return banner


def test_the_banner_names_base_urls_upstream_kinds_and_exports(tmp_path: Path) -> None:
    """A Bedrock upstream shows as `bedrock (us-east-1)` (its region from the host), the Anthropic one as its URL;
    the base URL per client, OTLP's endpoint and protocol, and the separate metrics listener are named."""
    port, metrics_port, collector = free_port(), free_port(), free_port()
    bedrock = "https://bedrock-runtime.us-east-1.amazonaws.com"
    with run_sim(seed=0) as sim:
        config = tmp_path / "gateway.toml"
        config.write_text(
            f'[[upstreams]]\nname = "primary"\nurl = "{sim.base_url}"\n\n'
            f'[[upstreams]]\nname = "aws"\nkind = "bedrock"\nurl = "{bedrock}"\npriority = 1\n'
        )
        banner = _banner(
            ["--config", str(config), "--port", str(port), "--metrics-port", str(metrics_port),
             "--otlp", f"http://127.0.0.1:{collector}"],
            env={"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "not-a-real-secret", "AWS_REGION": ""},
        )  # fmt: skip
    root = f"http://127.0.0.1:{port}"
    lines = banner.splitlines()
    assert lines[1] == f"  export ANTHROPIC_BASE_URL={root}"
    assert (
        lines[2].startswith(f"  base URL by client: {root}  ") and "Claude Code" in lines[2] and "LiteLLM" in lines[2]
    )
    assert lines[3].strip().startswith(f"{root}/v1 ") and "Vercel AI SDK" in lines[3]
    assert f"  primary: {sim.base_url}, the client's own credentials are forwarded" in lines
    assert f"  aws: bedrock (us-east-1) at {bedrock}, the cloud's own credential chain" in lines
    assert f"  OTLP export: on, GenAI metrics and traces to http://127.0.0.1:{collector} (http/protobuf)" in lines
    assert lines[-1].startswith(f"  metrics: http://127.0.0.1:{metrics_port}/metrics (Prometheus)   health: ")


def test_the_banner_says_otlp_is_off_and_what_a_scrape_covers_with_workers() -> None:
    """Without --otlp or OTEL_* the banner says export is off and how to turn it on; with --workers 2 the metrics
    line says each scrape covers both workers."""
    port = free_port()
    clean = {k: "" for k in os.environ if k.startswith("OTEL_")}
    with run_sim(seed=0) as sim:
        banner = _banner(["--upstream", sim.base_url, "--port", str(port), "--workers", "2"], env=clean)
    assert "  OTLP export: off (--otlp URL or OTEL_EXPORTER_OTLP_ENDPOINT turns it on)\n" in banner
    assert (
        f"  metrics: http://127.0.0.1:{port}/metrics (Prometheus; every one of the 2 workers in each scrape)" in banner
    )


def test_otlp_from_the_environment_names_each_signals_endpoint() -> None:
    """Per-signal OTEL_* endpoints are shown apart, the protocol as set, credentials in a URL redacted."""
    config = GatewayConfig(upstream="https://api.anthropic.com")
    env = {
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://user:secret@traces.example:4318/v1/traces",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://metrics.example:4318/v1/metrics",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
    }
    line = otlp_line(config, env)
    assert line == (
        "  OTLP export: on, traces to https://user:***@traces.example:4318/v1/traces, "
        "GenAI metrics to http://metrics.example:4318/v1/metrics (grpc)"
    )
    assert "secret" not in line
