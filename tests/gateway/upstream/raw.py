"""A raw asyncio upstream on 127.0.0.1:0 for the upstream floor's tests: exact bytes, hostile answers."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable

Serve = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class AsyncUpstream:
    """An asyncio server in its own thread; each connection is served by `serve(reader, writer)` until it returns.

    `connections` counts the connections accepted; `finished` is released each time a `serve` returns (or fails).
    """

    def __init__(self, serve: Serve) -> None:
        self.serve = serve
        self.connections = 0
        self.base_url = ""
        self.finished = threading.Semaphore(0)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, daemon=True)

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            with contextlib.suppress(OSError, asyncio.IncompleteReadError, asyncio.CancelledError):
                await self.serve(reader, writer)
        finally:
            writer.transport.abort()
            self.finished.release()

    def _main(self) -> None:
        loop = self._loop = asyncio.new_event_loop()

        async def start() -> None:
            self._server = await asyncio.start_server(self._one, "127.0.0.1", 0)
            port = self._server.sockets[0].getsockname()[1]
            self.base_url = f"http://127.0.0.1:{port}"
            self._ready.set()

        loop.run_until_complete(start())
        loop.run_forever()
        assert self._server is not None
        self._server.close()
        for task in asyncio.all_tasks(loop):
            task.cancel()
        with contextlib.suppress(BaseException):
            loop.run_until_complete(asyncio.sleep(0))
        loop.close()

    def __enter__(self) -> AsyncUpstream:
        self._thread.start()
        assert self._ready.wait(10), "raw upstream did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, dict[bytes, bytes], bytes] | None:
    """One request: (request line, lower-cased headers, Content-Length body); None when the peer closed first."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    line, *lines = head[:-4].split(b"\r\n")
    headers = {}
    for raw in lines:
        name, _, value = raw.partition(b":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get(b"content-length", b"0"))
    body = await reader.readexactly(length) if length else b""
    return line, headers, body


def response(status: int, body: bytes, *, ctype: bytes = b"application/json", extra: bytes = b"") -> bytes:
    """A whole HTTP/1.1 answer with a Content-Length."""
    return b"HTTP/1.1 %d X\r\ncontent-type: %b\r\ncontent-length: %d\r\n%b\r\n%b" % (
        status,
        ctype,
        len(body),
        extra,
        body,
    )
