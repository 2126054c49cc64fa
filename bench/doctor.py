"""How long `claudewire doctor` takes: healthy (against the simulator) and against a black-holed address.

    python3 bench/doctor.py              # prints the table and writes the "## Doctor" section of docs/benchmarks.md
    python3 bench/doctor.py --no-write   # prints only

Rows, each the median of several runs made in this one invocation:

- `claudewire doctor --sim` as a user runs it: a fresh process (interpreter start, imports, simulator start with
  a TLS certificate from a fresh CA, every check, rendering);
- the diagnosis alone against an already running healthy TLS simulator (what the checks cost);
- a black hole (a socket that accepts TCP and never speaks) at --timeout 1 and at the default 5 s: the run must end
  about one timeout after it starts, whatever the network does.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from claudewire.doctor import Settings, Status, run
from claudewire.sim import Pacing
from claudewire.testing import run_sim

KEY = "sk-ant-bench-doctor-0000000000"
DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
SECTION = "## Doctor"


def _median_ms(fn: Callable[[], None], runs: int) -> tuple[float, float, float]:
    times: list[float] = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), min(times), max(times)


def _cli_sim() -> None:
    env = {k: v for k, v in os.environ.items() if "PROXY" not in k.upper() and not k.startswith("ANTHROPIC_")}
    proc = subprocess.run(
        [sys.executable, "-m", "claudewire", "doctor", "--sim"], capture_output=True, env=env, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"doctor --sim failed:\n{proc.stdout.decode()}{proc.stderr.decode()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="runs per fast row (black holes at 5 s get 3)")
    parser.add_argument("--no-write", action="store_true", help="print only; do not touch docs/benchmarks.md")
    args = parser.parse_args()

    rows: list[tuple[str, int, tuple[float, float, float], str]] = []

    def import_sdk() -> None:
        subprocess.run([sys.executable, "-c", "import anthropic"], check=True)

    rows.append(
        ("baseline: `python3 -c 'import anthropic'` (new process)", args.runs, _median_ms(import_sdk, args.runs), "-")
    )
    rows.append(
        ("`claudewire doctor --sim` (new process, end to end)", args.runs, _median_ms(_cli_sim, args.runs), "pass")
    )

    with run_sim(tls=True, pacing=Pacing(ttft=0.0, per_token=0.01)) as sim:
        settings = Settings(base_url=sim.base_url, api_key=KEY, key_source="bench", ca_file=sim.ca_path)
        verdicts: list[str] = []

        def healthy() -> None:
            verdicts.append(run(settings).verdict.value)

        rows.append(
            (
                "diagnosis only, healthy TLS simulator",
                args.runs,
                _median_ms(healthy, args.runs),
                verdicts[-1] if verdicts else "",
            )
        )
        assert set(verdicts) == {"pass"}, verdicts

    with socket.socket() as hole:
        hole.bind(("127.0.0.1", 0))
        hole.listen(64)
        url = f"https://127.0.0.1:{hole.getsockname()[1]}"
        for timeout, runs in ((1.0, args.runs), (5.0, 3)):
            outcome: list[str] = []

            def black_hole(timeout: float = timeout, outcome: list[str] = outcome) -> None:
                report = run(Settings(base_url=url, api_key=KEY, key_source="bench", timeout=timeout))
                assert report.get("tls").status is Status.FAIL
                outcome.append(f"tls fail: {report.get('tls').detail.split(':')[0]}")

            label = f"black hole (accepts, never speaks), --timeout {timeout:g}"
            rows.append((label, runs, _median_ms(black_hole, runs), outcome[-1]))

    header = "| run | runs | median | min | max | outcome |\n|---|---:|---:|---:|---:|---|"
    lines = [header] + [
        f"| {label} | {n} | {med:.0f} ms | {lo:.0f} ms | {hi:.0f} ms | {outcome} |"
        for label, n, (med, lo, hi), outcome in rows
    ]
    table = "\n".join(lines)
    print(table)
    if args.no_write:
        return
    load = os.getloadavg()[0]
    section = (
        f"{SECTION}\n\n"
        "Wall time of `claudewire doctor`: healthy against the simulator (the README's first command), and against "
        "a black-holed address (a socket that accepts TCP and never speaks), which must end about one --timeout "
        "after it starts.\n\n"
        f"```sh\npython3 bench/doctor.py\n```\n\n{table}\n\n"
        f"{datetime.date.today().isoformat()}, Python {platform.python_version()}, "
        f"1-minute load average {load:.2f} at the end. The end-to-end row includes interpreter start and imports "
        "(the anthropic SDK, rich, aiohttp) and the simulator's start with a fresh TLS CA: most of it is importing "
        "the official SDK (the baseline row); the diagnosis itself is the third row.\n"
    )
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOCS.write_text(text.rstrip("\n") + "\n")
    print(f"wrote the {SECTION!r} section of {DOCS}")


if __name__ == "__main__":
    main()
