"""Lines of `claudewire proxy`'s start banner: which base URL each client takes, what each upstream is, where
metrics and OTLP export go. Rendering only: every fact comes from the configuration or the running gateway."""

from __future__ import annotations

import os
from collections.abc import Mapping

from claudewire._secrets import redact_url
from claudewire.gateway import Gateway, GatewayConfig
from claudewire.gateway.parties import kind_label
from claudewire.gateway.upstream.specs import UpstreamSpec
from claudewire.telemetry import OtlpSettings, OtlpUnavailableError

__all__ = ["base_url_lines", "otlp_line", "upstream_where", "workers_note"]

_ROOT_CLIENTS = "Claude Code, the Anthropic SDKs, LangChain, LiteLLM"
_V1_CLIENTS = "the Vercel AI SDK (@ai-sdk/anthropic: createAnthropic's baseURL)"


def base_url_lines(base_url: str) -> list[str]:
    """The short form of README's "Which base URL each client takes", for the gateway at `base_url`."""
    v1 = f"{base_url}/v1"
    width = len(v1) + 2
    return [
        f"  base URL by client: {base_url:<{width}}{_ROOT_CLIENTS}",
        f"                      {v1:<{width}}{_V1_CLIENTS}",
    ]


def upstream_where(spec: UpstreamSpec, gateway: Gateway) -> str:
    """An upstream as the banner shows it: its URL, after its kind for a cloud (``bedrock (us-east-1) at URL``)."""
    routing = getattr(gateway, "routing", None)  # the pools tell a region the URL implied; without them, the spec
    kind = kind_label(spec, routing.upstreams.get(spec.name) if routing is not None else None)
    url = redact_url(spec.url)
    return f"{kind} at {url}" if kind else url


def otlp_line(config: GatewayConfig, env: Mapping[str, str] | None = None) -> str:
    """Whether GenAI metrics and traces go out over OTLP, and where, as ``--otlp`` and the OTEL_* variables say."""
    env = os.environ if env is None else env
    try:
        settings = OtlpSettings.from_env(config.otlp, env)
    except OtlpUnavailableError as exc:  # the gateway refuses it at start the same way
        return f"  OTLP export: not usable: {exc}"
    if settings is None:
        return "  OTLP export: off (--otlp URL or OTEL_EXPORTER_OTLP_ENDPOINT turns it on)"
    common = settings.endpoint or env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "")
    traces = (None if settings.endpoint else env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")) or common
    metrics = (None if settings.endpoint else env.get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")) or common
    if traces == metrics:
        where = f"GenAI metrics and traces to {redact_url(traces)}"
    else:  # each signal's own variable: a signal with none goes to the SDK's default (localhost)
        where = (
            f"traces to {redact_url(traces) or 'the default'}, GenAI metrics to {redact_url(metrics) or 'the default'}"
        )
    return f"  OTLP export: on, {where} ({settings.protocol})"


def workers_note(config: GatewayConfig) -> str:
    """What one scrape of /metrics covers."""
    if config.workers > 1:
        return f" (Prometheus; every one of the {config.workers} workers in each scrape)"
    return " (Prometheus)"
