"""Real servers the doctor is pointed at, all on 127.0.0.1: the simulator (plain and TLS), a black hole, small TLS
servers with chosen certificates and ALPN, tinyproxy and mitmproxy (mitmdump)."""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from claudewire.doctor import Settings
from claudewire.sim import Pacing, SimServer
from claudewire.testing import run_sim

KEY = "sk-ant-api03-doctor-test-key-0123456789abcd"
"""The key the doctor tests use; it must never appear unredacted in any output."""

PACING = Pacing(ttft=0.0, per_token=0.02)
"""Enough pace for a stream to be told from a buffered one (17 events over ~0.25 s)."""


OPUS_4_5_DEPRECATED = dt.date(2026, 12, 2)
"""A day on which claude-opus-4-5 is deprecated (retires 2027-01-22): tests that need a deprecated model pin it."""


def settings_for(base_url: str, **overrides: object) -> Settings:
    """Doctor settings for `base_url` with the test key and short bounds; `overrides` are Settings fields."""
    fields: dict[str, object] = {
        "base_url": base_url,
        "api_key": KEY,
        "key_source": "ANTHROPIC_API_KEY",
        "timeout": 2.0,
    }
    fields.update(overrides)
    return Settings(**fields)  # type: ignore[arg-type]


@pytest.fixture
def sim() -> Iterator[SimServer]:
    """A healthy plain-HTTP simulator with a light streaming pace."""
    with run_sim(seed=0, pacing=PACING) as server:
        yield server


@pytest.fixture
def tls_sim() -> Iterator[SimServer]:
    """A healthy HTTPS simulator with its own CA (`.ca_path`) and a light streaming pace."""
    with run_sim(seed=0, tls=True, pacing=PACING) as server:
        yield server


def free_port() -> int:
    """A port that was free a moment ago on 127.0.0.1 (for servers that cannot bind port 0 themselves)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(port: int, proc: subprocess.Popen[bytes], seconds: float = 15.0) -> None:
    """Wait until something accepts on 127.0.0.1:`port`; fail with the process output if it died."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}: {out}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {seconds}s")


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A port whose socket listens (the kernel completes the TCP handshake) but never accepts or speaks."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield int(sock.getsockname()[1])


@dataclass
class TlsServer:
    """A TLS server on 127.0.0.1 that completes handshakes and closes; `ca_path` trusts its certificate."""

    port: int
    ca_path: str


def serve_tls(ctx: ssl.SSLContext, stops: list[Callable[[], None]]) -> int:
    """Accept TLS handshakes with `ctx` on 127.0.0.1 in a thread (each connection read once, then closed); its
    port. The function that stops it is appended to `stops`."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with contextlib.suppress(OSError), ctx.wrap_socket(conn, server_side=True) as tls:
                tls.settimeout(1.0)
                with contextlib.suppress(OSError):
                    tls.recv(1024)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    def halt() -> None:
        stop.set()
        thread.join(2)
        sock.close()

    stops.append(halt)
    return int(sock.getsockname()[1])


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[Callable[..., TlsServer]]:
    """Start TLS servers with a chosen certificate (names, validity) and ALPN protocols."""
    stops: list[Callable[[], None]] = []

    def start(*names: str, alpn: tuple[str, ...] = ("http/1.1",), not_after: dt.datetime | None = None) -> TlsServer:
        ca = trustme.CA(organization_name="doctor test CA")
        if not_after is not None:
            cert = ca.issue_cert(
                *(names or ("127.0.0.1",)), not_before=not_after - dt.timedelta(days=30), not_after=not_after
            )
        else:
            cert = ca.issue_cert(*(names or ("127.0.0.1",)))
        ca_path = tmp_path / f"ca-{len(stops)}.pem"
        ca.cert_pem.write_to_path(str(ca_path))
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(ctx)
        ctx.set_alpn_protocols(list(alpn))
        return TlsServer(serve_tls(ctx, stops), str(ca_path))

    yield start
    for halt in stops:
        halt()


@contextlib.contextmanager
def tinyproxy(tmp_path: Path, *extra: str) -> Iterator[str]:
    """Run tinyproxy on 127.0.0.1:<free port> with `extra` config lines; yields its http:// URL."""
    binary = shutil.which("tinyproxy")
    if binary is None:
        pytest.fail("tinyproxy is not installed: ./scripts/test installs it from scripts/apt-packages.txt")
    port = free_port()
    conf = tmp_path / f"tinyproxy-{port}.conf"
    lines = [f"Port {port}", "Listen 127.0.0.1", "Timeout 30", "Allow 127.0.0.1", "MaxClients 20", "LogLevel Warning"]
    conf.write_text("\n".join([*lines, *extra]) + "\n")
    proc = subprocess.Popen([binary, "-d", "-c", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_listening(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(5)


@dataclass
class Mitm:
    """A running mitmdump: its proxy URL and the CA it signs intercepted certificates with."""

    url: str
    ca_path: str


@contextlib.contextmanager
def mitmdump(tmp_path: Path) -> Iterator[Mitm]:
    """Run mitmproxy's mitmdump (regular proxy mode, its own fresh CA) on 127.0.0.1:<free port>."""
    binary = shutil.which("mitmdump")
    if binary is None:
        pytest.fail("mitmdump is not installed: ./scripts/test installs it from scripts/apt-packages.txt")
    port = free_port()
    confdir = tmp_path / "mitmproxy"
    confdir.mkdir(exist_ok=True)
    # ssl_insecure is mitmproxy's own upstream setting: the interceptor does not know the simulator's CA. The
    # doctor itself always verifies; this is how a corporate interceptor is configured, not advice.
    args = [binary, "--listen-host", "127.0.0.1", "--listen-port", str(port), "--set", f"confdir={confdir}"]
    args += ["--set", "ssl_insecure=true", "-q"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_listening(port, proc, 30.0)
        yield Mitm(f"http://127.0.0.1:{port}", str(confdir / "mitmproxy-ca-cert.pem"))
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
