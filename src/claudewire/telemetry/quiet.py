"""OTLP export failures logged once, then at most once a minute: a collector that is away is one problem, not a
warning at every export (every few seconds, per signal, plus one per retry).

`quiet_exporter_logs()` puts one `RateLimit` filter on the OpenTelemetry loggers that report export failures (the
OTLP/HTTP and gRPC exporters, their shared HTTP client, the batch span processor and the periodic metric reader).
Their warnings and errors share it: the first goes through, then one a `period`, carrying the count of those left
out since the last one. Records below WARNING pass untouched (they are off unless the operator asks for DEBUG).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

__all__ = ["EXPORTER_LOGGERS", "RateLimit", "quiet_exporter_logs"]

EXPORTER_LOGGERS = (
    "opentelemetry.exporter.otlp.common.http",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http.metric_exporter",
    "opentelemetry.exporter.otlp.proto.grpc.exporter",
    "opentelemetry.exporter.otlp.proto.grpc.trace_exporter",
    "opentelemetry.exporter.otlp.proto.grpc.metric_exporter",
    "opentelemetry.sdk._shared_internal",
    "opentelemetry.sdk.trace.export",
    "opentelemetry.sdk.metrics._internal.export",
)
"""The loggers (SDK 1.30 and later) whose warnings say an export failed, was retried or dropped."""


class RateLimit(logging.Filter):
    """Lets the first WARNING-or-worse record through, then one every `period` seconds (read on `clock`); the one
    that goes through after a quiet spell says how many were left out."""

    def __init__(self, period: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.period = period
        self.clock = clock
        self._next = float("-inf")  # when the next record may go through
        self._left_out = 0
        self._lock = threading.Lock()  # exporter threads log side by side

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        now = self.clock()
        with self._lock:
            if now < self._next:
                self._left_out += 1
                return False
            left_out, self._left_out = self._left_out, 0
            self._next = now + self.period
        if left_out:
            record.msg = f"{record.getMessage()} ({left_out} more OTLP export message(s) left out since the last)"
            record.args = None
        return True


_FILTER = RateLimit()
_installed = False


def quiet_exporter_logs() -> RateLimit:
    """Put the one shared `RateLimit` on the exporter loggers (once per process); returns it."""
    global _installed
    if not _installed:
        for name in EXPORTER_LOGGERS:
            logging.getLogger(name).addFilter(_FILTER)
        _installed = True
    return _FILTER
