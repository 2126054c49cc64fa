"""A real redis-server on 127.0.0.1 for the tests (Debian package redis-server, see scripts/apt-packages.txt),
in plain TCP or TLS (certificates from a `trustme` CA)."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path

import trustme


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """redis-server on 127.0.0.1:`port`, no persistence; `stop()` and `start()` again on the same port.

    With `tls` (a trustme CA) it listens only for TLS, with a certificate for 127.0.0.1 issued by that CA
    (`ca_file` is the CA's PEM), and asks clients for no certificate of their own.
    """

    def __init__(self, workdir: Path, port: int | None = None, *, tls: trustme.CA | None = None) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed (Debian package redis-server, see scripts/apt-packages.txt)"
        self.binary = binary
        self.workdir = workdir
        self.port = port or free_port()
        self.tls = tls
        self.ca_file = workdir / "redis-ca.pem"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0`` (``rediss://`` with TLS)."""
        return f"{'rediss' if self.tls else 'redis'}://127.0.0.1:{self.port}/0"

    def _tls_args(self) -> list[str]:
        if self.tls is None:
            return ["--port", str(self.port)]
        cert, key = self.workdir / "redis-cert.pem", self.workdir / "redis-key.pem"
        issued = self.tls.issue_cert("127.0.0.1", "localhost")
        issued.cert_chain_pems[0].write_to_path(str(cert))
        issued.private_key_pem.write_to_path(str(key))
        self.tls.cert_pem.write_to_path(str(self.ca_file))
        return ["--port", "0", "--tls-port", str(self.port), "--tls-cert-file", str(cert), "--tls-key-file", str(key),
                "--tls-ca-cert-file", str(self.ca_file), "--tls-auth-clients", "no"]  # fmt: skip

    def _ping(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as raw:
            conn: socket.socket = raw
            if self.tls is not None:
                context = ssl.create_default_context(cafile=str(self.ca_file))
                conn = context.wrap_socket(raw, server_hostname="127.0.0.1")
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")

    def start(self) -> RedisServer:
        """Start it and wait (bounded) until it accepts connections."""
        args = [self.binary, "--bind", "127.0.0.1", *self._tls_args(), "--save", "", "--appendonly", "no"]
        self.proc = subprocess.Popen(
            [*args, "--dir", str(self.workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if self._ping():
                    return self
            except OSError:  # ssl.SSLError included
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        """Kill it (SIGKILL: an outage, not a goodbye) and wait for it to go."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
