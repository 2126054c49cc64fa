"""What both floors of the gateway need about HTTP/1.1 on the wire: a header lookup, a status line, TCP_NODELAY.

The gateway has two floors with no import between them: `downstream` (the client side) and `upstream` (the
connections to the API and its clouds). This module is the small ground floor both stand on; it imports nothing of
claudewire's.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from http import HTTPStatus

__all__ = ["first_header", "set_nodelay", "status_line"]

_STATUS_LINES: dict[int, bytes] = {s.value: f"HTTP/1.1 {s.value} {s.phrase}\r\n".encode("latin-1") for s in HTTPStatus}
_STATUS_LINES[529] = b"HTTP/1.1 529 Site Overloaded\r\n"


def status_line(status: int) -> bytes:
    """The ``HTTP/1.1 <code> <reason>`` line for `status` (with CRLF)."""
    line = _STATUS_LINES.get(status)
    if line is None:
        line = _STATUS_LINES[status] = f"HTTP/1.1 {status} Unknown\r\n".encode("latin-1")
    return line


def first_header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    """The first value of header `name` (give it lower-case) in a parsed header list, or None."""
    for key, value in headers:
        if len(key) == len(name) and key.lower() == name:
            return value
    return None


def set_nodelay(transport: asyncio.Transport) -> None:
    """Switch Nagle's algorithm off on a TCP transport."""
    # small request/response pairs must not wait for Nagle's algorithm and delayed ACKs (40 ms stalls)
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
