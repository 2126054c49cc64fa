"""Gateway benchmark: direct vs claudewire proxy vs LiteLLM's proxy vs nginx, under wrk, side by side in one run.

    python bench/gateway.py                 # 5 s per load, 3 rounds, medians; writes docs/benchmarks.md
    python bench/gateway.py --quick         # 2 s, 1 round, no LiteLLM; prints only
    python bench/gateway.py --state-ab      # claudewire with Redis state vs in-memory state, side by side
    python bench/gateway.py --workers 2     # claudewire with 2 workers (both on the server's core); /metrics timed

Rig (issue 5): the upstream (`claudewire sim` with pacing off, uvloop) and wrk share core 0; the server under test
runs alone on core 1 (taskset). Loads: POST /v1/messages JSON and SSE (stream: true) at concurrency 1 and 64; the
claudewire proxy is also measured as OpenAI clients reach it, POST /v1/chat/completions (translated request and answer,
issue 20), in the same run.
Columns: requests/s, wrk's p50/p99, added p50 over direct, server CPU µs per request (user+system time of the
server's process tree / requests) and peak RSS (VmHWM summed over the process tree).

claudewire runs with everything on: policy, metrics, JSON access log (to a file). LiteLLM is installed by this
script into its own venv under ~/.cache/claudewire-bench (never into this environment); nginx is used when the
`nginx` binary exists (Debian's nginx-light), as a reference reverse proxy with upstream keep-alive.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import hashlib
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "benchmarks.md"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "claudewire-bench"
MODEL = "claude-haiku-4-5"
KEY = "sk-ant-bench-0000000000000000"
LITELLM_KEY = "sk-litellm-bench-master-000000000000"
START, END = "<!-- bench/gateway.py:start -->", "<!-- bench/gateway.py:end -->"
STATE_START, STATE_END = "<!-- bench/gateway.py --state-ab:start -->", "<!-- bench/gateway.py --state-ab:end -->"
CLIENT_TOKEN = "cw-bench-client-token-000000000000"
LOADS = [("json", 1), ("json", 64), ("sse", 1), ("sse", 64)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port} after {timeout:.0f}s")


def tree(pid: int) -> list[int]:
    """`pid` and all its descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            m = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
            total += int(m.group(1)) if m else 0
    return total / 1024


@dataclass
class Target:
    """A server under test: its base URL, the process whose tree is measured, the key wrk sends."""

    name: str
    url: str
    proc: subprocess.Popen[bytes] | None
    key: str = KEY
    note: str = ""
    path: str = "/v1/messages"  # /v1/chat/completions: the OpenAI ingress (the same body, a bearer key)

    def pids(self) -> list[int]:
        return tree(self.proc.pid) if self.proc is not None else []


@dataclass
class Result:
    rps: list[float] = field(default_factory=list)
    p50: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)
    errors: int = 0


def lua(tmp: Path, kind: str, key: str, openai: bool = False) -> Path:
    """The wrk script of one load; `openai`: as an OpenAI client sends it (Authorization: Bearer, no version).

    The body reads the same in both dialects: model, max_tokens, stream and one user message."""
    stream = "true" if kind == "sse" else "false"
    body = f'{{"model":"{MODEL}","max_tokens":32,"stream":{stream},"messages":[{{"role":"user","content":"hello"}}]}}'
    path = tmp / f"{kind}-{abs(hash(key))}-{'openai' if openai else 'anthropic'}.lua"
    auth = (
        f'wrk.headers["authorization"] = "Bearer {key}"\n'
        if openai
        else f'wrk.headers["x-api-key"] = "{key}"\nwrk.headers["anthropic-version"] = "2023-06-01"\n'
    )
    path.write_text(
        f'wrk.method = "POST"\nwrk.body = \'{body}\'\nwrk.headers["content-type"] = "application/json"\n' + auth
    )
    return path


_UNIT = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def run_wrk(
    url: str, script: Path, conns: int, seconds: float, path: str = "/v1/messages"
) -> tuple[float, float, float, int, int]:
    """(requests/s, p50 ms, p99 ms, requests, non-2xx) from one pinned wrk run."""
    from sim import ensure_wrk  # bench/sim.py: installs Debian's wrk when it is missing

    out = subprocess.run(
        ["taskset", "-c", "0", ensure_wrk(), "-t1", f"-c{conns}", f"-d{max(1, round(seconds))}s", "--timeout", "30s",
         "--latency", "-s", str(script), f"{url}{path}"],
        capture_output=True, text=True, timeout=seconds + 60, check=True,
    ).stdout  # fmt: skip

    def pct(label: str) -> float:
        m = re.search(rf"^\s+{label}(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        return float(m.group(1)) * _UNIT[m.group(2)] if m else float("nan")

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(bad.group(1)) if bad else 0) + (sum(int(g) for g in errs.groups()) if errs else 0)
    return rps, pct("50"), pct("99"), total, errors


@contextlib.contextmanager
def spawn(
    cmd: list[str], port: int, core: str, env: dict[str, str] | None = None, log: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(["taskset", "-c", core, *cmd], stdout=out, stderr=subprocess.STDOUT,
                            env={**os.environ, **(env or {})}, start_new_session=True)  # fmt: skip
    try:
        wait_port(port, proc)
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        if log:
            out.close()  # type: ignore[union-attr]


def litellm_bin(install: bool) -> Path | None:
    venv = CACHE / "litellm"
    exe = venv / "bin" / "litellm"
    if exe.exists():
        return exe
    if not install:
        return None
    print("installing LiteLLM's proxy into", venv, "(its own venv) ...", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "litellm[proxy]"], check=True, timeout=900)
    except (subprocess.SubprocessError, OSError) as exc:
        print("LiteLLM could not be installed:", exc, flush=True)
        return None
    return exe if exe.exists() else None


def serve_aiohttp_proxy(port: int, upstream: str) -> None:
    """A plain aiohttp reverse proxy (no policy, no metrics, no log): the design claudewire's was measured against."""
    import asyncio

    import aiohttp
    import uvloop
    from aiohttp import web

    hop = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}

    async def main() -> None:
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=None), auto_decompress=False
        )

        async def handle(request: web.Request) -> web.StreamResponse:
            headers = {k: v for k, v in request.headers.items() if k.lower() not in hop}
            async with session.request(request.method, upstream + request.rel_url.raw_path_qs, headers=headers,
                                       data=await request.read()) as up:  # fmt: skip
                out = web.StreamResponse(status=up.status, headers={k: v for k, v in up.headers.items()
                                                                      if k.lower() not in hop})  # fmt: skip
                await out.prepare(request)
                async for chunk in up.content.iter_any():
                    await out.write(chunk)
                await out.write_eof()
                return out

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        await asyncio.Event().wait()

    uvloop.run(main())


def fmt_ms(v: float) -> str:
    return f"{v:.2f} ms" if v == v else "n/a"


def nginx_target(stack: contextlib.ExitStack, tmp: Path, upstream_port: int) -> Target | None:
    """nginx as a reference reverse proxy (upstream keep-alive, no buffering) on core 1, or None without nginx."""
    nginx = shutil.which("nginx")
    if not nginx:
        return None
    port = free_port()
    (tmp / "logs").mkdir(exist_ok=True)
    (tmp / "nginx.conf").write_text(f"""
worker_processes 1; pid {tmp}/nginx.pid; error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  upstream up {{ server 127.0.0.1:{upstream_port}; keepalive 128; }}
  server {{
    listen 127.0.0.1:{port};
    client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy;
    location / {{ proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection "";
                 proxy_buffering off; }}
  }}
}}
""")
    proc = stack.enter_context(spawn(
        [nginx, "-c", str(tmp / "nginx.conf"), "-p", str(tmp), "-g", "daemon off;"], port, "1"))  # fmt: skip
    return Target("nginx (reference)", f"http://127.0.0.1:{port}", proc, note="no policy")


def scrape_ms(url: str, n: int = 100) -> tuple[float, float]:
    """p50 and p99 ms of GET /metrics, each on a new connection (under --workers the kernel picks who answers)."""
    import urllib.request

    times = []
    for _ in range(n):
        started = time.perf_counter()
        with urllib.request.urlopen(f"{url}/metrics", timeout=10) as answer:
            answer.read()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[min(n - 1, round(n * 0.99))]


def measure(
    targets: list[Target],
    tmp: Path,
    rounds: int,
    duration: float,
    after: Callable[[Target, str, int], None] | None = None,
) -> dict[tuple[str, str, int], Result]:
    """Every load against every target, `rounds` times, the order rotated each round; results by (name, kind, c).
    `after(target, kind, conns)` is called after each run."""
    results: dict[tuple[str, str, int], Result] = {}
    for rnd in range(rounds):
        for kind, conns in LOADS:
            order = targets[rnd % len(targets) :] + targets[: rnd % len(targets)]
            for t in order:
                seconds = duration
                if t.name.startswith("LiteLLM"):
                    seconds = min(seconds, 3.0)  # it is ~100x slower; a short run says as much
                pids = t.pids()
                before = cpu_seconds(pids)
                openai = t.path != "/v1/messages"
                rps, p50, p99, total, errors = run_wrk(t.url, lua(tmp, kind, t.key, openai), conns, seconds, t.path)
                used = cpu_seconds(pids) - before
                r = results.setdefault((t.name, kind, conns), Result())
                r.rps.append(rps)
                r.p50.append(p50)
                r.p99.append(p99)
                r.cpu_us.append(used / total * 1e6 if total else float("nan"))
                r.errors += errors
                if after is not None:
                    after(t, kind, conns)
                print(f"round {rnd + 1} {t.name:30} {kind} c{conns:<3} {rps:9.0f} req/s  p50 {fmt_ms(p50)}",
                      flush=True)  # fmt: skip
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run")
    ap.add_argument("--rounds", type=int, default=3, help="rounds (medians are reported)")
    ap.add_argument("--quick", action="store_true", help="2 s, 1 round, no LiteLLM, nothing written")
    ap.add_argument("--no-litellm", action="store_true")
    ap.add_argument("--no-nginx", action="store_true")
    ap.add_argument("--no-write", action="store_true", help="print the table only")
    ap.add_argument("--no-aiohttp", action="store_true", help="skip the plain aiohttp proxy")
    ap.add_argument("--state-ab", action="store_true", help="Redis state vs in-memory state only (issue 12)")
    ap.add_argument("--serve-aiohttp-proxy", nargs=2, metavar=("PORT", "UPSTREAM"), help=argparse.SUPPRESS)
    ap.add_argument("--scanner", metavar="REV", help="time the SSE scanner per stream: this tree vs git REV")
    ap.add_argument("--workers", type=int, default=1, help="claudewire proxy --workers N, on the server's one core")
    ap.add_argument("--also", metavar="SRC", help="a second claudewire from this src/ directory (an A/B in one run)")
    args = ap.parse_args()
    if args.scanner:
        scanner_ab(args.scanner)
        return
    if args.serve_aiohttp_proxy:
        serve_aiohttp_proxy(int(args.serve_aiohttp_proxy[0]), args.serve_aiohttp_proxy[1])
        return
    if args.quick:
        args.duration, args.rounds, args.no_litellm, args.no_write = 2.0, 1, True, True
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            sys.exit(f"bench/gateway.py needs `{tool}` (apt-get install wrk util-linux)")
    if (os.cpu_count() or 1) < 2:
        sys.exit("bench/gateway.py needs 2 cores (upstream + wrk on one, the server on the other)")
    if args.state_ab:
        state_ab(args)
        return

    with tempfile.TemporaryDirectory(prefix="cw-gw-bench-") as tmpdir, contextlib.ExitStack() as stack:
        tmp = Path(tmpdir)
        sim_port = free_port()
        sim = stack.enter_context(spawn(
            [sys.executable, "-m", "claudewire", "sim", "--port", str(sim_port), "--pacing", "off",
             "--rpm", "1000000000", "--tpm", "1000000000000"], sim_port, "0"))  # fmt: skip
        upstream = f"http://127.0.0.1:{sim_port}"
        targets = [Target("direct (simulator)", upstream, sim)]

        port = free_port()
        proc = stack.enter_context(spawn(
            [sys.executable, "-m", "claudewire", "proxy", "--port", str(port), "--upstream", upstream,
             "--access-log", str(tmp / "access.log"), "--workers", str(args.workers)], port, "1"))  # fmt: skip
        name = "claudewire proxy" + (f" (--workers {args.workers})" if args.workers > 1 else "")
        targets.append(Target(name, f"http://127.0.0.1:{port}", proc, note="policy+metrics+log"))
        # the same process answering OpenAI clients: translated both ways on the same call flow
        targets.append(
            Target(f"{name} /v1/chat/completions", f"http://127.0.0.1:{port}", proc, path="/v1/chat/completions")
        )
        if args.also:
            port = free_port()
            proc = stack.enter_context(spawn(
                [sys.executable, "-m", "claudewire", "proxy", "--port", str(port), "--upstream", upstream,
                 "--access-log", str(tmp / "access-b.log"), "--workers", str(args.workers)], port, "1",
                env={"PYTHONPATH": args.also}))  # fmt: skip
            targets.append(Target(f"{name} from {args.also}", f"http://127.0.0.1:{port}", proc, note="A/B"))

        if not args.no_aiohttp:
            port = free_port()
            proc = stack.enter_context(spawn(
                [sys.executable, __file__, "--serve-aiohttp-proxy", str(port), upstream], port, "1"))  # fmt: skip
            targets.append(Target("plain aiohttp proxy", f"http://127.0.0.1:{port}", proc, note="no policy"))

        if not args.no_nginx and (ref := nginx_target(stack, tmp, sim_port)) is not None:
            targets.append(ref)

        litellm_note = ""
        exe = None if args.no_litellm else litellm_bin(install=True)
        if exe is not None:
            port = free_port()
            cfg = tmp / "litellm.yaml"
            cfg.write_text(
                f"model_list:\n  - model_name: {MODEL}\n    litellm_params:\n      model: anthropic/{MODEL}\n"
                f"      api_base: {upstream}\n      api_key: {KEY}\n"
            )
            env = {"LITELLM_MASTER_KEY": LITELLM_KEY, "LITELLM_LOCAL_MODEL_COST_MAP": "True",
                   "LITELLM_TELEMETRY": "False"}  # fmt: skip
            try:
                proc = stack.enter_context(spawn(
                    [str(exe), "--config", str(cfg), "--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"],
                    port, "1", env=env, log=tmp / "litellm.log"))  # fmt: skip
                version = subprocess.run([str(exe.parent / "python"), "-c",
                                          "import importlib.metadata as m; print(m.version('litellm'))"],
                                         capture_output=True, text=True).stdout.strip()  # fmt: skip
                targets.append(Target(f"LiteLLM {version} proxy", f"http://127.0.0.1:{port}", proc, LITELLM_KEY))
            except RuntimeError as exc:
                litellm_note = f"LiteLLM's proxy did not start: {exc}"
        elif not args.no_litellm:
            litellm_note = "LiteLLM's proxy could not be installed from PyPI on this machine"

        results = measure(targets, tmp, args.rounds, args.duration)
        for t in targets[1 : 3 if args.also else 2]:
            scrape = scrape_ms(t.url)
            print(f"{t.name} /metrics: p50 {scrape[0]:.2f} ms, p99 {scrape[1]:.2f} ms (100 scrapes)", flush=True)
        rss: dict[str, float] = {}
        for t in targets:
            rss[t.name] = peak_rss_mib(t.pids())

    med = statistics.median
    lines = [
        "| server | load | req/s | p50 | p99 | added p50 | server CPU µs/req | peak RSS | errors |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    direct = targets[0].name
    for kind, conns in LOADS:
        base = results[(direct, kind, conns)]
        for t in targets:
            r = results[(t.name, kind, conns)]
            added = "—" if t.name == direct else f"{med(r.p50) - med(base.p50):+.2f} ms"
            share = "" if t.name == direct else f" ({med(r.rps) / med(base.rps):.0%})"
            lines.append(
                f"| {t.name} | {kind} c{conns} | {med(r.rps):,.0f}{share} | {fmt_ms(med(r.p50))} | "
                f"{fmt_ms(med(r.p99))} | {added} | {med(r.cpu_us):.0f} | {rss[t.name]:.0f} MiB | {r.errors} |"
            )
    if litellm_note:
        lines.append(f"\n{litellm_note}.")
    table = "\n".join(lines)
    print(table)
    if args.no_write:
        return
    skipped = [f"--no-{name}" for name in ("litellm", "nginx", "aiohttp") if getattr(args, f"no_{name}")]
    about = "" if args.no_litellm else " (LiteLLM: 3 s)"
    about += (
        "; upstream `claudewire sim` (pacing off) and wrk on core 0, the server alone on core 1. In parentheses: "
        "share of direct's req/s."
    )
    record((START, END), "## Gateway (bench/gateway.py)", command("gateway.py", args, *skipped), args, about, table)


def state_ab(args: argparse.Namespace) -> None:
    """claudewire in tokens mode with a named, limited client: state in memory vs in a local redis-server."""
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        sys.exit("--state-ab needs redis-server (apt-get install redis-server)")
    digest = hashlib.sha256(CLIENT_TOKEN.encode()).hexdigest()
    with tempfile.TemporaryDirectory(prefix="cw-state-bench-") as tmpdir, contextlib.ExitStack() as stack:
        tmp = Path(tmpdir)
        sim_port, redis_port = free_port(), free_port()
        stack.enter_context(spawn(
            [sys.executable, "-m", "claudewire", "sim", "--port", str(sim_port), "--pacing", "off",
             "--rpm", "1000000000", "--tpm", "1000000000000"], sim_port, "0"))  # fmt: skip
        stack.enter_context(spawn(
            [redis_server, "--bind", "127.0.0.1", "--port", str(redis_port), "--save", "", "--appendonly", "no"],
            redis_port, "0"))  # fmt: skip
        targets = []
        for name, state in (("state in memory", "memory"), ("state in Redis", f"redis://127.0.0.1:{redis_port}/0")):
            config = tmp / f"{name.split()[-1].lower()}.toml"
            config.write_text(
                # a 1 s state timeout: on this loaded rig Redis answers can pass 50 ms, and an answer from local
                # state would measure memory in the Redis column (the count of such answers is printed too)
                f'upstream = "http://127.0.0.1:{sim_port}"\n[state]\nurl = "{state}"\ntimeout = 1.0\n[[clients]]\n'
                f'name = "bench"\ntoken_sha256 = "{digest}"\nrequests_per_minute = 1000000000\n'
                "tokens_per_minute = 1000000000000\n"
            )
            port = free_port()
            proc = stack.enter_context(spawn(
                [sys.executable, "-m", "claudewire", "proxy", "--port", str(port), "--config", str(config),
                 "--access-log", str(tmp / f"{port}.log")], port, "1", env={"ANTHROPIC_API_KEY": KEY}))  # fmt: skip
            targets.append(Target(f"claudewire, {name}", f"http://127.0.0.1:{port}", proc, CLIENT_TOKEN))
        seen = [(0, 0)]
        local: dict[tuple[str, int], list[int]] = {}  # (kind, conns) -> [answered locally, admitted]

        def after(target: Target, kind: str, conns: int) -> None:
            if target is targets[1]:  # the Redis one: how many of this run's admissions Redis did not answer
                now = _local_answers(target)
                counts = local.setdefault((kind, conns), [0, 0])
                counts[0] += now[0] - seen[0][0]
                counts[1] += now[1] - seen[0][1]
                seen[0] = now

        results = measure(targets, tmp, args.rounds, args.duration, after)
    lines = ab_table(results, targets, ("memory", "Redis"))
    table = "\n".join(lines)
    print(table)
    checked = "Admissions the Redis gateway answered from local state (Redis slower than its [state] timeout, 1 s): "
    checked += ", ".join(f"{k} c{c} {n / max(1, m):.1%}" for (k, c), (n, m) in local.items())
    checked += " (the Redis column measures Redis only where that is near 0)."
    print(checked)
    if args.no_write:
        return
    about = (
        ", the two gateways measured in turn in each round (order rotated). Both in tokens mode with one named client "
        "limited by requests_per_minute and tokens_per_minute (limits far above the load, so every request is counted "
        "and none refused): every request does one admission (in Redis: one Lua EVALSHA, pipelined per event-loop "
        "tick) and one settlement. redis-server, the simulator and wrk share core 0, the gateway is alone on core 1; "
        f"the machine is shared with other work, so only the ratio within a row means much. {checked}"
    )
    heading = "### Shared state: Redis vs in memory (bench/gateway.py --state-ab)"
    record((STATE_START, STATE_END), heading, command("gateway.py", args, "--state-ab"), args, about, table)


def _local_answers(target: Target) -> tuple[int, int]:
    """(admissions answered from local state, admissions) of a gateway in tokens mode, from its /metrics."""
    import urllib.request

    request = urllib.request.Request(target.url + "/metrics", headers={"x-api-key": target.key})
    with urllib.request.urlopen(request, timeout=10) as answer:
        text = answer.read().decode()
    local = re.search(r"^claudewire_state_local_answers_total (\S+)$", text, re.M)
    admitted = re.search(r'^claudewire_client_requests_total\{client="bench",outcome="admitted"\} (\S+)$', text, re.M)
    return int(float(local.group(1))) if local else -1, int(float(admitted.group(1))) if admitted else -1


def scanner_ab(rev: str) -> None:
    """µs of StreamScanner work per stream (the gateway feeds it every chunk), this tree against `rev`, one process.

    The stream is the simulator's (message_start, ping, 32 deltas, message_delta, message_stop) cut as it arrives
    on the rig: one event per chunk. Pure CPU, so the ratio holds on a loaded machine.
    """
    import importlib.util
    import timeit
    import types

    sys.path.insert(0, str(ROOT / "src"))
    from claudewire._sse import StreamScanner as New

    old_src = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{rev}:src/claudewire/_sse.py"], capture_output=True, text=True, check=True
    ).stdout
    spec = importlib.util.spec_from_loader("_sse_old", loader=None)
    assert spec is not None
    old = importlib.util.module_from_spec(spec)
    exec(compile(old_src, f"{rev}:_sse.py", "exec"), old.__dict__)  # our own file at a git revision
    assert isinstance(old, types.ModuleType)

    def event(name: str, data: str) -> bytes:
        return f"event: {name}\ndata: {data}\n\n".encode()

    usage = '"usage":{"input_tokens":12,"output_tokens":1}'
    start = f'{{"type":"message_start","message":{{"model":"{MODEL}",{usage}}}}}'
    chunks = [event("message_start", start), event("content_block_start", '{"type":"content_block_start"}'),
              event("ping", '{"type": "ping"}')]  # fmt: skip
    delta = '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello! I am the sim"}}'
    chunks += [event("content_block_delta", delta)] * 32
    chunks += [event("content_block_stop", '{"type":"content_block_stop","index":0}'),
               event("message_delta", '{"type":"message_delta","usage":{"output_tokens":32}}'),
               event("message_stop", '{"type":"message_stop"}')]  # fmt: skip

    def run(cls: type) -> float:
        def one() -> None:
            scanner = cls()
            for chunk in chunks:
                scanner.feed(chunk)
            assert scanner.saw_stop and scanner.usage.output_tokens == 32

        return min(timeit.repeat(one, number=2000, repeat=5)) / 2000 * 1e6

    before, after = run(old.StreamScanner), run(New)
    print("| scanner | µs per stream (38 chunks) |\n|---|---|")
    print(f"| {rev} | {before:.1f} |\n| this tree | {after:.1f} ({after / before:.0%}) |")


def write_block(start: str, end: str, block: str, heading: str) -> None:
    """Put `block` between the `start` and `end` markers of docs/benchmarks.md (appended under `heading` if new)."""
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip() + f"\n\n{heading}\n\n" + block + "\n"
    DOCS.write_text(text)
    print(f"written to {DOCS.relative_to(ROOT)}")


def command(script: str, args: argparse.Namespace, *flags: str) -> str:
    """The command line that reproduces a run: the script, `flags`, and --duration/--rounds unless the defaults."""
    timing = (
        "" if args.duration == 5.0 and args.rounds == 3 else f" --duration {args.duration:g} --rounds {args.rounds}"
    )
    return f"python bench/{script}" + "".join(f" {flag}" for flag in flags) + timing


def record(markers: tuple[str, str], heading: str, cmd: str, args: argparse.Namespace, about: str, table: str) -> None:
    """Write `table` to docs/benchmarks.md after a Command line: `cmd`, the date, rounds and duration, then `about`."""
    start, end = markers
    block = (
        f"{start}\nCommand: `{cmd}` — {datetime.date.today()}, medians of {args.rounds} round(s) of "
        f"{args.duration:g} s per load{about}\n\n{table}\n{end}"
    )
    write_block(start, end, block, heading)


def ab_table(results: dict[tuple[str, str, int], Result], pair: list[Target], names: tuple[str, str]) -> list[str]:
    """The rows comparing two servers measured in one run: req/s, their ratio, p50s and CPU per request, by load."""
    a, b = names
    med = statistics.median
    lines = [
        f"| load | {a} req/s | {b} req/s | {b} / {a} | {a} p50 | {b} p50 | CPU µs/req {a} → {b} | errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for kind, conns in LOADS:
        one, two = (results[(t.name, kind, conns)] for t in pair)
        lines.append(
            f"| {kind} c{conns} | {med(one.rps):,.0f} | {med(two.rps):,.0f} | {med(two.rps) / med(one.rps):.0%} | "
            f"{fmt_ms(med(one.p50))} | {fmt_ms(med(two.p50))} | {med(one.cpu_us):.0f} → {med(two.cpu_us):.0f} | "
            f"{one.errors + two.errors} |"
        )
    return lines


if __name__ == "__main__":
    main()
