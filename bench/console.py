"""What the gateway's /console costs per request: console off, console on with no page open, console on with pages open.

    python bench/console.py                 # 5 s per load, 3 rounds, medians; writes docs/benchmarks.md
    python bench/console.py --quick         # 2 s, 1 round; prints only
    python bench/console.py --pages 4       # four pages open on the third gateway instead of one
    python bench/console.py --micro         # in one process: µs per call into the ring, ms per page event

The rig of bench/gateway.py (its helpers are reused): the simulator (pacing off) and wrk share core 0, each gateway
runs alone on core 1 when measured, the three measured in turn in every round (order rotated). All three are the
same `claudewire proxy` with a JSON access log to a file; the first has ``console_calls = 0`` (no console at all),
the second and third keep the default ring of 500 calls, and the third has `--pages` console pages open the whole
time: each a reader of ``/console/api/events`` (what a page's live stream is), on core 0. Columns: requests/s and
the gateway's CPU µs per request (user+system time of its process / requests), for each of the three.

`--micro` times the two pieces alone, in this process (pure CPU, so it holds on a loaded machine): building the
record of a finished call and adding it to the ring (what every call pays while no page is open), and building one
page event (the JSON of the state and of the calls since the last event).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from gateway import KEY, LOADS, Target, command, fmt_ms, free_port, measure, record, spawn

START, END = "<!-- bench/console.py:start -->", "<!-- bench/console.py:end -->"
MICRO_START, MICRO_END = "<!-- bench/console.py --micro:start -->", "<!-- bench/console.py --micro:end -->"
NAMES = ("console off", "console on, no page", "console on, page open")
_READER = """
import sys, urllib.request
request = urllib.request.Request(sys.argv[1])
with urllib.request.urlopen(request) as answer:
    while answer.read1(65536):
        pass
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run")
    ap.add_argument("--rounds", type=int, default=3, help="rounds (medians are reported)")
    ap.add_argument("--pages", type=int, default=1, help="console pages open on the third gateway")
    ap.add_argument("--quick", action="store_true", help="2 s, 1 round, nothing written")
    ap.add_argument("--no-write", action="store_true", help="print the table only")
    ap.add_argument("--micro", action="store_true", help="time the ring and a page event in this process")
    args = ap.parse_args()
    if args.micro:
        micro(args)
        return
    if args.quick:
        args.duration, args.rounds, args.no_write = 2.0, 1, True
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            sys.exit(f"bench/console.py needs `{tool}` (apt-get install wrk util-linux)")
    if (os.cpu_count() or 1) < 2:
        sys.exit("bench/console.py needs 2 cores (upstream + wrk on one, the gateway on the other)")
    with tempfile.TemporaryDirectory(prefix="cw-console-bench-") as tmpdir, contextlib.ExitStack() as stack:
        tmp = Path(tmpdir)
        sim_port = free_port()
        stack.enter_context(spawn(
            [sys.executable, "-m", "claudewire", "sim", "--port", str(sim_port), "--pacing", "off",
             "--rpm", "1000000000", "--tpm", "1000000000000"], sim_port, "0"))  # fmt: skip
        targets = []
        for name, calls in zip(NAMES, (0, 500, 500), strict=True):
            config = tmp / f"{calls}-{len(targets)}.toml"
            config.write_text(f'upstream = "http://127.0.0.1:{sim_port}"\nconsole_calls = {calls}\n')
            port = free_port()
            proc = stack.enter_context(spawn(
                [sys.executable, "-m", "claudewire", "proxy", "--port", str(port), "--config", str(config),
                 "--access-log", str(tmp / f"{port}.log")], port, "1"))  # fmt: skip
            targets.append(Target(name, f"http://127.0.0.1:{port}", proc, KEY))
        read = ["taskset", "-c", "0", sys.executable, "-c", _READER, targets[2].url + "/console/api/events"]
        readers = [subprocess.Popen(read) for _ in range(args.pages)]
        try:
            results = measure(targets, tmp, args.rounds, args.duration)
        finally:
            for reader in readers:
                reader.terminate()
                reader.wait(10)
    med = statistics.median
    off, idle, open_ = NAMES
    lines = [
        f"| load | req/s: {off} | {idle} | {open_} | p50: {off} | {open_} | CPU µs/req: {off} → {idle} → {open_} "
        "| errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for kind, conns in LOADS:
        one, two, three = (results[(name, kind, conns)] for name in NAMES)
        lines.append(
            f"| {kind} c{conns} | {med(one.rps):,.0f} | {med(two.rps):,.0f} | {med(three.rps):,.0f} | "
            f"{fmt_ms(med(one.p50))} | {fmt_ms(med(three.p50))} | "
            f"{med(one.cpu_us):.0f} → {med(two.cpu_us):.0f} → {med(three.cpu_us):.0f} | "
            f"{one.errors + two.errors + three.errors} |"
        )
    table = "\n".join(lines)
    print(table)
    if args.no_write:
        return
    about = (
        f", the three gateways measured in turn in each round (order rotated), {args.pages} console page(s) open "
        "on the third (a reader of /console/api/events each: one event a second while anything changed, with every "
        "call since the last). The simulator, wrk and the page readers share core 0, the gateway is alone on core "
        "1; the machine is shared with other work, so only the ratios within a row mean much."
    )
    flags = ("--pages", str(args.pages)) if args.pages != 1 else ()
    heading = "### Console: what /console costs per request (bench/console.py)"
    record((START, END), heading, command("console.py", args, *flags), args, about, table)


def micro(args: argparse.Namespace) -> None:
    """µs per call into the ring (record built + added) and ms per page event, best of 5 repeats."""
    import json
    import time
    import timeit

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from claudewire._sse import Usage
    from claudewire.gateway.console_feed import Attempt, FinishedCall
    from claudewire.gateway.downstream.console import CallRing, Console, UpstreamFacts

    usage = Usage()
    usage.model, usage.input_tokens, usage.output_tokens, usage.cache_read = "claude-haiku-4-5", 12, 32, 3000
    tried = [Attempt("anthropic#0", "529 overloaded", 0.0), Attempt("backup#0", "ok", 0.5)]
    ring = CallRing(500)

    def one_call() -> None:  # what Gateway._record and Console.add do at the end of every call
        ring.add(FinishedCall("messages", "claude-haiku-4-5", True, 1.8e9, 0.25, tuple(tried), "backup", 200, "",
                              0.1, usage, "req_0123456789abcdef", "ci-bot"))  # fmt: skip

    cpu = time.process_time  # this process's CPU time: what other work on a shared machine does not inflate
    per_call = min(timeit.repeat(one_call, number=20000, repeat=5, timer=cpu)) / 20000 * 1e6
    readyz = {"status": "ready", "upstreams": [{"name": n, "priority": i, "usable": True, "keys": [
        {"key": f"{n}#0", "state": "closed", "usable": True, "reason": "", "retry_in": 0.0}]}
        for i, n in enumerate(("anthropic", "backup"))]}  # fmt: skip
    facts = UpstreamFacts(json.dumps(readyz).encode(), {"anthropic#0": {"requests": 3999.0}}, 100.0, {})
    console = Console(ring, facts=lambda: facts)

    def event(since: int) -> float:
        def build() -> None:
            console._state = None  # a new tick: the state is built again
            console.payload(since)

        return min(timeit.repeat(build, number=20, repeat=5, timer=cpu)) / 20 * 1e3

    full, one, none = event(0), event(ring.seq - 1), event(ring.seq)
    table = (
        "| piece | cost |\n|---|---|\n"
        f"| a finished call into the ring (record + add), every call | {per_call:.1f} µs |\n"
        f"| a page event with the whole ring (500 calls: a page's first) | {full:.1f} ms |\n"
        f"| a page event with 1 new call | {one:.2f} ms |\n"
        f"| a page event with no new call (state only; not sent when unchanged) | {none:.2f} ms |"
    )
    print(table)
    if args.no_write:
        return
    about = (
        ": best of 5 repeats of this process's CPU time (pure CPU, so other work on the machine inflates it little). "
        "A page event is built at most once a second per open page; "
        "the calls in it are those since its last event."
    )
    block = f"{MICRO_START}\nCommand: `python bench/console.py --micro`{about}\n\n{table}\n{MICRO_END}"
    from gateway import write_block

    write_block(MICRO_START, MICRO_END, block, "### Console: its pieces alone (bench/console.py --micro)")


if __name__ == "__main__":
    main()
