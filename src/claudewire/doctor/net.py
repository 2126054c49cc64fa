"""Bounded raw-socket steps the network checks share: resolve, connect, tunnel through a proxy, TLS handshake.

Every step takes its own timeout and raises the standard exception of its layer (`socket.gaierror`,
`ConnectionRefusedError`, `TimeoutError`, `ssl.SSLError`) or `ProxyRefusedError`, so that `claudewire._errors`
classifies it like any other failure.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass

from claudewire._net import origin

__all__ = [
    "ProxyAnswer",
    "ProxyRefusedError",
    "Stream",
    "Target",
    "connect",
    "is_ip",
    "open_route",
    "proxy_connect",
    "resolve",
    "tls_handshake",
]

Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]

_MAX_PROXY_HEADER = 16 * 1024


@dataclass(frozen=True, slots=True)
class Target:
    """Where a client connects: scheme, host and port."""

    scheme: str
    host: str
    port: int

    @property
    def tls(self) -> bool:
        """Whether the connection is HTTPS."""
        return self.scheme == "https"

    @property
    def authority(self) -> str:
        """``host:port`` as a CONNECT request names it."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class ProxyAnswer:
    """A proxy's answer to CONNECT: status code, status line and headers (lower-case names)."""

    status: int
    status_line: str
    headers: dict[str, str]


class ProxyRefusedError(ConnectionError):
    """The proxy answered CONNECT with something other than 2xx (or garbage)."""

    def __init__(self, answer: ProxyAnswer | None, message: str) -> None:
        super().__init__(message)
        self.answer = answer


def is_ip(host: str) -> bool:
    """Whether `host` is an IP literal (no DNS lookup needed)."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


async def resolve(host: str, port: int, seconds: float) -> list[str]:
    """The addresses `host` resolves to (IPv4 and IPv6, deduplicated, in resolver order)."""
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(seconds):
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in seen:
            seen.append(address)
    return seen


async def connect(host: str, port: int, seconds: float) -> Stream:
    """A TCP connection to `host`:`port`, bounded by `seconds`."""
    async with asyncio.timeout(seconds):
        return await asyncio.open_connection(host, port)


def _proxy_parts(proxy_url: str) -> tuple[str, int, str | None]:
    try:
        where = origin(proxy_url, assume="http")
    except ValueError as exc:
        raise ValueError(f"proxy URL {exc}") from None
    auth = None
    if where.username is not None:
        auth = base64.b64encode(f"{where.username}:{where.password or ''}".encode()).decode()
    return where.host, where.port, auth


async def read_head(reader: asyncio.StreamReader) -> ProxyAnswer:
    """Read an HTTP/1.x response head (status line and headers) from `reader`."""
    head = await reader.readuntil(b"\r\n\r\n")
    if len(head) > _MAX_PROXY_HEADER:
        raise ProxyRefusedError(None, "the proxy's answer head is too large")
    lines = head.decode("latin-1").split("\r\n")
    status_line = lines[0]
    fields = status_line.split(" ", 2)
    if len(fields) < 2 or not fields[0].startswith("HTTP/") or not fields[1].isdigit():
        raise ProxyRefusedError(None, f"the proxy answered CONNECT with something that is not HTTP: {status_line!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return ProxyAnswer(int(fields[1]), status_line, headers)


async def proxy_connect(proxy_url: str, target: Target, seconds: float) -> tuple[Stream, ProxyAnswer]:
    """A tunnel to `target` through the HTTP proxy at `proxy_url` (CONNECT), each step bounded by `seconds`.

    Raises `ProxyRefusedError` when the proxy answers anything but 2xx.
    """
    host, port, auth = _proxy_parts(proxy_url)
    reader, writer = await connect(host, port, seconds)
    request = f"CONNECT {target.authority} HTTP/1.1\r\nHost: {target.authority}\r\n"
    if auth:
        request += f"Proxy-Authorization: Basic {auth}\r\n"
    request += "User-Agent: claudewire-doctor\r\n\r\n"
    try:
        writer.write(request.encode("latin-1"))
        async with asyncio.timeout(seconds):
            await writer.drain()
            answer = await read_head(reader)
    except BaseException:
        writer.close()
        raise
    if not 200 <= answer.status < 300:
        writer.close()
        raise ProxyRefusedError(answer, f"the proxy answered CONNECT {target.authority} with {answer.status_line!r}")
    return (reader, writer), answer


async def open_route(target: Target, proxy_url: str | None, address: str | None, seconds: float) -> Stream:
    """A connection to `target`: through the proxy when one is set, else to `address` (default: the host)."""
    if proxy_url:
        stream, _ = await proxy_connect(proxy_url, target, seconds)
        return stream
    return await connect(address or target.host, target.port, seconds)


@dataclass(frozen=True, slots=True)
class Handshake:
    """What a completed TLS handshake negotiated, and the server's leaf certificate (DER)."""

    version: str | None
    cipher: str | None
    alpn: str | None
    peer_der: bytes | None
    peer: dict[str, object] | None
    elapsed_ms: float


async def tls_handshake(
    stream: Stream, context: ssl.SSLContext, server_hostname: str, seconds: float, *, close: bool = True
) -> Handshake:
    """Upgrade `stream` to TLS with `context` and report what was negotiated (bounded by `seconds`)."""
    _, writer = stream
    start = time.monotonic()
    try:
        async with asyncio.timeout(seconds):
            await writer.start_tls(context, server_hostname=server_hostname, ssl_handshake_timeout=seconds)
        obj = writer.get_extra_info("ssl_object")
        if not isinstance(obj, ssl.SSLObject):
            raise ssl.SSLError("no TLS session after the handshake")
        cipher = obj.cipher()
        peer = obj.getpeercert() if context.verify_mode != ssl.CERT_NONE else None
        return Handshake(
            version=obj.version(),
            cipher=cipher[0] if cipher else None,
            alpn=obj.selected_alpn_protocol(),
            peer_der=obj.getpeercert(binary_form=True),
            peer=dict(peer) if peer else None,
            elapsed_ms=(time.monotonic() - start) * 1000,
        )
    finally:
        if close:
            writer.close()
