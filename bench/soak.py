"""Soak: mixed JSON and streaming calls through a gateway in front of a faulty simulator, with hostile peers.

    python bench/soak.py                    # 20,000 calls at concurrency 48; writes docs/benchmarks.md
    python bench/soak.py --requests 3000 --no-write
    python bench/soak.py --phases bombs       # one phase (or two); a subset prints its rows, writes nothing

Phases, all against one `claudewire proxy` process (uvloop) in front of `claudewire sim` (pacing off) injecting
529s, 500s, resets, mid-stream errors, cuts and latency:

1. **mixed**: `--requests` calls (70% JSON, 30% SSE) at `--concurrency`; every call must end (status, or a stream
   that ends with message_stop or an error event). The gateway's RSS and open descriptors are sampled every 0.25 s.
   Afterwards /metrics' ``claudewire_requests_total`` is reconciled with what the clients saw, by status class.
2. **slow clients**: a well-behaved client makes 50 calls (GET /v1/models, which no fault touches), then `--slow`
   connections each send one byte and go silent; the client keeps calling while they are open and while the gateway
   cuts them all with 408 (it runs with `client_read_timeout` and `head_timeout` of 5 s so that happens within the
   run); the latency p50/max of each window is reported.
3. **memory bombs**: 16 connections each stream an endless header value (8 MiB offered each) and 16 send 31 MiB
   bodies at once; peak RSS against idle RSS plus the body budget.

Loopback only, every loop bounded in count and time. Numbers from a loaded shared machine: read the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import datetime
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from gateway import free_port, wait_port, write_block  # noqa: E402  (bench/ is not a package)

MODEL = "claude-haiku-4-5"
KEY = "sk-ant-soak-0000000000000000"
SLOW_CUT = 5.0  # the gateway's client_read_timeout and head_timeout here: the silent connections are cut in the run
START, END = "<!-- bench/soak.py:start -->", "<!-- bench/soak.py:end -->"
# on /v1/messages only: the good client of the slow phase (GET /v1/models) measures the gateway, not a fault's retry
FAULTS = [
    f"{f},path=/v1/messages"
    for f in ("529:0.03", "500:0.01", "reset:0.01", "midstream_error:0.01", "cut:0.005", "latency:0.05,ms=50")
]


def rss_mib(pid: int) -> float:
    with contextlib.suppress(OSError):
        m = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
        return int(m.group(1)) / 1024 if m else 0.0
    return 0.0


def open_fds(pid: int) -> int:
    with contextlib.suppress(OSError):
        return len(os.listdir(f"/proc/{pid}/fd"))
    return 0


class Sampler(threading.Thread):
    """RSS and descriptor samples of one process, every `every` seconds, until stopped."""

    def __init__(self, pid: int, every: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.rss: list[float] = []
        self.fds: list[int] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(self.every):
            self.rss.append(rss_mib(self.pid))
            self.fds.append(open_fds(self.pid))

    def stop(self) -> None:
        self._halt.set()
        self.join(5)


async def one_call(port: int, stream: bool, seen: collections.Counter[str]) -> None:
    """One raw HTTP/1.1 call on its own connection; counts the status class (and how a stream ended)."""
    body = json.dumps(
        {"model": MODEL, "max_tokens": 32, "stream": stream, "messages": [{"role": "user", "content": "hi"}]}
    ).encode()
    head = (
        f"POST /v1/messages HTTP/1.1\r\nhost: 127.0.0.1\r\nx-api-key: {KEY}\r\nanthropic-version: 2023-06-01\r\n"
        f"content-type: application/json\r\ncontent-length: {len(body)}\r\nconnection: close\r\n\r\n"
    ).encode()
    try:
        async with asyncio.timeout(60):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(head + body)
            data = await reader.read(-1)
            writer.close()
    except (OSError, TimeoutError):
        seen["client_error"] += 1
        return
    status = int(data[9:12]) if data.startswith(b"HTTP/1.1 ") else 0
    seen[f"{status // 100}xx" if status else "no_answer"] += 1
    if stream and status == 200:
        if b"event: message_stop" in data:
            seen["stream_complete"] += 1
        elif b"event: error" in data:
            seen["stream_error_event"] += 1
        else:
            seen["stream_cut"] += 1


async def mixed(port: int, total: int, concurrency: int) -> tuple[collections.Counter[str], float]:
    seen: collections.Counter[str] = collections.Counter()
    queue = iter(range(total))

    async def worker() -> None:
        for i in queue:
            await one_call(port, stream=i % 10 < 3, seen=seen)

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return seen, time.monotonic() - started


def scrape(port: int) -> dict[str, float]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        sock.settimeout(10)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    by_class: dict[str, float] = collections.defaultdict(float)
    for line in data.decode().splitlines():
        if line.startswith("claudewire_requests_total{"):
            m = re.search(r'status_class="(\w+)"', line)
            by_class[m.group(1) if m else "?"] += float(line.rsplit(" ", 1)[1])
        elif line.startswith(("claudewire_upstream_resends_total", "claudewire_upstream_attempts_total")):
            by_class[line.split("{", 1)[0]] += float(line.rsplit(" ", 1)[1])
    return dict(by_class)


def good_client_latencies(port: int, n: int = 50) -> list[float]:
    """`n` sequential calls of GET /v1/models, each on a new connection (ms each, connect to last byte)."""
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(
                b"GET /v1/models HTTP/1.1\r\nhost: x\r\nx-api-key: %b\r\nanthropic-version: 2023-06-01\r\n"
                b"connection: close\r\n\r\n" % KEY.encode()
            )
            sock.settimeout(10)
            while sock.recv(65536):
                pass
        out.append((time.perf_counter() - t0) * 1000)
    return out


def bombs(port: int) -> None:
    """16 endless header values and 16 bodies of 31 MiB at once; each socket bounded in bytes and time."""

    def header_bomb() -> None:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"GET /v1/models HTTP/1.1\r\nhost: x\r\nx-bomb: ")
            for _ in range(128):
                sock.sendall(b"a" * 65536)

    def body_bomb() -> None:
        size = 31 * 1024 * 1024
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(b"POST /v1/messages HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n\r\n" % size)
            chunk = b"x" * (1 << 20)
            for _ in range(31):
                sock.sendall(chunk)
            sock.settimeout(30)
            sock.recv(65536)

    threads = [threading.Thread(target=header_bomb) for _ in range(16)]
    threads += [threading.Thread(target=body_bomb) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--concurrency", type=int, default=48)
    ap.add_argument("--slow", type=int, default=2000, help="silent connections in the slow-client phase")
    ap.add_argument(
        "--phases", default="mixed,slow,bombs", help="comma-separated subset of mixed,slow,bombs (a subset only prints)"
    )
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    phases = {p.strip() for p in args.phases.split(",") if p.strip()}
    if not phases <= {"mixed", "slow", "bombs"}:
        ap.error(f"--phases: unknown phase(s) {', '.join(sorted(phases - {'mixed', 'slow', 'bombs'}))}")
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # our own side of the slow connections
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="cw-soak-") as tmp, contextlib.ExitStack() as stack:
        sim_port, gw_port = free_port(), free_port()
        cmd = [sys.executable, "-m", "claudewire", "sim", "--port", str(sim_port), "--pacing", "off", "--seed", "7",
               "--rpm", "1000000000", "--tpm", "1000000000000"]  # fmt: skip
        for fault in FAULTS:
            cmd += ["--fault", fault]
        sim = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        stack.callback(sim.kill)
        wait_port(sim_port, sim)
        toml = Path(tmp) / "claudewire.toml"
        toml.write_text(f"client_read_timeout = {SLOW_CUT}\nhead_timeout = {SLOW_CUT}\n")
        gw = subprocess.Popen(
            [sys.executable, "-m", "claudewire", "proxy", "--port", str(gw_port), "--upstream",
             f"http://127.0.0.1:{sim_port}", "--access-log", str(Path(tmp) / "access.log"), "--config", str(toml)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )  # fmt: skip
        stack.callback(gw.kill)
        wait_port(gw_port, gw)
        time.sleep(0.5)
        idle_rss = rss_mib(gw.pid)
        if "mixed" in phases:
            rows += phase_mixed(gw.pid, gw_port, args.requests, args.concurrency, idle_rss)
        if "slow" in phases:
            rows += phase_slow(gw.pid, gw_port, args.slow)
        if "bombs" in phases:
            rows += phase_bombs(gw.pid, gw_port, idle_rss)
        rows.append(("gateway alive at the end", "yes" if gw.poll() is None else "NO"))
    table = "| measure | value |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)
    print(table)
    if args.no_write or phases != {"mixed", "slow", "bombs"}:
        return
    cmd_line = "python bench/soak.py" + (
        "" if (args.requests, args.concurrency, args.slow) == (20000, 48, 2000)
        else f" --requests {args.requests} --concurrency {args.concurrency} --slow {args.slow}"
    )  # fmt: skip
    block = (
        f"{START}\nCommand: `{cmd_line}` — {datetime.date.today()}, one run on a shared 2-core machine "
        f"(load average {os.getloadavg()[0]:.1f} at the end): latencies and rates are this machine's, the bounds "
        f"and the reconciliation are the point.\n\n{table}\n{END}"
    )
    write_block(START, END, block, "## Soak (bench/soak.py)")


def phase_mixed(pid: int, port: int, total: int, concurrency: int, idle_rss: float) -> list[tuple[str, str]]:
    """Phase 1: the mixed calls, sampled; /metrics reconciled with what the clients saw."""
    idle_fds = open_fds(pid)
    sampler = Sampler(pid)
    sampler.start()
    seen, took = asyncio.run(mixed(port, total, concurrency))
    sampler.stop()
    time.sleep(0.5)
    after_rss, after_fds = rss_mib(pid), open_fds(pid)
    metrics = scrape(port)
    answered = sum(v for k, v in seen.items() if k.endswith("xx"))
    metric_total = sum(v for k, v in metrics.items() if k.endswith("xx"))
    return [
        ("calls (70% JSON, 30% SSE), concurrency", f"{total:,}, c{concurrency}"),
        ("faults injected by the simulator", ", ".join(FAULTS)),
        ("throughput", f"{total / took:,.0f} calls/s over {took:.1f} s"),
        ("client saw, by status", ", ".join(f"{k} {v:,}" for k, v in sorted(seen.items()) if k.endswith("xx"))),
        ("streams (200): complete / error event / cut",
         f"{seen['stream_complete']:,} / {seen['stream_error_event']:,} / {seen['stream_cut']:,}"),
        ("lost or hung (no answer, client error)", f"{seen['no_answer'] + seen['client_error']}"),
        ("/metrics claudewire_requests_total, by class",
         ", ".join(f"{k} {v:,.0f}" for k, v in sorted(metrics.items()) if k.endswith("xx"))),
        ("reconciled (metrics total = answers seen)", f"{metric_total:,.0f} = {answered:,}: "
         f"{'yes' if metric_total == answered else 'NO'}"),
        ("upstream attempts / invisible resends",
         f"{metrics.get('claudewire_upstream_attempts_total', 0):,.0f} / "
         f"{metrics.get('claudewire_upstream_resends_total', 0):,.0f}"),
        ("RSS idle → peak → after (MiB)", f"{idle_rss:.0f} → {max(sampler.rss or [0]):.0f} → {after_rss:.0f}"),
        ("open fds idle → peak → after", f"{idle_fds} → {max(sampler.fds or [0])} → {after_fds}"),
    ]  # fmt: skip


def phase_slow(pid: int, port: int, n: int) -> list[tuple[str, str]]:
    """Phase 2: a good client alone, then while `n` silent connections are open, then while the gateway cuts them."""
    alone = good_client_latencies(port)
    slow: list[socket.socket] = []
    opened = time.monotonic()
    for _ in range(n):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"P")
            slow.append(s)
        except OSError:
            break
    time.sleep(0.5)
    slow_fds = open_fds(pid)
    latencies = good_client_latencies(port)
    # the first silent connections are cut SLOW_CUT s after their byte: call until every one has been answered 408
    cutting: list[float] = []
    cut_by = opened + SLOW_CUT + 30
    while time.monotonic() < cut_by and open_fds(pid) > slow_fds - len(slow) // 2:
        cutting += good_client_latencies(port, 5)
    cutting += good_client_latencies(port, 20)
    answered = 0
    for s in slow:
        s.setblocking(False)
        with contextlib.suppress(OSError):
            answered += s.recv(64).startswith(b"HTTP/1.1 408")
        s.close()
    return [
        (f"{len(slow):,} silent connections: gateway fds", f"{slow_fds:,}"),
        ("a good client (GET /v1/models, no faults on it), 50 calls alone: p50 / max",
         f"{statistics.median(alone):.1f} ms / {max(alone):.1f} ms"),
        (f"... 50 calls with the {len(slow):,} silent connections open: p50 / max",
         f"{statistics.median(latencies):.1f} ms / {max(latencies):.1f} ms"),
        (f"... {len(cutting)} calls while the gateway cuts them (408 each, {SLOW_CUT:g} s): p50 / max",
         f"{statistics.median(cutting):.1f} ms / {max(cutting):.1f} ms"),
        ("silent connections answered 408", f"{answered:,} of {len(slow):,}"),
    ]  # fmt: skip


def phase_bombs(pid: int, port: int, idle_rss: float) -> list[tuple[str, str]]:
    """Phase 3: the memory bombs, RSS sampled every 50 ms, against 2 × idle RSS + the body budget."""
    bomb_sampler = Sampler(pid, every=0.05)
    bomb_sampler.start()
    before_bombs = rss_mib(pid)
    bombs(port)
    time.sleep(1.0)
    bomb_sampler.stop()
    after_bombs = rss_mib(pid)
    return [
        ("memory bombs (16 endless heads + 16×31 MiB bodies): RSS before → peak → after",
         f"{before_bombs:.0f} → {max(bomb_sampler.rss or [0]):.0f} → {after_bombs:.0f} MiB "
         f"(bound: 2×idle + 256 MiB budget = {2 * idle_rss + 256:.0f} MiB)"),
    ]  # fmt: skip


if __name__ == "__main__":
    main()
