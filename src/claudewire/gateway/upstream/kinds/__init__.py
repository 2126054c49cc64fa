"""Upstream kinds: how the gateway talks to each upstream (``kind`` on ``[[upstreams]]``).

``anthropic`` passes requests through byte for byte. ``bedrock``, ``bedrock-mantle``, ``vertex`` and ``foundry`` are
small translators behind one interface (`Kind`, see `claudewire.gateway.upstream.kinds.base`); `open_upstream` gives
the gateway, for any `UpstreamSpec`, something with the connection pool's ``send`` that speaks Anthropic on both sides::

    [[upstreams]]
    name = "bedrock-east"
    kind = "bedrock"
    url = "https://bedrock-runtime.us-east-1.amazonaws.com"
    region = "us-east-1"                 # SigV4 region (default: from the host, else AWS_REGION)
    keys = []                            # Bedrock API keys (bearer); empty: the standard AWS credential chain
    anthropic_version = "2026-10-21"     # default: what the official SDK's AnthropicBedrock sends
    betas = ["interleaved-thinking-2025-05-14"]   # allowlist (default: bedrock.DEFAULT_BETAS)
    beta_aliases = {}                    # client beta name -> Bedrock's name for it
    [upstreams.model_map]
    "claude-haiku-4-5" = "us.anthropic.claude-haiku-4-5-20251001-v1:0"

    [[upstreams]]
    name = "vertex"
    kind = "vertex"
    url = "https://us-east5-aiplatform.googleapis.com/v1"
    project = "my-project"
    region = "us-east5"
    keys = []                            # static bearer tokens; empty: google-auth (credentials_file, else ADC)
    credentials_file = "/run/secrets/sa.json"
    rejected_fields = ["output_config", "context_management", "mcp_servers", "container", "service_tier"]

    [[upstreams]]
    name = "foundry"
    kind = "foundry"
    url = "https://my-resource.services.ai.azure.com/anthropic"
    keys = ["env:FOUNDRY_KEY"]           # sent as api-key and x-api-key (bearer = true: Authorization: Bearer)

    [[upstreams]]
    name = "mantle"
    kind = "bedrock-mantle"              # Claude in Amazon Bedrock: the Messages API under {url}/anthropic/
    url = "https://bedrock-mantle.us-east-1.api.aws"
    keys = []                            # Bedrock API keys (bearer); empty: SigV4 (bedrock-mantle), AWS chain
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from claudewire.gateway.upstream.federation import FederationSpec
from claudewire.gateway.upstream.kinds.base import Kind, KindUpstream, Refusal, UpstreamCall
from claudewire.gateway.upstream.pool import Upstream
from claudewire.gateway.upstream.specs import UpstreamConfigError, UpstreamSpec

__all__ = ["KIND_FIELDS", "Kind", "KindUpstream", "Refusal", "UpstreamCall", "build_kind", "open_upstream"]

KIND_FIELDS: Mapping[str, frozenset[str]] = {
    "anthropic": frozenset({"federation"}),
    "bedrock": frozenset({"region", "anthropic_version", "betas", "beta_aliases", "model_map"}),
    "vertex": frozenset({"project", "region", "anthropic_version", "rejected_fields", "model_map", "credentials_file"}),
    "foundry": frozenset({"bearer", "model_map"}),
    "bedrock-mantle": frozenset({"region", "model_map"}),
}
"""The ``[[upstreams]]`` fields each kind takes beyond the common ones."""


def _str(spec: UpstreamSpec, name: str, required: bool = False) -> str | None:
    value = spec.options.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise UpstreamConfigError(
            f"upstreams ({spec.name}).{name}: a non-empty string is required for kind {spec.kind}"
        )
    return value


def _list(spec: UpstreamSpec, name: str) -> list[str] | None:
    value = spec.options.get(name)
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UpstreamConfigError(f"upstreams ({spec.name}).{name}: a list of strings")
    return list(value)


def _table(spec: UpstreamSpec, name: str) -> dict[str, str] | None:
    value = spec.options.get(name)
    if value is None:
        return None
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise UpstreamConfigError(f'upstreams ({spec.name}).{name}: a table of strings ("from" = "to")')
    return dict(value)


def build_kind(
    spec: UpstreamSpec, upstream: Upstream, *, clock: Callable[[], float] = time.monotonic, **injected: Any
) -> Kind | None:
    """The translator for `spec` (None for ``anthropic``: pass-through); `UpstreamConfigError` naming a bad field.

    `injected` reaches the kind's constructor (tests give static ``credentials``); `clock` (monotonic seconds) times
    a federation credential's tokens.
    """
    if spec.kind == "anthropic":
        federation = spec.options.get("federation")
        if isinstance(federation, FederationSpec):
            from claudewire.gateway.upstream.kinds.federation import FederationKind

            return FederationKind(spec.name, upstream, federation, clock=clock)
        return None
    try:
        if spec.kind == "bedrock":
            from claudewire.gateway.upstream.kinds.bedrock import BedrockKind

            version = _str(spec, "anthropic_version")
            return BedrockKind(
                spec.name,
                upstream.target,
                region=_str(spec, "region"),
                keys=spec.keys,
                betas=_list(spec, "betas"),
                aliases=_table(spec, "beta_aliases"),
                model_map=_table(spec, "model_map"),
                **({"anthropic_version": version} if version else {}),
                **injected,
            )
        if spec.kind == "vertex":
            from claudewire.gateway.upstream.kinds.vertex import VertexKind

            version = _str(spec, "anthropic_version")
            return VertexKind(
                spec.name,
                project=str(_str(spec, "project", required=True)),
                region=str(_str(spec, "region", required=True)),
                keys=spec.keys,
                rejected_fields=_list(spec, "rejected_fields"),
                model_map=_table(spec, "model_map"),
                credentials_file=_str(spec, "credentials_file"),
                **({"anthropic_version": version} if version else {}),
                **injected,
            )
        if spec.kind == "foundry":
            from claudewire.gateway.upstream.kinds.foundry import FoundryKind

            bearer = spec.options.get("bearer", False)
            if not isinstance(bearer, bool):
                raise UpstreamConfigError(f"upstreams ({spec.name}).bearer: true or false")
            return FoundryKind(spec.name, keys=spec.keys, bearer=bearer, model_map=_table(spec, "model_map"))
        if spec.kind == "bedrock-mantle":
            from claudewire.gateway.upstream.kinds.mantle import MantleKind

            return MantleKind(
                spec.name,
                upstream.target,
                region=_str(spec, "region"),
                keys=spec.keys,
                model_map=_table(spec, "model_map"),
                **injected,
            )
    except ImportError as exc:
        extra = "vertex" if spec.kind == "vertex" else "bedrock"
        raise UpstreamConfigError(
            f"upstreams ({spec.name}).kind: {spec.kind} needs {exc.name}: pip install 'claudewire[{extra}]'"
        ) from None
    except ValueError as exc:
        if isinstance(exc, UpstreamConfigError):
            raise
        raise UpstreamConfigError(f"upstreams ({spec.name}).{exc}") from None
    raise UpstreamConfigError(f"upstreams ({spec.name}).kind: unknown kind {spec.kind!r}")


def open_upstream(
    spec: UpstreamSpec,
    *,
    kind_options: Mapping[str, Any] | None = None,
    clock: Callable[[], float] = time.monotonic,
    **pool: Any,
) -> Upstream | KindUpstream:
    """The connection pool for `spec` (`pool` are `Upstream`'s keyword arguments), wrapped in its kind's translator
    unless it is a plain ``anthropic`` upstream; `kind_options` reach the kind (tests give static ``credentials``),
    `clock` times federation tokens (the gateway's, so a test can move time on)."""
    upstream = Upstream(spec.url, **pool)
    kind = build_kind(spec, upstream, clock=clock, **(kind_options or {}))
    return upstream if kind is None else KindUpstream(upstream, kind)
