"""A TCP relay on 127.0.0.1 that can forget its connections as a NAT does: silently, closing nothing."""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from dataclasses import dataclass, field


@dataclass
class _Pair:
    inside: socket.socket
    outside: socket.socket
    dropped: threading.Event = field(default_factory=threading.Event)


class Nat:
    """Relays 127.0.0.1:`.port` to 127.0.0.1:`target`. `drop()` makes every connection it carries go silent both
    ways (nothing passes, nothing is closed: the ends see an idle peer); connections opened afterwards pass."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.pairs: list[_Pair] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                inside, _ = self.listener.accept()
            except OSError:
                return
            try:
                outside = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                inside.close()
                continue
            pair = _Pair(inside, outside)
            with self._lock:
                self.pairs.append(pair)
            threading.Thread(target=self._pump, args=(pair,), daemon=True).start()

    def _pump(self, pair: _Pair) -> None:
        ends = {pair.inside: pair.outside, pair.outside: pair.inside}
        while not pair.dropped.is_set() and not self._closed.is_set():
            try:
                ready, _, _ = select.select(list(ends), [], [], 0.05)
                for end in ready:
                    if pair.dropped.is_set():
                        return
                    data = end.recv(65536)
                    if not data:
                        self._close(pair)
                        return
                    ends[end].sendall(data)
            except OSError:
                self._close(pair)
                return

    def _close(self, pair: _Pair) -> None:
        for end in (pair.inside, pair.outside):
            with contextlib.suppress(OSError):
                end.close()

    def drop(self) -> int:
        """Silence every connection open now; how many there were."""
        with self._lock:
            pairs = [p for p in self.pairs if not p.dropped.is_set()]
        for pair in pairs:
            pair.dropped.set()
        return len(pairs)

    def __enter__(self) -> Nat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closed.set()
        self.listener.close()
        with self._lock:
            for pair in self.pairs:
                self._close(pair)
