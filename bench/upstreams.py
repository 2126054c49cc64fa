"""The upstream pool's cost: the gateway with one upstream vs three, side by side in one run.

    python bench/upstreams.py            # 5 s per load, 3 rounds, medians; writes docs/benchmarks.md
    python bench/upstreams.py --quick    # 2 s, 1 round, prints only

Same rig as bench/gateway.py (whose helpers it uses): `claudewire sim` (pacing off) and wrk on core 0, the gateway
under test alone on core 1, loads JSON and SSE at concurrency 1 and 64, the servers' order rotated every round.
Three gateways, all with policy, metrics and a JSON access log on:

- one upstream (`--upstream SIM`), the figures the issue compares against;
- three upstreams (`--upstream SIM --upstream SIM2 --upstream SIM3`: priorities 0, 1, 2; all healthy, so every
  request goes to SIM and the others stand by): the pool's choice on every request;
- three upstreams with two gateway-held keys each (a claudewire.toml, client tokens): the choice among keys by
  rate-limit headroom and the credential swap on top.

The target: throughput and added p50 within 5% of the one-upstream gateway. On a shared, loaded machine only the
ratios measured in the same run mean something, and wrk's figures swing by tens of percent from one 5 s run to the
next; so the script also measures what the pool adds per request in-process, where the noise is smaller: one call
flow round trip (choose, gate, send, record, done) with the single-upstream chooser and with pools of 1, 3 and 3x2
members, interleaved, median of the rounds.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import timeit
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gateway as rig  # bench/gateway.py: spawn, run_wrk, lua, Target, measure

START, END = "<!-- bench/upstreams.py:start -->", "<!-- bench/upstreams.py:end -->"
TOKEN = "cw-bench-token-000000000000"


def _sim(stack: contextlib.ExitStack) -> tuple[str, int]:
    port = rig.free_port()
    stack.enter_context(rig.spawn(
        [sys.executable, "-m", "claudewire", "sim", "--port", str(port), "--pacing", "off", "--rpm", "1000000000",
         "--tpm", "1000000000000"], port, "0"))  # fmt: skip
    return f"http://127.0.0.1:{port}", port


def decision_costs(rounds: int = 9, number: int = 20000) -> dict[str, float]:
    """Median µs of one call flow round trip per chooser, the variants interleaved round by round."""
    from claudewire.policy import Outcome, PolicyEngine, call_flow
    from claudewire.policy.flow import OneTarget
    from claudewire.policy.pool import Member, Pool, PoolChooser

    engine = PolicyEngine()
    answer = Outcome(
        None, {"anthropic-ratelimit-requests-remaining": "3999", "anthropic-ratelimit-tokens-remaining": "40000"}
    )

    def trip(chooser: object) -> None:
        flow = call_flow(engine, chooser)  # type: ignore[arg-type]
        next(flow)
        with contextlib.suppress(StopIteration):
            flow.send(answer)

    single = OneTarget(Member("one", 0))
    variants: dict[str, Callable[[], None]] = {"single-upstream chooser (no pool)": lambda: trip(single)}
    for label, upstreams, keys in (
        ("pool, 1 upstream", 1, 1),
        ("pool, 3 upstreams", 3, 1),
        ("pool, 3 upstreams x 2 keys", 3, 2),
    ):
        members = [Member(f"u{i}", k, priority=i) for i in range(upstreams) for k in range(keys)]
        pool = Pool(members, engine, clock=engine.clock)
        targets = {m.key: m for m in members}
        variants[label] = lambda pool=pool, targets=targets: trip(PoolChooser(pool, targets))  # type: ignore[misc]
    samples: dict[str, list[float]] = {label: [] for label in variants}
    for _ in range(rounds):
        for label, fn in variants.items():
            samples[label].append(timeit.timeit(fn, number=number) / number * 1e6)
    return {label: statistics.median(values) for label, values in samples.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run")
    ap.add_argument("--rounds", type=int, default=3, help="rounds (medians are reported)")
    ap.add_argument("--quick", action="store_true", help="2 s, 1 round, nothing written")
    args = ap.parse_args()
    if args.quick:
        args.duration, args.rounds = 2.0, 1
    with tempfile.TemporaryDirectory(prefix="cw-pool-") as tmpdir, contextlib.ExitStack() as stack:
        tmp = Path(tmpdir)
        first, _ = _sim(stack)
        spares = [_sim(stack)[0] for _ in range(2)]
        targets = [rig.Target("direct (simulator)", first, None)]
        toml = tmp / "claudewire.toml"
        tables = []
        for i, url in enumerate([first, *spares]):
            keys = ", ".join(f'"sk-ant-bench-{i}-{k}-0000000000000000"' for k in range(2))
            tables.append(f'[[upstreams]]\nname = "u{i}"\nurl = "{url}"\nkeys = [{keys}]\npriority = {i}\n')
        toml.write_text(f'tokens = ["{TOKEN}"]\n\n' + "\n".join(tables))
        variants = [
            ("claudewire, 1 upstream", ["--upstream", first], rig.KEY),
            (
                "claudewire, 3 upstreams",
                ["--upstream", first, "--upstream", spares[0], "--upstream", spares[1]],
                rig.KEY,
            ),
            ("claudewire, 3 upstreams x 2 keys", ["--config", str(toml)], TOKEN),
        ]
        for label, flags, key in variants:
            port = rig.free_port()
            proc = stack.enter_context(rig.spawn(
                [sys.executable, "-m", "claudewire", "proxy", "--port", str(port), *flags,
                 "--access-log", str(tmp / f"{port}.log")], port, "1"))  # fmt: skip
            targets.append(rig.Target(label, f"http://127.0.0.1:{port}", proc, key=key))
        results = rig.measure(targets, tmp, args.rounds, args.duration)
    med = statistics.median
    names = [t.name for t in targets]
    one = names[1]
    lines = [
        "| server | load | req/s | ÷ 1 upstream | p50 | added p50 | added p50 ÷ 1 upstream | CPU µs/req | errors |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for kind, conns in rig.LOADS:
        base = results[(names[0], kind, conns)]
        single = results[(one, kind, conns)]
        single_added = med(single.p50) - med(base.p50)
        for name in names:
            r = results[(name, kind, conns)]
            added = med(r.p50) - med(base.p50)
            vs_one = "—" if name in (names[0], one) else f"{med(r.rps) / med(single.rps):.1%}"
            added_ratio = "—" if name in (names[0], one) or single_added <= 0 else f"{added / single_added:.2f}"
            shown = "—" if name == names[0] else f"{added:+.3f} ms"
            lines.append(
                f"| {name} | {kind} c{conns} | {med(r.rps):,.0f} | {vs_one} | {med(r.p50):.3f} ms | {shown} | "
                f"{added_ratio} | {med(r.cpu_us):.0f} | {r.errors} |"
            )
    costs = decision_costs(rounds=3 if args.quick else 9)
    base_cost = next(iter(costs.values()))
    lines += [
        "",
        "| per-request decision (in-process) | µs per call (median) | added over the single-upstream chooser |",
        "|---|---|---|",
    ]
    for label, cost in costs.items():
        lines.append(f"| {label} | {cost:.2f} | {'—' if cost == base_cost else f'{cost - base_cost:+.2f} µs'} |")
    table = "\n".join(lines)
    print(table)
    if args.quick:
        return
    about = (
        ", same rig as above, all servers in one run (order rotated per round). The three-upstream gateways send "
        "everything to their healthy priority-0 upstream (the same simulator as the one-upstream gateway); the spares "
        "stand by. The machine is shared: read the ratios, not the absolutes."
    )
    rig.record((START, END), "## Several upstreams (bench/upstreams.py)", rig.command("upstreams.py", args), args,
               about, table)  # fmt: skip


if __name__ == "__main__":
    main()
