"""Large ``[[clients]]`` files: the gateway's start-up, memory and token lookup for 1, 1k, 10k and 100k clients.

    python bench/clients.py              # writes docs/benchmarks.md
    python bench/clients.py --quick      # up to 10k clients, fewer requests; prints only

For each size: a claudewire.toml with that many ``[[clients]]`` (each a ``token_sha256`` and a requests_per_minute
limit, so every request is looked up and counted), `claudewire proxy --config` in front of `claudewire sim` (pacing
off). Columns: start-up, from spawning the process to its banner (the interpreter's own start included: compare with
the 1-client row; wall time, and in parentheses the process's CPU time, which a busy machine inflates less); RSS
after start-up and after the requests (VmRSS); one token lookup in-process (sha256 of the presented token and the
digest map's get, as the gateway does it: `ClientAuth.client`); the p50 / p99 of sequential requests through the
gateway on one keep-alive connection, each with the token of a client picked at random, against the 1-client row.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import json
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gateway as rig  # bench/gateway.py: free_port, spawn, record

START, END = "<!-- bench/clients.py:start -->", "<!-- bench/clients.py:end -->"
UPSTREAM_KEY = "sk-ant-api03-bench-clients-000000000000"
BODY = json.dumps({"model": rig.MODEL, "max_tokens": 8, "messages": [{"role": "user", "content": "hello"}]}).encode()


def token(i: int) -> str:
    return f"cw-bench-client-{i:07d}-token"


def write_config(path: Path, count: int) -> None:
    lines = [f'[proxy]\nupstream_key = "{UPSTREAM_KEY}"\n']
    for i in range(count):
        digest = hashlib.sha256(token(i).encode()).hexdigest()
        lines.append(f'[[clients]]\nname = "c{i}"\ntoken_sha256 = "{digest}"\nrequests_per_minute = 1000000000\n')
    path.write_text("".join(lines))


def rss_mib(pid: int) -> float:
    m = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(m.group(1)) / 1024 if m else float("nan")


@contextlib.contextmanager
def gateway(config: Path, upstream: str) -> Iterator[tuple[subprocess.Popen[str], int, float]]:
    """The proxy on a free port: (process, port, seconds from spawn to its banner)."""
    port = rig.free_port()
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "claudewire", "proxy", "--config", str(config), "--port", str(port),
         "--upstream", upstream, "--access-log", "off"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        if "listening on" not in proc.stdout.readline():
            raise RuntimeError(f"the gateway did not start with {config}")
        yield proc, port, time.perf_counter() - started
    finally:
        proc.terminate()
        proc.wait(30)


def requests(port: int, count: int, clients: int, seed: int = 0) -> list[float]:
    """Milliseconds of `count` sequential requests, each with the token of a random client."""
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    out = []
    for _ in range(count):
        headers = {"x-api-key": token(rng.randrange(clients)), "content-type": "application/json",
                   "anthropic-version": "2023-06-01"}  # fmt: skip
        t = time.perf_counter()
        conn.request("POST", "/v1/messages", BODY, headers)
        answer = conn.getresponse()
        answer.read()
        out.append((time.perf_counter() - t) * 1000)
        if answer.status != 200:
            raise RuntimeError(f"status {answer.status}")
    conn.close()
    return out


def lookup_us(clients: int, number: int = 200_000) -> float:
    """µs of one `ClientAuth.client` lookup among `clients` digests (best of 5)."""
    from claudewire.gateway.headers import ClientAuth

    auth = ClientAuth((), None, ((f"c{i}", hashlib.sha256(token(i).encode()).digest()) for i in range(clients)))
    presented = [token(i).encode() for i in random.Random(1).choices(range(clients), k=1024)]
    assert all(auth.client(p) is not None for p in presented)

    def run() -> None:
        for p in presented:
            auth.client(p)

    best = min(timeit.repeat(run, number=max(1, number // 1024), repeat=5))
    return best / (max(1, number // 1024) * 1024) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=2000, help="sequential requests per size")
    ap.add_argument("--quick", action="store_true", help="1, 1k and 10k clients, 300 requests; nothing written")
    args = ap.parse_args()
    sizes = [1, 1_000, 10_000, 100_000]
    if args.quick:
        sizes, args.requests = sizes[:3], 300
    rows = []
    with tempfile.TemporaryDirectory(prefix="cw-clients-bench-") as tmpdir, contextlib.ExitStack() as stack:
        tmp = Path(tmpdir)
        sim_port = rig.free_port()
        stack.enter_context(rig.spawn(
            [sys.executable, "-m", "claudewire", "sim", "--port", str(sim_port), "--pacing", "off",
             "--rpm", "1000000000", "--tpm", "1000000000000"], sim_port, "0"))  # fmt: skip
        for size in sizes:
            config = tmp / f"clients-{size}.toml"
            write_config(config, size)
            with gateway(config, f"http://127.0.0.1:{sim_port}") as (proc, port, startup):
                cpu = rig.cpu_seconds([proc.pid])
                rss_start = rss_mib(proc.pid)
                requests(port, 50, size, seed=99)  # warm: connections to the upstream, first-call paths
                times = requests(port, args.requests, size)
                rss_end = rss_mib(proc.pid)
            q = statistics.quantiles(times, n=100)
            rows.append((size, startup, cpu, rss_start, rss_end, lookup_us(size), q[49], q[98]))
            print(f"{size} clients: {startup:.2f} s, {rss_start:.0f} MiB", flush=True)
    base = rows[0]
    lines = [
        "| clients | start-up (CPU) | RSS after start-up | RSS after the requests | one lookup | request p50 | p99 |",
        "|---|---|---|---|---|---|---|",
    ]
    for size, startup, cpu, rss_start, rss_end, lookup, p50, p99 in rows:
        added = "" if size == base[0] else f" ({p50 - base[6]:+.2f} ms)"
        lines.append(
            f"| {size:,} | {startup:.2f} s ({cpu:.2f} s) | {rss_start:.0f} MiB | {rss_end:.0f} MiB | {lookup:.2f} µs | "
            f"{p50:.2f} ms{added} | {p99:.2f} ms |"
        )
    table = "\n".join(lines)
    print(table)
    if args.quick:
        return
    cmd = "python bench/clients.py" + ("" if args.requests == 2000 else f" --requests {args.requests}")
    block = (
        f"{START}\nCommand: `{cmd}` — {time.strftime('%Y-%m-%d')}, {args.requests} sequential requests per size on "
        "one keep-alive connection, each with a random client's token; the gateway and `claudewire sim` (pacing "
        "off) share the machine. In parentheses: p50 added over the 1-client gateway.\n\n"
        f"{table}\n{END}"
    )
    rig.write_block(START, END, block, "### Large [[clients]] files (bench/clients.py)")


if __name__ == "__main__":
    main()
