"""Running the simulator: in the current event loop (`SimServer`) or in a background thread (`SimThread`)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
import tempfile
import threading
from collections.abc import Iterable

from aiohttp import web

from claudewire.sim.app import SimApp
from claudewire.sim.catalogue import Catalogue
from claudewire.sim.config import SimConfig
from claudewire.sim.faults import FaultSpec
from claudewire.sim.files import FileStore
from claudewire.sim.replies import ScriptedReply
from claudewire.sim.stats import RequestRecord, Stats

__all__ = ["SimServer", "SimThread"]


def _tls_context(host: str) -> tuple[ssl.SSLContext, str]:
    """A server context with a certificate from a fresh CA, and the path of that CA's PEM bundle."""
    import trustme  # imported here: only --tls needs it

    ca = trustme.CA(organization_name="claudewire sim")
    names = sorted({"127.0.0.1", "localhost", "::1", host} - {"0.0.0.0", "::", ""})
    cert = ca.issue_cert(*names)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    fd, path = tempfile.mkstemp(prefix="claudewire-sim-ca-", suffix=".pem")
    with os.fdopen(fd, "wb") as out:
        out.write(ca.cert_pem.bytes())
    return context, path


def _app(config: SimConfig, stats: Stats) -> SimApp:
    """The application speaking `config.api`: the Anthropic API or a cloud's dialect of it."""
    if config.api == "bedrock":
        from claudewire.sim.bedrock import BedrockApp

        return BedrockApp(config, stats)
    if config.api == "vertex":
        from claudewire.sim.vertex import VertexApp

        return VertexApp(config, stats)
    if config.api == "foundry":
        from claudewire.sim.foundry import FoundryApp

        return FoundryApp(config, stats)
    if config.api == "bedrock-mantle":
        from claudewire.sim.mantle import MantleApp

        return MantleApp(config, stats)
    if config.federation is not None:
        from claudewire.sim.oauth import FederatedApp

        return FederatedApp(config, stats)
    return SimApp(config, stats)


class SimServer:
    """The simulator bound to a socket in the running event loop. `await start()`, then `await stop()`."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        self.stats = Stats(self.config.request_log_size)
        self.app = _app(self.config, self.stats)
        self.ca_path: str | None = None
        self.port: int | None = None
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        """The root URL clients use as ``base_url`` / ``ANTHROPIC_BASE_URL`` (no ``/v1``)."""
        if self.port is None:
            raise RuntimeError("the simulator is not started")
        host = self.config.host
        host = "127.0.0.1" if host in ("0.0.0.0", "") else host  # a listen-all host is reached locally
        host = f"[{host}]" if ":" in host else host
        return f"{'https' if self.config.tls else 'http'}://{host}:{self.port}"

    @property
    def catalogue(self) -> Catalogue:
        """The models this simulator serves (`Catalogue.replacement_for` names a current one)."""
        return self.app.catalogue

    @property
    def requests(self) -> list[RequestRecord]:
        """The most recent requests received, oldest first (bounded)."""
        return self.stats.requests

    def set_faults(self, faults: Iterable[FaultSpec | str], profile: str | None = None) -> None:
        """Replace the faults in force (thread-safe): `profile`'s (default: the current one) plus `faults`."""
        self.app.set_faults(faults, profile)

    def set_replies(self, replies: Iterable[ScriptedReply]) -> None:
        """Script the next messages answers (texts or `ToolCall`s), dropping any left of the script (thread-safe)."""
        self.app.script.replace(replies)

    @property
    def replies_left(self) -> int:
        """How many scripted replies are still to be served."""
        return self.app.script.left

    @property
    def files(self) -> FileStore:
        """The Files store: `files.add(name, data)` puts a downloadable file there, as a tool run would."""
        return self.app.files

    def set_profile(self, name: str) -> None:
        """Switch to profile `name` with no extra faults (thread-safe)."""
        self.app.set_faults((), name)

    async def start(self) -> None:
        """Bind and serve; fills `port` (useful with port 0) and, with TLS, `ca_path`."""
        self.app.closing = asyncio.Event()
        context = None
        if self.config.tls:
            context, self.ca_path = _tls_context(self.config.host)
        # handler_cancellation: a client that gives up on a stalled or slow answer frees its handler at once
        runner = web.AppRunner(
            self.app.application(), handle_signals=False, shutdown_timeout=0.5, handler_cancellation=True
        )
        await runner.setup()
        site = web.TCPSite(runner, self.config.host, self.config.port, ssl_context=context, backlog=1024)
        await site.start()
        self._runner = runner
        server = site._server  # aiohttp exposes no public accessor for the bound port when port is 0
        sockets = getattr(server, "sockets", None) or ()
        self.port = sockets[0].getsockname()[1] if sockets else self.config.port

    async def stop(self) -> None:
        """Stop serving: stalled requests are released, streams cut, the CA file removed."""
        if self.app.closing is not None:
            self.app.closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.ca_path is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.ca_path)

    async def __aenter__(self) -> SimServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


class SimThread:
    """A `SimServer` running in its own thread and event loop, for synchronous code and tests."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.server = SimServer(config)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="claudewire-sim", daemon=True)
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self.server.start())
        except BaseException as exc:  # handed to the starting thread, which raises it
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        try:
            self._loop.run_until_complete(self.server.stop())
        finally:
            # as asyncio.run does: let cancelled handlers finish so none is destroyed while pending
            pending = asyncio.all_tasks(self._loop)
            for task in pending:
                task.cancel()
            if pending:
                self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    def start(self, timeout: float = 10.0) -> None:
        """Start the thread and wait until the server listens (re-raising what stopped it)."""
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("the simulator did not start in time")
        if self._error is not None:
            raise self._error

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server and join the thread."""
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)
