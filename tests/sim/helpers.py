"""Raw-socket helpers for tests that must see bytes and timing the SDK hides."""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from tests.conftest import SIM_KEY, SIM_MODEL


def request_bytes(base_url: str, body: dict[str, object] | None = None, path: str = "/v1/messages") -> bytes:
    """A complete HTTP/1.1 request for the simulator, closing the connection after the answer."""
    host = urlsplit(base_url).netloc
    payload = json.dumps(body if body is not None else {}).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nx-api-key: {SIM_KEY}\r\n"
        f"anthropic-version: 2023-06-01\r\nContent-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + payload


def stream_body(max_tokens: int = 64) -> dict[str, object]:
    """A streaming messages request body."""
    return {
        "model": SIM_MODEL,
        "max_tokens": max_tokens,
        "stream": True,
        "messages": [{"role": "user", "content": "x"}],
    }


@dataclass
class Chunk:
    """Bytes as one recv() returned them, with when they arrived (monotonic seconds since the request was sent)."""

    at: float
    data: bytes


def exchange(base_url: str, raw: bytes, timeout: float = 10.0) -> list[Chunk]:
    """Send `raw` on a fresh connection and collect every recv() until the server closes it."""
    parts = urlsplit(base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        start = time.monotonic()
        sock.sendall(raw)
        chunks: list[Chunk] = []
        while True:
            data = sock.recv(65536)
            if not data:
                return chunks
            chunks.append(Chunk(time.monotonic() - start, data))


def event_times(chunks: list[Chunk]) -> list[tuple[float, str]]:
    """(arrival time, event name) for every SSE event in the chunks, in order."""
    out: list[tuple[float, str]] = []
    for chunk in chunks:
        for line in chunk.data.split(b"\n"):
            if line.startswith(b"event: "):
                out.append((chunk.at, line[7:].decode().strip()))
    return out
