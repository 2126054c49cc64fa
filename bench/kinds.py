"""What the cloud translators cost per request and per stream event, side by side with the gateway's own SSE scan.

    python bench/kinds.py            # 7 rounds, medians; writes docs/benchmarks.md
    python bench/kinds.py --quick    # 3 rounds, prints only

In-process and single-threaded (no sockets): the same 200-event stream (a ~600-token reply as the simulator frames
it) goes through the gateway's `StreamScanner` (what every SSE stream pays, any kind), through `EventStreamToSSE`
(Bedrock's event-stream → SSE), fed in 4 KiB reads, and through the framing decoders alone: botocore's
`EventStreamBuffer` and the lean `kinds/framing.py` the translator uses (chosen by this measurement). Then one
request each through the bedrock translator (body rewrite + SigV4 with botocore), the bedrock translator with an
API key (no signing) and the vertex translator (static token). On a shared, loaded machine only the ratios of one
run mean something.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from botocore.credentials import Credentials  # noqa: E402
from botocore.eventstream import EventStreamBuffer  # noqa: E402

from claudewire._sse import StreamScanner  # noqa: E402
from claudewire.gateway.upstream.kinds.bedrock import BedrockKind  # noqa: E402
from claudewire.gateway.upstream.kinds.eventstream import EventStreamToSSE  # noqa: E402
from claudewire.gateway.upstream.kinds.framing import MessageBuffer  # noqa: E402
from claudewire.gateway.upstream.kinds.vertex import VertexKind  # noqa: E402
from claudewire.gateway.upstream.pool import UpstreamTarget  # noqa: E402
from claudewire.sim.eventstream import sse_to_chunk  # noqa: E402
from claudewire.sim.shapes import build_reply, stream_events  # noqa: E402

START, END = "<!-- bench/kinds.py:start -->", "<!-- bench/kinds.py:end -->"
BODY = {"model": "claude-sonnet-4-6", "max_tokens": 1024, "messages": [{"role": "user", "content": "x" * 2000}]}
HEADERS = [
    (b"x-api-key", b"sk-ant-bench"),
    (b"anthropic-version", b"2023-06-01"),
    (b"anthropic-beta", b"interleaved-thinking-2025-05-14"),
]


def _events() -> list[bytes]:
    reply = build_reply({"max_tokens": 4096}, 196, 1)
    events, _ = stream_events("msg_bench", "claude-sonnet-4-6", reply, 500)
    return events


def _chunks(data: bytes, size: int = 4096) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def _time(fn: Callable[[], object], repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--quick", action="store_true", help="3 rounds, nothing written")
    args = ap.parse_args()
    rounds = 3 if args.quick else args.rounds
    events = _events()
    sse = _chunks(b"".join(events))
    frames = _chunks(b"".join(sse_to_chunk(e) for e in events))
    target = UpstreamTarget.parse("http://127.0.0.1:9")
    signed = BedrockKind("b", target, region="us-east-1", credentials=Credentials("AKIDBENCH", "secret"))
    keyed = BedrockKind("b", target, region="us-east-1", keys=("bedrock-api-key",))
    vertex = VertexKind("v", project="p", region="us-east5", keys=("ya29.bench",))
    body = json.dumps(BODY).encode()
    loop = asyncio.new_event_loop()

    def scan() -> None:
        scanner = StreamScanner()
        for chunk in sse:
            scanner.feed(chunk)

    def decode() -> None:
        translator = EventStreamToSSE(200, [])
        for chunk in frames:
            translator.feed(chunk)

    def botocore_frames() -> None:
        buffer = EventStreamBuffer()
        for chunk in frames:
            buffer.add_data(chunk)
            for _ in buffer:
                pass

    def lean_frames() -> None:
        buffer = MessageBuffer()
        for chunk in frames:
            buffer.add(chunk)

    def request(kind: object) -> Callable[[], object]:
        return lambda: loop.run_until_complete(kind.request(b"POST", b"/v1/messages", HEADERS, body, None))  # type: ignore[attr-defined]

    cases = {
        "SSE scan, 200 events (every kind)": (scan, 50),
        "event-stream → SSE, 200 events (bedrock)": (decode, 50),
        "  framing only: botocore EventStreamBuffer": (botocore_frames, 50),
        "  framing only: kinds/framing.py MessageBuffer": (lean_frames, 50),
        "request: bedrock, SigV4 signed": (request(signed), 500),
        "request: bedrock, API key": (request(keyed), 500),
        "request: vertex, static token": (request(vertex), 500),
    }
    results: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, (fn, repeat) in cases.items():
            results[name].append(_time(fn, repeat))
    medians = {name: statistics.median(values) for name, values in results.items()}
    base = medians["SSE scan, 200 events (every kind)"]
    rows = ["| what | median | per event | vs SSE scan |", "|---|---:|---:|---:|"]
    for name, value in medians.items():
        per_event = f"{value / len(events) * 1e6:.2f} µs" if "events" in name or "framing" in name else ""
        rows.append(f"| {name} | {value * 1e6:,.0f} µs | {per_event} | {value / base:.1f}× |")
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    block = "\n".join(
        [
            START,
            f"`python bench/kinds.py` ({rounds} rounds, medians, in-process, {len(events)} events, {stamp}; loaded "
            "shared machine: compare rows of this run only)",
            "",
            *rows,
            END,
        ]
    )
    print(block)
    if not args.quick:
        import gateway as rig  # bench/gateway.py's docs writer

        rig.write_block(START, END, block, "## Cloud translators (bench/kinds.py)")


if __name__ == "__main__":
    main()
