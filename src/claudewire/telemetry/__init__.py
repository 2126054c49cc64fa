"""OpenTelemetry export (the ``otel`` extra): OTLP metrics and traces with the GenAI semantic conventions.

`OtlpSettings.from_env` reads ``--otlp URL`` or the standard ``OTEL_*`` variables (off when neither names an
endpoint); `start` builds this process's meter and tracer providers. The instrumentation itself lives in
`claudewire.telemetry.genai`, imported only when export is on (it needs the OpenTelemetry API). Prometheus
``/metrics`` is unaffected and stays the default.
"""

from claudewire.telemetry.otlp import (
    CAPTURE_CONTENT_ENV,
    SHUTDOWN_TIMEOUT,
    OtlpSettings,
    OtlpUnavailableError,
    Providers,
    check_available,
    flush,
    shared,
    shutdown,
    start,
)

__all__ = [
    "CAPTURE_CONTENT_ENV",
    "SHUTDOWN_TIMEOUT",
    "OtlpSettings",
    "OtlpUnavailableError",
    "Providers",
    "check_available",
    "flush",
    "shared",
    "shutdown",
    "start",
]
