"""One JSON line per request, written in batches so logging costs microseconds, not a syscall per request.

Fields: ts, request_id, method, path (no query string: it may carry secrets), route, dialect, model, client, status,
error, attempts, upstream (the one whose answer went back; null when none did), tried (every upstream an attempt
went to, in order: a failover shows as two), ttfb_ms, duration_ms, input_tokens, output_tokens. Each line is read
from the call's `claudewire.calls.CallRecord`; never a key or a token: the record holds none.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import IO

from claudewire.calls import CallRecord

__all__ = ["AccessLog"]

_str = json.encoder.encode_basestring_ascii
_FLUSH_EVERY = 0.25  # seconds a line may wait before it is written
_FLUSH_LINES = 512


class AccessLog:
    """Buffers access-log lines and writes them to `stream` (a text file) at most every quarter second."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._lines: list[str] = []
        self._handle: asyncio.TimerHandle | None = None

    @classmethod
    def open(cls, target: str | None) -> AccessLog | None:
        """``-`` for stderr, a path to append to, or None (no access log)."""
        if not target:
            return None
        if target == "-":
            return cls(sys.stderr)
        return cls(open(target, "a", encoding="utf-8"))

    def on_call(self, record: CallRecord) -> None:
        """Queue the line of one finished call."""
        usage = record.usage
        model = usage.model if usage is not None and usage.model else record.model
        path = record.path.split("?", 1)[0]
        served = record.served
        tried = ",".join(_str(u) for u in record.tried)
        ttfb = record.ttfb
        pings = f',"pings":{record.pings:d}' if record.pings else ""  # only where the gateway wrote any
        # hand-built (every string JSON-escaped by the C encoder): a third of json.dumps' cost on the hot path
        self._lines.append(
            f'{{"ts":{time.time():.3f},"request_id":{_str(record.request_id)},"method":{_str(record.method)},'
            f'"path":{_str(path)},"route":{_str(record.route)},"dialect":{_str(record.dialect)},'
            f'"model":{"null" if model is None else _str(model)},'
            f'"client":{_str(record.client) if record.client else "null"},"status":{record.status:d},'
            f'"error":{_str(record.error) if record.error else "null"},"attempts":{len(record.attempts):d},'
            f'"upstream":{_str(served) if served else "null"},"tried":[{tried}],'
            f'"ttfb_ms":{"null" if ttfb is None else f"{ttfb * 1000:.3f}"},'
            f'"duration_ms":{(record.duration or 0.0) * 1000:.3f},'
            f'"input_tokens":{usage.input_tokens if usage is not None else 0:d},'
            f'"output_tokens":{usage.output_tokens if usage is not None else 0:d}{pings}}}'
        )
        if len(self._lines) >= _FLUSH_LINES:
            self.flush()
        elif self._handle is None:
            try:
                self._handle = asyncio.get_running_loop().call_later(_FLUSH_EVERY, self.flush)
            except RuntimeError:
                self.flush()

    def flush(self) -> None:
        """Write every queued line now."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self._lines:
            lines, self._lines = self._lines, []
            try:
                self._stream.write("\n".join(lines) + "\n")
                self._stream.flush()
            except (OSError, ValueError):
                pass  # a closed or full log must never take the gateway down

    def close(self) -> None:
        """Flush, and close the file if we opened one."""
        self.flush()
        if self._stream not in (sys.stderr, sys.stdout):
            self._stream.close()
