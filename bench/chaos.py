"""Resilience under seeded faults: a storm must never open the breaker, an outage must, and traffic must come back.

    python bench/chaos.py        # full run (~11 minutes on 2 shared cores): rewrites its docs/benchmarks.md section
    python bench/chaos.py --seeds 2 --calls 100 --no-write      # a quick look

Every scenario drives `claudewire.Anthropic` (its default `Policy`, one fresh client per run) against the simulator
on 127.0.0.1, calls on threads, and counts what the policy did through its hooks (attempts, breaker openings).

Time is compressed (``--scale``, default 0.1): every duration of the policy (backoff, retry-after cap, breaker pauses
and window age, retry-budget window) and of the faults (the 429's retry-after, the outage, the offered rate) is
multiplied by the same factor, so each decision (retry or not, open or not, probe or not) is taken on the same
counts in the same order of events; only loopback latency (~1 ms) is not scaled and weighs 10× more against the waits
than it would against real ones. The "scale check" row runs one storm at ``--scale 1`` beside the same storm
compressed. Durations in the tables are given back in real seconds (measured ÷ scale).

1. Storm: 35% transient faults (20% 529, 10% 429 with retry-after 1 s, 5% connection resets), `--calls` calls at
   concurrency 1, 8, 32 and 64, `--seeds` seeded fault plans each. Target: the breaker never opens; every run ≥ 99.5%
   success with ≤ 1.6 upstream attempts per call.
2. Dead upstream (always 503, or connection refused): 40 calls, sequential and at concurrency 8. Target: ≤ 15 and
   ≤ 25 upstream attempts; calls while open fail in < 50 ms without a request.
3. Brownout: 80% of attempts fail (503) for 60 s under an open-loop offered load of 20 calls/s. Target: upstream load
   ≤ 2× the offered load (the retry budget; its floor of 100 retries per 10 s is below that offer); shown beside the
   same policy without a budget.
4. Outage recovery: 8 paced callers, the upstream answers 503 for 10 s, then recovers. Target: traffic resumes within
   about 5 s of the end, beside the seed's fixed 30 s pause (``breaker_probe_after=None``).
5. The storm through an in-process gateway (`--gateway-seeds` runs): 4 official SDK clients with their own retries
   off, 64 threads in all, share the gateway's breaker. Target: ≥ 99% of answers succeed, the breaker never opens.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import logging
import socket
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anthropic

import claudewire
from claudewire import BreakerState, CircuitOpenError, Failure, Hooks, Policy
from claudewire.testing import run_sim

MODEL = "claude-haiku-4-5"
KEY = "sk-ant-bench-0000000000000000"
MSG: Any = [{"role": "user", "content": "hello"}]
CONCURRENCY = (1, 8, 32, 64)
SECTION = "## Resilience under faults (bench/chaos.py)"
READING = """\
How to read it. The breaker opens when the successes stop: 5 failures in a row, no success for 3 s and ≥ 90% of the
last 20 outcomes failed (`claudewire.policy.breaker`); a storm of transient faults keeps succeeding, so it never
does. It probes after 1 s, then 1.5× longer after each failed probe up to the 30 s cooldown. Time is compressed
(every duration of the policy and of the faults × the same factor; see the bench's docstring and the scale check);
durations are given back in real seconds. The machine is shared and loaded: compare rows of one run, not runs."""
VERDICTS: dict[str, str] = {}
"""Each scenario's verdict against its target, printed under its table."""


def storm_faults(scale: float) -> list[str]:
    """20% / 10% / 5% of all requests, as conditional rates of independent rolls in order: 0.2, 0.1/0.8, 0.05/0.7."""
    return ["529:0.2,retry_after=none", f"429:0.125,retry_after={scale:g}", "reset:0.0714"]


def scaled(policy: Policy, scale: float) -> Policy:
    """`policy` with every duration multiplied by `scale` (counts and ratios unchanged)."""
    budget = policy.retry_budget
    return dataclasses.replace(
        policy,
        backoff_initial=policy.backoff_initial * scale,
        backoff_max=policy.backoff_max * scale,
        max_retry_after=policy.max_retry_after * scale,
        breaker_cooldown=policy.breaker_cooldown * scale,
        breaker_window_seconds=policy.breaker_window_seconds * scale,
        breaker_silence=policy.breaker_silence * scale,
        breaker_probe_after=None if policy.breaker_probe_after is None else policy.breaker_probe_after * scale,
        retry_budget=None if budget is None else dataclasses.replace(budget, window=budget.window * scale),
        deadline=None if policy.deadline is None else policy.deadline * scale,
    )


class Counting(Hooks):
    """Counts attempts (in all and per calling thread) and breaker transitions into OPEN."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.attempts = 0
        self.opens = 0
        self.local = threading.local()
        self.give_ups: collections.Counter[str] = collections.Counter()

    def on_attempt_start(self, upstream: str, attempt: int) -> None:
        with self.lock:
            self.attempts += 1
        self.local.attempts = getattr(self.local, "attempts", 0) + 1

    def on_give_up(self, upstream: str, attempt: int, failure: Failure, reason: str) -> None:
        with self.lock:
            self.give_ups[f"{reason.split(' after')[0]} ({failure.kind})"] += 1

    def on_breaker_change(self, upstream: str, old: BreakerState, new: BreakerState) -> None:
        if new is BreakerState.OPEN:
            with self.lock:
                self.opens += 1


@dataclass
class Outcome:
    """One call: whether it succeeded, how long it took, its attempts, whether the breaker rejected it unsent."""

    ok: bool
    elapsed: float
    attempts: int
    rejected: bool
    ended: float = 0.0


@dataclass
class Run:
    calls: list[Outcome]
    attempts: int
    opens: int
    wall: float
    give_ups: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)

    @property
    def success(self) -> float:
        return sum(c.ok for c in self.calls) / len(self.calls)

    @property
    def per_call(self) -> float:
        return self.attempts / len(self.calls)


def _client(base_url: str, policy: Policy, hooks: Counting) -> Callable[[], Outcome]:
    client = claudewire.Anthropic(base_url=base_url, api_key=KEY, policy=policy, hooks=hooks)

    def call() -> Outcome:
        hooks.local.attempts = 0
        started = time.perf_counter()
        ok = rejected = False
        try:
            client.messages.create(model=MODEL, max_tokens=16, messages=MSG)
            ok = True
        except CircuitOpenError:
            rejected = hooks.local.attempts == 0
        except anthropic.APIError:
            pass
        now = time.perf_counter()
        return Outcome(ok, now - started, hooks.local.attempts, rejected, now)

    return call


def closed_loop(base_url: str, policy: Policy, calls: int, concurrency: int) -> Run:
    hooks = Counting()
    call = _client(base_url, policy, hooks)
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        outcomes = list(pool.map(lambda _: call(), range(calls)))
    return Run(outcomes, hooks.attempts, hooks.opens, time.perf_counter() - started, hooks.give_ups)


# -- 1. storm ---------------------------------------------------------------------------------------------------------


def storm(calls: int, seeds: int, scale: float) -> tuple[list[list[str]], list[str]]:
    policy = scaled(Policy(), scale)
    rows, verdicts = [], []
    for concurrency in CONCURRENCY:
        runs = []
        for seed in range(seeds):
            with run_sim(faults=storm_faults(scale), seed=seed) as sim:
                runs.append(closed_loop(sim.base_url, policy, calls, concurrency))
        print(f"  storm c{concurrency}: {seeds} runs", file=sys.stderr)
        worst = min(runs, key=lambda r: r.success)
        most = max(r.per_call for r in runs)
        opened = sum(r.opens for r in runs)
        slowest = max(c.elapsed for r in runs for c in r.calls) / scale
        why = sum((r.give_ups for r in runs), collections.Counter[str]())
        rows.append(
            [
                str(concurrency),
                str(len(runs)),
                f"{opened} (in {sum(r.opens > 0 for r in runs)} runs)",
                f"{100 * worst.success:.2f}%",
                f"{100 * statistics.median(r.success for r in runs):.2f}%",
                f"{statistics.median(r.per_call for r in runs):.3f}",
                f"{most:.3f}",
                f"{slowest:.1f} s",
                f"{statistics.median(r.wall for r in runs):.1f} s",
                "; ".join(f"{n} {reason}" for reason, n in why.most_common()) or "none",
            ]
        )
        met = opened == 0 and worst.success >= 0.995 and most <= 1.6
        verdicts.append(f"c{concurrency}: {'met' if met else 'NOT met'}")
    return rows, verdicts


def scale_check(calls: int, scale: float) -> list[list[str]]:
    """Seed 0 at concurrency 8: claudewire in real time, the same compressed, and the official SDK's defaults."""
    rows = []
    for s in (1.0, scale):
        with run_sim(faults=storm_faults(s), seed=0) as sim:
            run = closed_loop(sim.base_url, scaled(Policy(), s), calls, 8)
        print(f"  scale check {s:g}", file=sys.stderr)
        rows.append(
            [
                f"claudewire.Anthropic, time ×{s:g}",
                str(calls),
                str(run.opens),
                f"{100 * run.success:.2f}%",
                f"{run.per_call:.3f}",
                f"{run.wall:.1f} s",
            ]
        )
    with run_sim(faults=storm_faults(1.0), seed=0) as sim:
        sdk = anthropic.Anthropic(base_url=sim.base_url, api_key=KEY)
        started = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            oks = list(pool.map(_sdk_call, [sdk] * calls))
        wall = time.perf_counter() - started
        attempts = sim.stats.total
    print("  scale check: SDK defaults", file=sys.stderr)
    rows.append(
        [
            "official SDK defaults (max_retries=2), real time",
            str(calls),
            "-",
            f"{100 * sum(oks) / calls:.2f}%",
            f"{attempts / calls:.3f}",
            f"{wall:.1f} s",
        ]
    )
    return rows


def _sdk_call(sdk: anthropic.Anthropic) -> bool:
    try:
        sdk.messages.create(model=MODEL, max_tokens=16, messages=MSG)
        return True
    except anthropic.APIError:
        return False


def gateway_storm(calls: int, seeds: int, scale: float, clients: int = 4, concurrency: int = 64) -> list[list[str]]:
    """The storm through an in-process gateway: `clients` SDK clients (their own retries off) share its breaker."""
    from claudewire.gateway import GatewayConfig, GatewayThread
    from claudewire.policy import MultiHooks

    rows, worst, opens = [], 1.0, 0
    for seed in range(seeds):
        with run_sim(faults=storm_faults(scale), seed=seed) as sim:
            config = GatewayConfig(upstream=sim.base_url, port=0, access_log=None, policy=scaled(Policy(), scale))
            with GatewayThread(config) as gw:
                assert gw.gateway is not None
                hooks = Counting()
                engine = gw.gateway.engine
                engine.hooks = MultiHooks(engine.hooks, hooks)
                sdks = [anthropic.Anthropic(base_url=gw.base_url, api_key=KEY, max_retries=0) for _ in range(clients)]
                started = time.perf_counter()
                with ThreadPoolExecutor(concurrency) as pool:
                    oks = list(pool.map(_sdk_call, [sdks[i % clients] for i in range(calls)]))
                wall = time.perf_counter() - started
        print(f"  gateway storm seed {seed}", file=sys.stderr)
        worst = min(worst, sum(oks) / calls)
        opens += hooks.opens
        rows.append(
            [
                str(seed),
                f"{clients} × {concurrency // clients}",
                str(calls),
                f"{100 * sum(oks) / calls:.2f}%",
                f"{hooks.attempts / calls:.3f}",
                str(hooks.opens),
                f"{wall:.1f} s",
            ]
        )
    VERDICTS["gateway"] = (
        f"Target (≥ 99% of answers succeed, no breaker opens): {'met' if worst >= 0.99 and not opens else 'NOT met'}.\n"
    )
    return rows


# -- 2. dead upstream -------------------------------------------------------------------------------------------------


@contextmanager
def refused_url() -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    yield f"http://127.0.0.1:{port}"  # closed again: nothing listens there


def dead(scale: float) -> list[list[str]]:
    policy = scaled(Policy(), scale)
    rows, met, medians, slowest = [], True, [], 0.0
    for kind in ("503", "refused"):
        for concurrency, target in ((1, 15), (8, 25)):
            if kind == "503":
                with run_sim(faults=["503:1.0,retry_after=none"], seed=0) as sim:
                    run = closed_loop(sim.base_url, policy, 40, concurrency)
            else:
                with refused_url() as url:
                    run = closed_loop(url, policy, 40, concurrency)
            rejected = sorted(c.elapsed for c in run.calls if c.rejected)
            met = met and run.attempts <= target
            if rejected:
                medians.append(statistics.median(rejected))
                slowest = max(slowest, rejected[-1])
            rows.append(
                [
                    "always 503" if kind == "503" else "connection refused",
                    str(concurrency),
                    "40",
                    f"{run.attempts} (≤ {target})",
                    f"{100 * run.success:.0f}%",
                    str(len(rejected)),
                    f"{statistics.median(rejected) * 1000:.2f} / {rejected[-1] * 1000:.1f} ms" if rejected else "-",
                    f"{max(c.elapsed for c in run.calls) / scale:.1f} s",
                ]
            )
            print(f"  dead {kind} c{concurrency}", file=sys.stderr)
    VERDICTS["dead"] = (
        f"Target (≤ 15 / ≤ 25 attempts): {'met' if met else 'NOT met'}. Calls rejected while open sent no request "
        f"and took {1000 * max(medians, default=0):.2f} ms at the median (< 50 ms: "
        f"{'met' if max(medians, default=0) < 0.05 else 'NOT met'}); the slowest took {1000 * slowest:.0f} ms, "
        "at concurrency 8 (8 caller threads, the simulator and the rest of the machine on 2 shared cores), most "
        "likely time spent waiting for the GIL or a core rather than in the breaker.\n"
    )
    return rows


# -- 3. brownout ------------------------------------------------------------------------------------------------------


def open_loop(base_url: str, policy: Policy, rate: float, duration: float) -> Run:
    """Offer `rate` calls a second for `duration` seconds, whatever the answers (calls do not wait for each other)."""
    hooks = Counting()
    call = _client(base_url, policy, hooks)
    started = time.perf_counter()
    futures = []
    with ThreadPoolExecutor(512) as pool:
        n = 0
        while (due := started + n / rate) < started + duration:
            time.sleep(max(0.0, due - time.perf_counter()))
            futures.append(pool.submit(call))
            n += 1
        outcomes = [f.result() for f in futures]
    return Run(outcomes, hooks.attempts, hooks.opens, time.perf_counter() - started)


def brownout(scale: float, rate: float = 20.0, seconds: float = 60.0) -> list[list[str]]:
    rows = []
    for name, policy in (
        ("default Policy (retry budget 1.0 × first attempts)", Policy()),
        ("the same without a retry budget", Policy(retry_budget=None)),
    ):
        with run_sim(faults=["503:0.8,retry_after=none"], seed=0) as sim:
            run = open_loop(sim.base_url, scaled(policy, scale), rate / scale, seconds * scale)
        print(f"  brownout: {name}", file=sys.stderr)
        if policy.retry_budget is not None:
            VERDICTS["brownout"] = (
                f"Target (load ≤ 2× offered with the budget): {'met' if run.per_call <= 2.0 else 'NOT met'} "
                f"({run.per_call:.2f}×).\n"
            )
        rows.append(
            [
                name,
                f"{rate:g}/s × {seconds:g} s = {len(run.calls)}",
                str(run.attempts),
                f"{run.per_call:.2f}×",
                f"{100 * run.success:.1f}%",
                str(run.opens),
            ]
        )
    return rows


# -- 4. outage recovery -----------------------------------------------------------------------------------------------


@dataclass
class Recovery:
    """One outage: when the breaker opened and when traffic came back (compressed seconds), what it cost."""

    opened_after: float | None
    resumed_after: float | None
    attempts_in_outage: int
    failed: int


class PacedCallers:
    """`callers` threads, each starting a call every `interval` seconds (or when the previous one ends)."""

    def __init__(self, call: Callable[[], Outcome], callers: int, interval: float) -> None:
        self.call, self.interval = call, interval
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.outcomes: list[Outcome] = []
        self.threads = [threading.Thread(target=self._work) for _ in range(callers)]

    def _work(self) -> None:
        while not self.stop.is_set():
            began = time.perf_counter()
            out = self.call()
            with self.lock:
                self.outcomes.append(out)
            self.stop.wait(max(0.0, self.interval - (time.perf_counter() - began)))

    def first_success_after(self, moment: float) -> float | None:
        with self.lock:
            return min((o.ended for o in self.outcomes if o.ok and o.ended > moment), default=None)

    def __enter__(self) -> PacedCallers:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join()


def outage_run(policy: Policy, scale: float, outage: float, callers: int, pace: float) -> Recovery:
    with run_sim(seed=0) as sim:
        hooks = Counting()
        with PacedCallers(_client(sim.base_url, scaled(policy, scale), hooks), callers, pace * scale) as load:
            time.sleep(2.0 * scale)  # healthy traffic first: the breaker's window is full of successes
            sim.set_faults(["503:1.0,retry_after=none"])
            outage_start = time.perf_counter()
            before = hooks.attempts
            while hooks.opens == 0 and time.perf_counter() - outage_start < outage * scale:
                time.sleep(0.001)
            opened = time.perf_counter() - outage_start if hooks.opens else None
            time.sleep(max(0.0, outage_start + outage * scale - time.perf_counter()))
            sim.set_faults([])
            outage_end = time.perf_counter()
            in_outage = hooks.attempts - before
            limit = outage_end + 45.0 * scale
            while (resumed := load.first_success_after(outage_end)) is None and time.perf_counter() < limit:
                time.sleep(0.001)
        failed = sum(not o.ok for o in load.outcomes)
    return Recovery(opened, None if resumed is None else resumed - outage_end, in_outage, failed)


def recovery(scale: float, outage: float = 10.0, callers: int = 8, pace: float = 0.2) -> list[list[str]]:
    rows = []
    for name, policy in (
        ("default Policy (first probe after 1 s, × 1.5 per failed probe, ≤ 30 s)", Policy()),
        ("seed behaviour: a fixed 30 s pause (breaker_probe_after=None)", Policy(breaker_probe_after=None)),
    ):
        r = outage_run(policy, scale, outage, callers, pace)
        print(f"  recovery: {name}", file=sys.stderr)
        if policy.breaker_probe_after is not None:
            lag = None if r.resumed_after is None else r.resumed_after / scale
            VERDICTS["recovery"] = (
                f"Target (traffic back within about 5 s of the end): "
                f"{'met' if lag is not None and lag <= 5.5 else 'NOT met'}.\n"
            )
        rows.append(
            [
                name,
                f"{outage:g} s",
                f"{r.opened_after / scale:.1f} s" if r.opened_after is not None else "never",
                str(r.attempts_in_outage),
                f"{r.resumed_after / scale:.1f} s" if r.resumed_after is not None else "> 45 s",
                str(r.failed),
            ]
        )
    return rows


# -- output -----------------------------------------------------------------------------------------------------------


def table(title: str, header: list[str], rows: list[list[str]]) -> str:
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=400, help="calls per storm run (default 400)")
    parser.add_argument("--seeds", type=int, default=10, help="seeded storm runs per concurrency (default 10)")
    parser.add_argument("--scale", type=float, default=0.1, help="time compression factor (default 0.1; 1 = real)")
    parser.add_argument(
        "--skip", action="append", default=[], choices=["storm", "check", "gateway", "dead", "brownout", "recovery"]
    )
    parser.add_argument("--gateway-seeds", type=int, default=3, help="seeded storm runs through the gateway")
    parser.add_argument(
        "--brownout-scale",
        type=float,
        default=0.5,
        help="time compression of the 60 s brownout (default 0.5: at 0.1 it offers 200 calls/s and the loaded "
        "machine's own stalls of ~0.3 s would pass for the breaker's 3 s silence)",
    )
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    logging.getLogger("claudewire").setLevel(logging.ERROR)  # every give-up is a WARNING: thousands here
    scale = args.scale
    started = time.perf_counter()
    sections = []
    if "storm" not in args.skip:
        print("storm ...", file=sys.stderr)
        rows, verdicts = storm(args.calls, args.seeds, scale)
        sections.append(
            table(
                f"Storm: 35% transient faults, {args.calls} calls a run, {args.seeds} seeds per concurrency",
                [
                    "concurrency",
                    "runs",
                    "breaker opens",
                    "worst run success",
                    "median success",
                    "attempts / call (median)",
                    "attempts / call (worst)",
                    "slowest call",
                    "run wall time (compressed)",
                    "failed calls, all runs (why)",
                ],
                rows,
            )
            + "\nTarget (no opens, every run ≥ 99.5%, ≤ 1.6 attempts/call): "
            + ", ".join(verdicts)
            + ".\n"
        )
    if "check" not in args.skip and scale != 1.0:
        print("scale check ...", file=sys.stderr)
        sections.append(
            table(
                "Scale check and baseline: one storm (seed 0, concurrency 8) in real time, compressed, and with the "
                "official SDK's own retries",
                ["client", "calls", "breaker opens", "success", "attempts / call", "wall time"],
                scale_check(args.calls, scale),
            )
        )
    if "gateway" not in args.skip:
        print("gateway storm ...", file=sys.stderr)
        sections.append(
            table(
                f"Storm through the gateway: 35% transient faults, concurrency 64 from 4 SDK clients (max_retries=0), "
                f"{args.calls * 2} calls a run",
                ["seed", "clients × threads", "calls", "answers 200", "attempts / call", "breaker opens", "wall"],
                gateway_storm(args.calls * 2, args.gateway_seeds, scale),
            )
            + "\n"
            + VERDICTS["gateway"]
        )
    if "dead" not in args.skip:
        print("dead upstream ...", file=sys.stderr)
        sections.append(
            table(
                "Dead upstream: 40 calls",
                [
                    "upstream",
                    "concurrency",
                    "calls",
                    "upstream attempts",
                    "success",
                    "rejected unsent",
                    "rejection time (median / slowest)",
                    "slowest call",
                ],
                dead(scale),
            )
            + "\n"
            + VERDICTS["dead"]
        )
    if "brownout" not in args.skip:
        print("brownout ...", file=sys.stderr)
        sections.append(
            table(
                "Brownout: 80% of attempts answered 503 for 60 s, open-loop offered load "
                f"(time ×{args.brownout_scale:g})",
                ["policy", "offered calls", "upstream attempts", "load / offered", "success", "breaker opens"],
                brownout(args.brownout_scale),
            )
            + "\n"
            + VERDICTS["brownout"]
        )
    if "recovery" not in args.skip:
        print("outage recovery ...", file=sys.stderr)
        sections.append(
            table(
                "Outage recovery: 8 callers (one call each per 0.2 s), 503 for 10 s after healthy traffic",
                [
                    "policy",
                    "outage",
                    "breaker opened after",
                    "attempts in the outage",
                    "traffic resumed after the end",
                    "failed calls",
                ],
                recovery(scale),
            )
            + "\n"
            + VERDICTS["recovery"]
        )
    command = "python bench/chaos.py " + " ".join(sys.argv[1:])
    text = "\n".join(
        [
            SECTION,
            "",
            f"Command: `{command.strip()}` — {time.strftime('%Y-%m-%d')}, official SDK {anthropic.__version__}, "
            f"simulator in-process on 127.0.0.1, clients on threads, time compressed ×{scale:g} (durations given "
            f"back in real seconds), {time.perf_counter() - started:.0f} s wall on a shared 2-core machine.",
            "",
            READING,
            "",
            *sections,
        ]
    )
    print(text)
    if not args.no_write:
        write_section(Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md", text)


def write_section(path: Path, text: str) -> None:
    """Replace this bench's section of `path` (up to the next ``## `` heading), or append it."""
    doc = path.read_text()
    start = doc.find(SECTION)
    if start < 0:
        path.write_text(doc.rstrip("\n") + "\n\n" + text)
        return
    end = doc.find("\n## ", start + len(SECTION))
    rest = doc[end + 1 :] if end >= 0 else ""
    path.write_text(doc[:start] + text.rstrip("\n") + "\n\n" + rest)


if __name__ == "__main__":
    main()
