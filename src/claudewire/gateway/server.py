"""Running the gateway: sockets, the event loop (uvloop when installed), workers, clean shutdown.

`serve(config)` runs one gateway process until SIGINT/SIGTERM (SIGHUP re-reads the TLS certificate when it serves
HTTPS). `run(config)` is what the CLI calls: with
``workers > 1`` it forks that many processes, each binding the same port with SO_REUSEPORT so the kernel spreads
connections across them (each worker keeps its own pool, and its own limits and breaker unless ``state`` is Redis;
the worker that answers /metrics adds up every worker's: `workers.WorkerMetrics`). `GatewayThread` runs a gateway
in a background thread for tests and benchmarks.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable

from claudewire._clock import Clock
from claudewire._errors import Failure, FailureKind
from claudewire.gateway.accesslog import AccessLog
from claudewire.gateway.app import Gateway
from claudewire.gateway.config import GatewayConfig
from claudewire.gateway.downstream.errors import error_answer
from claudewire.gateway.downstream.http import Connection, Request
from claudewire.gateway.downstream.limits import HttpLimits, ServerState
from claudewire.gateway.downstream.tls import reload as reload_tls
from claudewire.gateway.downstream.tls import server_context
from claudewire.gateway.workers import WorkerMetrics, remove_run_directory, run_directory

__all__ = ["GatewayThread", "bind", "new_event_loop", "open_files_limit", "raise_open_files", "run", "serve"]


def raise_open_files() -> int:
    """Raise this process's soft open-file limit to its hard limit (each client connection is one); the new soft limit.

    The common default soft limit (1,024) lets about a thousand idle clients exhaust the gateway's descriptors.
    """
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        return 0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft == resource.RLIM_INFINITY or (soft != resource.RLIM_INFINITY and soft >= want):
        return int(soft)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    except (ValueError, OSError):  # e.g. macOS caps at OPEN_MAX below an unlimited hard limit
        return int(soft)
    return int(want)


def open_files_limit() -> int:
    """This process's soft open-file limit (0 when unknown)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        return 0
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return 0 if soft == resource.RLIM_INFINITY else int(soft)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop when it is installed (the ``fast`` extra), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def bind(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A listening TCP socket on `host`:`port` (port 0: a free one)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, addr = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(addr)
    sock.listen(2048)
    sock.setblocking(False)
    return sock


async def serve(
    config: GatewayConfig,
    *,
    sock: socket.socket | None = None,
    ready: Callable[[Gateway, int], None] | None = None,
    stop: asyncio.Event | None = None,
    drain: float = 10.0,
    clock: Clock | None = None,
    worker: tuple[str, int] | None = None,
) -> None:
    """Serve until `stop` is set or SIGINT/SIGTERM arrives; `ready(gateway, port)` is called once listening.

    On stop, new connections are refused and requests in flight get up to `drain` seconds to finish. `clock`: how
    the policy reads time and waits (tests: `claudewire.testing.FastClock`). `worker`: (the run's directory, this
    worker's index) under ``--workers N``, whose /metrics then adds up every worker's (`workers.WorkerMetrics`).
    """
    loop = asyncio.get_running_loop()
    gateway = Gateway(config, access_log=AccessLog.open(config.access_log), clock=clock)
    if worker is not None:
        gateway.workers = WorkerMetrics(*worker, config.workers, gateway.metrics.registry)
        await gateway.workers.start()
    await gateway.state.start()
    sock = sock or bind(config.host, config.port, reuse_port=config.workers > 1)
    tls = server_context(config.tls_cert, config.tls_key) if config.tls_cert and config.tls_key else None
    server = await loop.create_server(gateway.connection, sock=sock, backlog=2048, ssl=tls)
    if gateway.signin is not None:  # the IdP's discovery and the signing keys, once the port is known
        await gateway.signin.start(config.replace(port=sock.getsockname()[1]).base_url)
    ops = None
    if config.metrics_port is not None:
        ops_sock = bind(config.metrics_host, config.metrics_port, reuse_port=config.workers > 1)
        ops_state = ServerState(HttpLimits(body_limit=64 * 1024, body_budget=1024 * 1024, max_connections=256))
        ops = await loop.create_server(lambda: _ops_connection(gateway, ops_state), sock=ops_sock)
        gateway.metrics_address = ops_sock.getsockname()[:2]
    stop = stop or asyncio.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if tls is not None and config.tls_cert and config.tls_key:  # a renewed certificate, without a restart
            loop.add_signal_handler(signal.SIGHUP, reload_tls, tls, config.tls_cert, config.tls_key)
    if ready is not None:
        ready(gateway, sock.getsockname()[1])
    try:
        await stop.wait()
    finally:
        server.close()
        if ops is not None:
            ops.close()
        deadline = loop.time() + drain
        # polling once at shutdown keeps the per-request path free of any drain bookkeeping
        while gateway.in_flight and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        gateway.close()
        if gateway.workers is not None:
            await gateway.workers.close()
        if gateway.signin is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(gateway.signin.aclose(), 3.0)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(gateway.state.aclose(), 2.0)  # pending settlements, bounded
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(server.wait_closed(), 1.0)
        if gateway.access_log is not None:
            gateway.access_log.close()


def _ops_connection(gateway: Gateway, state: ServerState) -> Connection:
    """A connection to the metrics listener: /metrics, /healthz and /readyz only, nothing forwarded."""

    async def handle(req: Request, conn: Connection) -> None:
        if req.path == b"/metrics":
            await gateway.metrics_answer(conn)
        elif req.path in (b"/healthz", b"/readyz"):
            await gateway.handle(req, conn)
        else:
            failure = Failure.of(FailureKind.NOT_FOUND, message="this listener serves /metrics, /healthz, /readyz")
            answer = error_answer(failure)
            conn.respond(answer.status, answer.headers, answer.body)

    return Connection(handle, state)


def _run_one(
    config: GatewayConfig, ready: Callable[[Gateway, int], None] | None, worker: tuple[str, int] | None = None
) -> None:
    loop = new_event_loop()
    try:
        loop.run_until_complete(serve(config, ready=ready, worker=worker))
    finally:
        loop.close()


def run(config: GatewayConfig, *, ready: Callable[[Gateway, int], None] | None = None) -> None:
    """Run the gateway in this process, or fork `config.workers` processes sharing the port (SO_REUSEPORT)."""
    import prometheus_client

    prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]  # one process, one gateway: no *_created
    raise_open_files()  # before forking: the workers inherit it
    # What start-up built (modules, tables: ~25,000 objects) lives as long as the process: keep it out of every full
    # GC pass, each of which cost 35-75 ms of the event loop on a loaded 2-core machine (and stays shared after fork).
    gc.collect()
    gc.freeze()
    if config.workers == 1:
        _run_one(config, ready)
        return
    children: list[int] = []
    directory = run_directory()  # the workers' metrics sockets: one /metrics adds them all up (gateway/workers.py)
    for index in range(config.workers):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            code = 0
            try:
                _run_one(config, ready if index == 0 else None, (directory, index))
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        children.append(pid)

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signum)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    if config.tls_cert:
        signal.signal(signal.SIGHUP, forward)  # each worker re-reads its TLS certificate
    status = 0
    for child in children:
        while True:
            try:
                _, code = os.waitpid(child, 0)
                break
            except InterruptedError:
                continue
        status = status or os.waitstatus_to_exitcode(code)
    remove_run_directory(directory)
    if status:
        sys.exit(status)


class GatewayThread:
    """A gateway on 127.0.0.1:0 in a background thread (tests, benchmarks): `.base_url`, `.gateway`, `.stop()`."""

    def __init__(self, config: GatewayConfig, *, clock: Clock | None = None) -> None:
        self.config = config.replace(port=0) if config.port else config
        self.clock = clock
        self._started = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self.gateway: Gateway | None = None
        self.port = 0
        self._thread = threading.Thread(target=self._main, name="claudewire-gateway", daemon=True)

    @property
    def base_url(self) -> str:
        """The URL to give clients as base_url / ANTHROPIC_BASE_URL."""
        return f"{'https' if self.config.tls_cert else 'http'}://127.0.0.1:{self.port}"

    def _ready(self, gateway: Gateway, port: int) -> None:
        self.gateway, self.port = gateway, port
        self._started.set()

    def _main(self) -> None:
        loop = self._loop = new_event_loop()
        self._stop = asyncio.Event()
        try:
            loop.run_until_complete(serve(self.config, ready=self._ready, stop=self._stop, drain=2.0, clock=self.clock))
        except BaseException as exc:  # surfaced by start()
            self._error = exc
            self._started.set()
        finally:
            loop.close()

    def start(self, timeout: float = 10.0) -> GatewayThread:
        """Start serving; returns once the port is open."""
        self._thread.start()
        if not self._started.wait(timeout):
            raise RuntimeError("the gateway did not start in time")
        if self._error is not None:
            raise RuntimeError(f"the gateway failed to start: {self._error}") from self._error
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and join the thread."""
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)

    def __enter__(self) -> GatewayThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
