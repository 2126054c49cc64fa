"""Switching OTLP export on: the standard ``OTEL_*`` variables or an explicit URL, a meter and a tracer provider.

    settings = OtlpSettings.from_env(url=None)      # None: OTLP is off (no endpoint, or OTEL_SDK_DISABLED=true)
    providers = start(settings, service="claudewire-gateway")
    ...
    providers.shutdown()                           # flushes the last metrics and spans

What the OpenTelemetry SDK reads itself stays with it: ``OTEL_EXPORTER_OTLP_HEADERS``, ``..._TIMEOUT``,
``..._CERTIFICATE``, ``..._COMPRESSION``, the signal-specific ``OTEL_EXPORTER_OTLP_{TRACES,METRICS}_ENDPOINT``,
``OTEL_METRIC_EXPORT_INTERVAL``, ``OTEL_BSP_*``, ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES``. The providers
are this process's own (never the global ones): a gateway forks its workers after reading the settings, and each
worker starts its providers after the fork, so no exporter thread is inherited across a fork.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider

__all__ = [
    "CAPTURE_CONTENT_ENV",
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
    """The meter and tracer providers export goes through; `shutdown` flushes and stops both."""

    meter_provider: MeterProvider
    tracer_provider: TracerProvider
    settings: OtlpSettings

    def shutdown(self) -> None:
        """Export what is pending (bounded by the SDK's export timeouts) and stop the exporter threads."""
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


_SHARED: dict[tuple[OtlpSettings, str], Providers] = {}


def shared(settings: OtlpSettings, *, service: str) -> Providers:
    """One `start` per settings and service in this process: every client exporting the same way shares it."""
    key = (settings, service)
    providers = _SHARED.get(key)
    if providers is None:
        providers = _SHARED[key] = start(settings, service=service)
    return providers


def flush(timeout: float = 10.0) -> None:
    """Export now what the shared providers (the clients') hold: before a short-lived process ends, for instance."""
    for providers in list(_SHARED.values()):
        providers.tracer_provider.force_flush(int(timeout * 1000))
        providers.meter_provider.force_flush(int(timeout * 1000))


def shutdown() -> None:
    """Flush and stop the shared providers; clients made afterwards start new ones."""
    while _SHARED:
        _, providers = _SHARED.popitem()
        providers.shutdown()


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
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter))
    return Providers(meter_provider, tracer_provider, settings)
