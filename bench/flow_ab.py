"""The gateway before and after a change, side by side in one run: direct, nginx and two claudewire builds.

    python bench/flow_ab.py --before 28dc19e            # the gateway before the call-flow refactor vs this tree
    python bench/flow_ab.py --before 28dc19e --also dafc380   # and a build in between
    python bench/flow_ab.py --before 28dc19e --quick    # 2 s, 1 round, prints only
    python bench/flow_ab.py --micro                     # in-process: one call through the flow vs gate()/record()

Same rig as bench/gateway.py (whose helpers it uses): the simulator (pacing off) and wrk on core 0, the server under
test alone on core 1, loads JSON and SSE at concurrency 1 and 64, the servers' order rotated every round. The
"before" build is a `git worktree` of `--before` in a temporary directory, run with its own sources first on
PYTHONPATH; both builds run with policy, metrics and a JSON access log on. On a shared, loaded machine absolute
numbers move from run to run: compare the builds through their ratios to direct and to nginx measured in the same
run. Writes its table between the flow_ab markers of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gateway as rig  # bench/gateway.py: spawn, run_wrk, lua, Target, cpu_seconds

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- bench/flow_ab.py:start -->", "<!-- bench/flow_ab.py:end -->"


def micro() -> None:
    """One successful call's policy work, timed in-process (timeit, the best of 15 repeats, interleaved)."""
    import timeit
    from dataclasses import dataclass

    from claudewire.policy import OneTarget, Outcome, PolicyEngine, call_flow

    @dataclass(frozen=True, slots=True)
    class Up:
        key: str

    engine = PolicyEngine()
    chooser = OneTarget(Up("http://127.0.0.1:8780"))

    def by_hand() -> None:
        call = engine.start("http://127.0.0.1:8780")
        call.gate()
        call.record(None)

    def through_the_flow() -> None:
        flow = call_flow(engine, chooser)
        next(flow)
        with contextlib.suppress(StopIteration):
            flow.send(Outcome(None, None))
        flow.close()

    best: dict[str, float] = {}
    for _ in range(3):
        for fn in (by_hand, through_the_flow):
            t = min(timeit.repeat(fn, number=20_000, repeat=5)) / 20_000 * 1e6
            best[fn.__name__] = min(t, best.get(fn.__name__, t))
    print("| one call, one attempt, success | µs |\n|---|---|")
    for name, t in best.items():
        print(f"| {name.replace('_', ' ')} | {t:.2f} |")
    print(f"flow / by hand: {best['through_the_flow'] / best['by_hand']:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", help="git ref of the 'before' build (required unless --micro)")
    ap.add_argument("--micro", action="store_true", help="time one call through the flow vs gate()/record() by hand")
    ap.add_argument("--also", action="append", default=[], help="git ref of another build to measure (repeatable)")
    ap.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run")
    ap.add_argument("--rounds", type=int, default=3, help="rounds (medians are reported)")
    ap.add_argument("--quick", action="store_true", help="2 s, 1 round, nothing written")
    args = ap.parse_args()
    if args.micro:
        micro()
        return
    if not args.before:
        ap.error("--before REF is required")
    if args.quick:
        args.duration, args.rounds = 2.0, 1

    def short(ref: str) -> str:
        out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", ref], check=True, capture_output=True,
                             text=True)  # fmt: skip
        return out.stdout.strip()

    before = short(args.before)
    others = [short(ref) for ref in args.also]
    after = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], check=True,
                           capture_output=True, text=True).stdout.strip()  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="cw-ab-") as tmpdir, contextlib.ExitStack() as stack:
        tmp = Path(tmpdir)
        builds: list[tuple[str, Path]] = []
        for label, ref in [(f"claudewire {before} (before)", before)] + [(f"claudewire {r}", r) for r in others]:
            tree = tmp / ref
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(tree), ref], check=True)
            stack.callback(subprocess.run, ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)])
            builds.append((label, tree / "src"))
        builds.append((f"claudewire {after} (after)", ROOT / "src"))
        sim_port = rig.free_port()
        sim = stack.enter_context(rig.spawn(
            [sys.executable, "-m", "claudewire", "sim", "--port", str(sim_port), "--pacing", "off",
             "--rpm", "1000000000", "--tpm", "1000000000000"], sim_port, "0"))  # fmt: skip
        upstream = f"http://127.0.0.1:{sim_port}"
        targets = [rig.Target("direct (simulator)", upstream, sim)]
        for label, src in builds:
            port = rig.free_port()
            env = {"PYTHONPATH": f"{src}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
            proc = stack.enter_context(rig.spawn(
                [sys.executable, "-m", "claudewire", "proxy", "--port", str(port), "--upstream", upstream,
                 "--access-log", str(tmp / f"{port}.log")], port, "1", env=env))  # fmt: skip
            targets.append(rig.Target(label, f"http://127.0.0.1:{port}", proc))
        if (ref := rig.nginx_target(stack, tmp, sim_port)) is not None:
            targets.append(ref)
        results = rig.measure(targets, tmp, args.rounds, args.duration)
    med = statistics.median
    names = [t.name for t in targets]
    has_nginx = "nginx (reference)" in names
    lines = [
        "| server | load | req/s | ÷ direct | ÷ nginx | p50 | added p50 | CPU µs/req | errors |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for kind, conns in rig.LOADS:
        base = results[(names[0], kind, conns)]
        ref = results.get(("nginx (reference)", kind, conns)) if has_nginx else None
        for name in names:
            r = results[(name, kind, conns)]
            vs_direct = "—" if name == names[0] else f"{med(r.rps) / med(base.rps):.0%}"
            vs_nginx = f"{med(r.rps) / med(ref.rps):.0%}" if ref is not None else "n/a"
            added = "—" if name == names[0] else f"{med(r.p50) - med(base.p50):+.2f} ms"
            lines.append(
                f"| {name} | {kind} c{conns} | {med(r.rps):,.0f} | {vs_direct} | {vs_nginx} | {med(r.p50):.2f} ms | "
                f"{added} | {med(r.cpu_us):.0f} | {r.errors} |"
            )
    table = "\n".join(lines)
    print(table)
    if args.quick:
        return
    cmd = rig.command("flow_ab.py", args, f"--before {args.before}", *(f"--also {r}" for r in args.also))
    about = ", same rig as above, all servers in one run (order rotated per round)."
    heading = "### The gateway before and after the call-flow refactor (bench/flow_ab.py)"
    rig.record((START, END), heading, cmd, args, about, table)


if __name__ == "__main__":
    main()
