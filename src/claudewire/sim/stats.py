"""What the simulator saw: counters by path, status and injected fault, and a bounded log of recent requests.

Written by the server's event loop, read from any thread (tests count upstream attempts with it). Counter updates
are single dict operations under the GIL; readers get copies.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from claudewire._secrets import redact, redact_text

__all__ = ["RequestRecord", "Stats"]

_SECRET_HEADERS = ("x-api-key", "authorization")


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request as it arrived: method, path, headers (lower-case names) and the fault kinds applied to it.

    `headers` holds the real values (a gateway test checks the key it forwarded); `repr` redacts credentials.
    """

    method: str
    path: str
    headers: Mapping[str, str] = field(repr=False)
    faults: tuple[str, ...] = ()
    request_id: str = ""

    @property
    def api_key(self) -> str | None:
        """The key sent, from ``x-api-key`` or ``Authorization: Bearer``."""
        key = self.headers.get("x-api-key")
        if key:
            return key
        auth = self.headers.get("authorization", "")
        return auth[7:].strip() if auth[:7].lower() == "bearer " else None

    def safe_headers(self) -> dict[str, str]:
        """The headers with credential values redacted, fit to print."""
        return {
            k: (redact(v[7:] if v[:7].lower() == "bearer " else v) if k in _SECRET_HEADERS else redact_text(v))
            for k, v in self.headers.items()
        }

    def __repr__(self) -> str:
        return (
            f"RequestRecord({self.method} {self.path}, headers={self.safe_headers()!r}, faults={self.faults!r}, "
            f"request_id={self.request_id!r})"
        )


class Stats:
    """Counters of everything the simulator received and injected; `reset()` zeroes them and empties the log."""

    def __init__(self, log_size: int = 256) -> None:
        self.total = 0
        self.in_flight = 0  # requests being handled right now (a stalled or streaming one counts until it ends)
        self.by_path: Counter[str] = Counter()
        self.by_status: Counter[int] = Counter()
        self.by_fault: Counter[str] = Counter()
        self._log: deque[RequestRecord] = deque(maxlen=log_size)
        self._log_size = log_size
        self._lock = threading.Lock()  # only reset() and snapshots take it; never held across I/O

    def record(
        self, method: str, path: str, headers: Mapping[str, str], request_id: str, faults: tuple[str, ...] = ()
    ) -> None:
        """Count one arriving request and the faults injected into it (and log it)."""
        self.total += 1
        self.by_path[path] += 1
        for kind in faults:
            self.by_fault[kind] += 1
        if self._log_size:
            self._log.append(RequestRecord(method, path, headers, faults, request_id))

    def status(self, status: int) -> None:
        """Count one answer by its status."""
        self.by_status[status] += 1

    @property
    def requests(self) -> list[RequestRecord]:
        """The most recent requests, oldest first (bounded by the configured log size)."""
        with self._lock:
            return list(self._log)

    def snapshot(self) -> dict[str, object]:
        """Plain copies of every counter."""
        with self._lock:
            return {
                "total": self.total,
                "by_path": dict(self.by_path),
                "by_status": dict(self.by_status),
                "by_fault": dict(self.by_fault),
            }

    def reset(self) -> None:
        """Zero every counter and empty the request log."""
        with self._lock:
            self.total = 0
            self.by_path.clear()
            self.by_status.clear()
            self.by_fault.clear()
            self._log.clear()
