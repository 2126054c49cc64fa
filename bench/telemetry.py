"""OTLP export's cost on the gateway: claudewire proxy without vs with --otlp, side by side in one run, under wrk.

    python bench/telemetry.py                # 5 s per load, 3 rounds, medians; writes docs/benchmarks.md
    python bench/telemetry.py --quick        # 2 s, 1 round; prints only

The rig is bench/gateway.py's (the simulator and wrk on core 0, the gateway alone on core 1). The OTLP receiver is
a small HTTP server on core 0 that answers every POST with 200; metrics are exported every second
(OTEL_METRIC_EXPORT_INTERVAL=1000) and spans with the SDK's batch defaults (queue 2048, batch 512, every 5 s), so
the run pays for building, batching and sending every span and data point. A third gateway exports the same
metrics but samples traces at 10% (OTEL_TRACES_SAMPLER=parentbased_traceidratio, OTEL_TRACES_SAMPLER_ARG=0.1),
the SDK's own knob for what spans cost.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gateway as rig  # bench/gateway.py: spawn, measure, Target, write_block

START, END = "<!-- bench/telemetry.py:start -->", "<!-- bench/telemetry.py:end -->"


def serve_sink(port: int) -> None:
    """An OTLP/HTTP sink: 200 and an empty body for every POST."""

    class Sink(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Sink).serve_forever()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run")
    ap.add_argument("--rounds", type=int, default=3, help="rounds (medians are reported)")
    ap.add_argument("--quick", action="store_true", help="2 s, 1 round, nothing written")
    ap.add_argument("--serve-sink", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_sink:
        serve_sink(args.serve_sink)
        return
    if args.quick:
        args.duration, args.rounds = 2.0, 1
    with tempfile.TemporaryDirectory(prefix="cw-otel-bench-") as tmpdir, contextlib.ExitStack() as stack:
        tmp = Path(tmpdir)
        sim_port, sink_port = rig.free_port(), rig.free_port()
        stack.enter_context(rig.spawn(
            [sys.executable, "-m", "claudewire", "sim", "--port", str(sim_port), "--pacing", "off",
             "--rpm", "1000000000", "--tpm", "1000000000000"], sim_port, "0"))  # fmt: skip
        stack.enter_context(rig.spawn([sys.executable, __file__, "--serve-sink", str(sink_port)], sink_port, "0"))
        targets = []
        otlp = ["--otlp", f"http://127.0.0.1:{sink_port}"]
        sampled = {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"}
        for name, extra, env in (("OTLP off", [], {}), ("OTLP on", otlp, {}), ("OTLP on, traces 10%", otlp, sampled)):
            port = rig.free_port()
            proc = stack.enter_context(rig.spawn(
                [sys.executable, "-m", "claudewire", "proxy", "--port", str(port),
                 "--upstream", f"http://127.0.0.1:{sim_port}", "--access-log", str(tmp / f"{port}.log"), *extra],
                port, "1", env={"OTEL_METRIC_EXPORT_INTERVAL": "1000", **env}))  # fmt: skip
            targets.append(rig.Target(f"claudewire, {name}", f"http://127.0.0.1:{port}", proc))
        results = rig.measure(targets, tmp, args.rounds, args.duration)
    lines = rig.ab_table(results, targets[:2], ("off", "on"))
    lines += ["", *rig.ab_table(results, [targets[0], targets[2]], ("off", "on, traces 10%"))]
    table = "\n".join(lines)
    print(table)
    if args.quick:
        return
    about = (
        ", the three gateways measured in turn in each round. All with policy, Prometheus metrics and the JSON "
        "access log on; 'on' adds OTLP/HTTP export (a span per request and per attempt, GenAI histograms, metrics "
        "every second) to a local sink; 'on, traces 10%' the same with OTEL_TRACES_SAMPLER=parentbased_traceidratio "
        "and OTEL_TRACES_SAMPLER_ARG=0.1. Only the ratio within a row means much."
    )
    rig.record((START, END), "### OTLP export's cost (bench/telemetry.py)", rig.command("telemetry.py", args), args,
               about, table)  # fmt: skip


if __name__ == "__main__":
    main()
