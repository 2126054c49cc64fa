"""Switching OTLP export on: the standard ``OTEL_*`` variables or an explicit URL, a meter and a tracer provider.

    settings = OtlpSettings.from_env(url=None)      # None: OTLP is off (no endpoint, or OTEL_SDK_DISABLED=true)
    providers = start(settings, service="claudewire-gateway")
    ...
    providers.shutdown()                           # flushes the last metrics and spans, within 2 s

What the OpenTelemetry SDK reads itself stays with it: ``OTEL_EXPORTER_OTLP_HEADERS``, ``..._TIMEOUT``,
``..._CERTIFICATE``, ``..._COMPRESSION``, the signal-specific ``OTEL_EXPORTER_OTLP_{TRACES,METRICS}_ENDPOINT``,
``OTEL_METRIC_EXPORT_INTERVAL``, ``OTEL_BSP_*``, ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES``. The providers
are this process's own (never the global ones): a gateway forks its workers after reading the settings, and each
worker starts its providers after the fork, so no exporter thread is inherited across a fork.

A collector that is down, slow or black-holing (it accepts the connection and never answers) must not hold a process
that is asked to stop: `Providers.shutdown` and `shutdown` give up after `SHUTDOWN_TIMEOUT` (2 s; the SDK's own
bound is 10 s per export, and 30 s per processor at shutdown), dropping what could not be sent; `flush` after its
`timeout`. Its export failures are
logged once, then at most once a minute with a count of those left out (`claudewire.telemetry.quiet`), instead of a
warning at every export.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from claudewire.telemetry.quiet import quiet_exporter_logs

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider

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

CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
"""The GenAI instrumentations' switch for recording prompts on spans; off unless ``true``."""

SHUTDOWN_TIMEOUT = 2.0
"""Seconds `Providers.shutdown` and `shutdown` may take: well inside the 30 s systemd and Kubernetes give a stop."""

_log = logging.getLogger(__name__)

_PROTOCOLS = ("http/protobuf", "grpc")
_INSTALL = "pip install 'claudewire[otel]'"
_INSTALL_GRPC = "pip install 'claudewire[otel-grpc]'"


class OtlpUnavailableError(RuntimeError):
    """OTLP export was asked for but cannot work here (extra not installed, unknown protocol); says what to do."""


@dataclass(frozen=True, slots=True)
class OtlpSettings:
    """Where and how to export: `endpoint` None means each signal's own ``OTEL_*`` endpoint variable decides."""

    endpoint: str | None
    protocol: str = "http/protobuf"
    capture_content: bool = False
    export_interval: float | None = None  # seconds; None: OTEL_METRIC_EXPORT_INTERVAL or the SDK's 60 s

    def __post_init__(self) -> None:
        if self.protocol not in _PROTOCOLS:
            raise OtlpUnavailableError(
                f"OTEL_EXPORTER_OTLP_PROTOCOL={self.protocol!r} is not supported: use http/protobuf or grpc"
            )
        if self.endpoint is not None and not self.endpoint.startswith(("http://", "https://")):
            raise OtlpUnavailableError(f"the OTLP endpoint must be an http:// or https:// URL, not {self.endpoint!r}")

    @classmethod
    def from_env(cls, url: str | None = None, env: Mapping[str, str] | None = None) -> OtlpSettings | None:
        """The settings `url` (``--otlp``) or the environment ask for; None when OTLP export is off."""
        env = os.environ if env is None else env
        if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
            return None
        signal_endpoints = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
        if url is None and not env.get("OTEL_EXPORTER_OTLP_ENDPOINT") and not any(env.get(v) for v in signal_endpoints):
            return None
        protocol = (env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf").strip().lower()
        capture = env.get(CAPTURE_CONTENT_ENV, "").strip().lower() == "true"
        return cls(url.rstrip("/") if url else None, protocol, capture)


@dataclass(frozen=True, slots=True)
class Providers:
    """The meter and tracer providers export goes through; `shutdown` flushes and stops both, bounded."""

    meter_provider: MeterProvider
    tracer_provider: TracerProvider
    settings: OtlpSettings
    _stopped: threading.Event = field(default_factory=threading.Event, compare=False, repr=False)

    def shutdown(self, timeout: float = SHUTDOWN_TIMEOUT) -> bool:
        """Export what is pending and stop the exporter threads, within `timeout` seconds (once; later calls return
        at once). False when the collector did not take it all in time: the rest is dropped, and said once."""
        if self._stopped.is_set():
            return True
        self._stopped.set()
        millis = timeout * 1000
        done = _within(
            timeout,
            self.tracer_provider.shutdown,  # its batch processor waits up to 30 s: bounded by the thread's join
            lambda: self.meter_provider.shutdown(timeout_millis=millis),
        )
        if not done:
            _log.warning(
                "OTLP export to %s did not finish within %g s of shutdown: the last spans and metrics are dropped",
                self.settings.endpoint or "the OTEL_* endpoints",
                timeout,
            )
        return done


def _within(timeout: float, *steps: Callable[[], object]) -> bool:
    """Run `steps` side by side on daemon threads; whether all ended within `timeout` seconds (one still stuck on
    a silent collector is left behind: a daemon thread never holds the process's exit)."""
    deadline = time.monotonic() + timeout
    threads = []
    for step in steps:

        def run(step: Callable[[], object] = step) -> None:
            try:
                step()
            except Exception:  # an exporter's failure at shutdown is not the caller's to handle
                _log.debug("OTLP shutdown step failed", exc_info=True)

        thread = threading.Thread(target=run, name="claudewire-otlp-stop", daemon=True)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return not any(thread.is_alive() for thread in threads)


_SHARED: dict[tuple[OtlpSettings, str], Providers] = {}


def shared(settings: OtlpSettings, *, service: str) -> Providers:
    """One `start` per settings and service in this process: every client exporting the same way shares it."""
    key = (settings, service)
    providers = _SHARED.get(key)
    if providers is None:
        if not _SHARED:
            atexit.register(shutdown)  # the last spans of a short-lived process go out at exit (bounded)
        providers = _SHARED[key] = start(settings, service=service)
    return providers


def flush(timeout: float = 10.0) -> bool:
    """Export now what the shared providers (the clients') hold, within `timeout` seconds: before a short-lived
    process ends, for instance. False when the collector did not take it all in time."""
    millis = int(timeout * 1000)
    steps: list[Callable[[], object]] = []
    for providers in list(_SHARED.values()):
        steps += [partial(providers.tracer_provider.force_flush, millis)]
        steps += [partial(providers.meter_provider.force_flush, millis)]
    return _within(timeout, *steps)


def shutdown(timeout: float = SHUTDOWN_TIMEOUT) -> None:
    """Flush and stop the shared providers, side by side within `timeout` seconds; clients made afterwards start
    new ones."""
    stopping = list(_SHARED.values())
    _SHARED.clear()
    atexit.unregister(shutdown)
    _within(timeout, *(partial(p.shutdown, timeout) for p in stopping))


def check_available(settings: OtlpSettings) -> None:
    """Raise `OtlpUnavailableError` now (before a gateway forks its workers) if `start` could not work."""
    import importlib.util

    needed = ["opentelemetry.sdk", "opentelemetry.exporter.otlp.proto.http"]
    if settings.protocol == "grpc":
        needed[1] = "opentelemetry.exporter.otlp.proto.grpc"
    for name in needed:
        try:
            found = importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            extra = _INSTALL_GRPC if "grpc" in name else _INSTALL
            raise OtlpUnavailableError(f"OTLP {settings.protocol} export needs {extra} ({name} is missing)")


def _exporters(settings: OtlpSettings) -> tuple[Any, Any]:
    try:
        if settings.protocol == "grpc":
            import importlib  # the grpc exporter is an optional extra of its own (it brings grpcio)

            grpc_metrics = importlib.import_module("opentelemetry.exporter.otlp.proto.grpc.metric_exporter")
            grpc_spans = importlib.import_module("opentelemetry.exporter.otlp.proto.grpc.trace_exporter")
            endpoint = settings.endpoint
            return grpc_metrics.OTLPMetricExporter(endpoint=endpoint), grpc_spans.OTLPSpanExporter(endpoint=endpoint)
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetrics
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpans
    except ImportError as exc:
        extra = _INSTALL_GRPC if settings.protocol == "grpc" else _INSTALL
        raise OtlpUnavailableError(f"OTLP {settings.protocol} export needs {extra} ({exc.name} is missing)") from exc
    base = settings.endpoint
    # OTLP/HTTP: the base endpoint gets the per-signal path, as OTEL_EXPORTER_OTLP_ENDPOINT does
    metrics = HttpMetrics(endpoint=f"{base}/v1/metrics" if base else None)
    spans = HttpSpans(endpoint=f"{base}/v1/traces" if base else None)
    return metrics, spans


def start(settings: OtlpSettings, *, service: str) -> Providers:
    """Providers exporting over OTLP as `settings` say; `service` names the process unless OTEL_SERVICE_NAME does."""
    try:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise OtlpUnavailableError(f"OTLP export needs the otel extra: {_INSTALL}") from exc
    metric_exporter, span_exporter = _exporters(settings)
    attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": service}
    resource = Resource.create(attributes)
    interval = settings.export_interval * 1000 if settings.export_interval is not None else None
    reader = PeriodicExportingMetricReader(metric_exporter, export_interval_millis=interval)
    quiet_exporter_logs()
    # no shutdown at exit of the SDK's own (unbounded: 30 s a processor); the owner calls ours (`shared` at exit)
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader], shutdown_on_exit=False)
    tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False)
    tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter))
    return Providers(meter_provider, tracer_provider, settings)
