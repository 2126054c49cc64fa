"""Resilience under seeded faults: the official SDK's defaults vs the seed's tenacity recipe vs claudewire.Anthropic.

    python bench/chaos.py        # full run (~4 minutes): prints the tables, appends them to docs/benchmarks.md
    python bench/chaos.py --calls 100 --no-write

Part 1, transient faults: the simulator answers 20% 529, 10% 429 with retry-after 1 s and resets 5% of connections
(35% of requests in all: the rates below are conditional because the simulator rolls each fault in turn). Each
client makes the same number of calls at concurrency 8; we count what reached the simulator.

Part 2, a dead upstream (always 503, no retry-after): sequential calls; upstream attempts and time to fail.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anthropic
from tenacity import retry, stop_after_attempt, wait_exponential

import claudewire
from claudewire.testing import run_sim

MODEL = "claude-haiku-4-5"
KEY = "sk-ant-bench-0000000000000000"
MSG: Any = [{"role": "user", "content": "hello"}]
# 20% / 10% / 5% of all requests, as conditional rates of independent rolls in this order: 0.2, 0.1/0.8, 0.05/0.7
TRANSIENT = ["529:0.2,retry_after=none", "429:0.125,retry_after=1", "reset:0.0714"]
DEAD = ["503:1.0,retry_after=none"]


@dataclass
class Row:
    client: str
    calls: int
    ok: int
    attempts: int
    latencies: list[float]

    def cells(self) -> list[str]:
        lat = sorted(self.latencies)
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        return [
            self.client,
            str(self.calls),
            f"{100 * self.ok / self.calls:.1f}%",
            f"{self.attempts / self.calls:.2f}",
            f"{statistics.median(lat) * 1000:.0f} ms",
            f"{p99 * 1000:.0f} ms",
            f"{max(lat):.1f} s",
        ]


def _clients(base_url: str) -> dict[str, Callable[[], Any]]:
    sdk = anthropic.Anthropic(base_url=base_url, api_key=KEY)
    cw = claudewire.Anthropic(base_url=base_url, api_key=KEY)

    @retry(stop=stop_after_attempt(3), wait=wait_exponential(multiplier=1, min=4, max=10), reraise=True)
    def seed_recipe() -> Any:
        return sdk.messages.create(model=MODEL, max_tokens=16, messages=MSG)

    return {
        "anthropic SDK defaults (max_retries=2)": lambda: sdk.messages.create(model=MODEL, max_tokens=16, messages=MSG),
        "seed recipe (tenacity 3 × SDK defaults)": seed_recipe,
        "claudewire.Anthropic (default Policy)": lambda: cw.messages.create(model=MODEL, max_tokens=16, messages=MSG),
    }


def _timed(fn: Callable[[], Any]) -> tuple[bool, float]:
    started = time.perf_counter()
    try:
        fn()
        ok = True
    except anthropic.APIError:
        ok = False
    return ok, time.perf_counter() - started


def transient(calls: int, concurrency: int) -> list[Row]:
    rows = []
    with run_sim(faults=TRANSIENT, seed=42) as sim:
        for name, fn in _clients(sim.base_url).items():
            sim.set_faults(TRANSIENT)  # same seeded fault plan for every client
            sim.stats.reset()
            with ThreadPoolExecutor(concurrency) as pool:
                results = list(pool.map(lambda _, f=fn: _timed(f), range(calls)))
            rows.append(Row(name, calls, sum(ok for ok, _ in results), sim.stats.total, [t for _, t in results]))
            print(f"  done: {name}", file=sys.stderr)
    return rows


def dead(calls: dict[str, int]) -> list[Row]:
    rows = []
    with run_sim(faults=DEAD, seed=42) as sim:
        for name, fn in _clients(sim.base_url).items():
            sim.stats.reset()
            n = calls[name]
            results = [_timed(fn) for _ in range(n)]
            rows.append(Row(name, n, sum(ok for ok, _ in results), sim.stats.total, [t for _, t in results]))
            print(f"  done: {name}", file=sys.stderr)
    return rows


def table(title: str, header: list[str], rows: list[list[str]]) -> str:
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=400, help="calls per client through transient faults")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--dead-calls", type=int, default=40, help="sequential calls per client to a dead upstream")
    parser.add_argument("--dead-calls-tenacity", type=int, default=5, help="the tenacity recipe waits ~12 s per call")
    parser.add_argument("--no-write", action="store_true", help="print only; do not append to docs/benchmarks.md")
    args = parser.parse_args()

    print("transient faults ...", file=sys.stderr)
    t_rows = transient(args.calls, args.concurrency)
    print("dead upstream ...", file=sys.stderr)
    names = list(_clients("http://127.0.0.1:1"))
    d_rows = dead({n: args.dead_calls_tenacity if "tenacity" in n else args.dead_calls for n in names})

    header = ["client", "calls", "success", "upstream attempts / call", "p50", "p99", "slowest call"]
    command = "python bench/chaos.py " + " ".join(sys.argv[1:])
    out = [
        "## Resilience under faults (bench/chaos.py)",
        "",
        f"Command: `{command.strip()}` — {time.strftime('%Y-%m-%d')}, official SDK {anthropic.__version__}, "
        "simulator in-process on 127.0.0.1, clients on threads.",
        "",
        table(
            f"Transient faults: 20% 529, 10% 429 (retry-after 1 s), 5% resets; concurrency {args.concurrency}",
            header,
            [r.cells() for r in t_rows],
        ),
        table(
            "Dead upstream: always 503, sequential calls (slowest call = time to fail of the worst call)",
            header,
            [r.cells() for r in d_rows],
        ),
    ]
    text = "\n".join(out)
    print(text)
    if not args.no_write:
        path = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
        with path.open("a") as f:
            f.write("\n" + text)


if __name__ == "__main__":
    main()
