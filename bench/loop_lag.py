"""How long the gateway's event loop stalls while thousands of silent connections are opened, then cut by timeout.

    python bench/loop_lag.py                      # 2,000 connections, 5 runs
    python bench/loop_lag.py --connections 500 --runs 3

In one process (uvloop when installed): the gateway's HTTP layer (`Connection`, with `client_read_timeout` and
`head_timeout` of `--cut` s) on 127.0.0.1:0, a thread that opens `--connections` connections each sending one byte
and going silent, and a probe that sleeps 1 ms in a loop and records how late each wake-up was. Reported per run:
the worst lateness while the connections were being opened and in the window where the gateway cut them all (408).
That lateness is how long any other client's request would have waited. Prints a table; writes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
import socket
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any

from claudewire.gateway.downstream.http import Connection, Request
from claudewire.gateway.downstream.limits import HttpLimits, ServerState


async def _answer(req: Request, conn: Connection) -> None:
    conn.respond(200, b"", b"ok")


async def one_run(n: int, cut: float) -> tuple[float, float, float, int]:
    """(seconds to open, worst lag opening, worst lag in the cut window) in ms, and how many got their 408."""
    state = ServerState(HttpLimits(read_timeout=cut, head_timeout=cut))
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Connection(_answer, state), "127.0.0.1", 0, backlog=4096)
    port = server.sockets[0].getsockname()[1]
    socks: list[socket.socket] = []
    marks: dict[str, float] = {}
    t0 = time.monotonic()

    def opener() -> None:
        marks["open0"] = time.monotonic() - t0
        for _ in range(n):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.sendall(b"P")
            socks.append(sock)
        marks["open1"] = time.monotonic() - t0

    thread = threading.Thread(target=opener, daemon=True)
    thread.start()
    lags: list[tuple[float, float]] = []
    while time.monotonic() - t0 < cut + 4 and len(lags) < 100_000:
        before = time.perf_counter()
        await asyncio.sleep(0.001)
        lags.append((time.perf_counter() - before - 0.001, time.monotonic() - t0))
    thread.join(30)
    got = 0
    for sock in socks:
        sock.setblocking(False)
        with contextlib.suppress(OSError):
            got += sock.recv(64).startswith(b"HTTP/1.1 408")
        sock.close()
    server.close()
    o0, o1 = marks.get("open0", 0.0), marks.get("open1", 0.0)
    opening = max((lag for lag, at in lags if o0 <= at <= o1 + 0.1), default=0.0)
    cutting = max((lag for lag, at in lags if o0 + cut - 0.1 <= at <= o1 + cut + 0.6), default=0.0)
    return o1 - o0, opening * 1000, cutting * 1000, got


def _runner() -> Callable[[Coroutine[Any, Any, tuple[float, float, float, int]]], tuple[float, float, float, int]]:
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    return uvloop.run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--connections", type=int, default=2000)
    ap.add_argument("--cut", type=float, default=2.0, help="client_read_timeout and head_timeout, s")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # both ends of every connection are in this process
    run = _runner()
    print(f"| run | opened in | worst loop lag opening | worst loop lag while cut | 408s (of {args.connections}) |")
    print("|---|---|---|---|---|")
    for i in range(args.runs):
        took, opening, cutting, got = run(one_run(args.connections, args.cut))
        print(f"| {i + 1} | {took:.2f} s | {opening:.0f} ms | {cutting:.0f} ms | {got:,} |")


if __name__ == "__main__":
    main()
