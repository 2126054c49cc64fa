"""The upstreams a gateway-written error names: which one failed, where it is, and what kind it is.

`downstream.errors` words each error for the party that must act; when that party is the gateway's operator looking
at an upstream, the message names the upstream (``upstream `backup` at http://10.0.0.5:8787``, or ``upstream `aws`
(bedrock, us-east-1) at https://...``). This module, above both floors, builds those names from the configuration
and the routing; the start banner uses `kind_label` for the same words.
"""

from __future__ import annotations

from claudewire._errors import Failure, FailureKind
from claudewire._secrets import redact_url
from claudewire.gateway.config import GatewayConfig
from claudewire.gateway.downstream.errors import UpstreamRef
from claudewire.gateway.routing import Routing
from claudewire.gateway.upstream.specs import UpstreamSpec

__all__ = ["failed_upstreams", "kind_label", "upstream_ref"]


def kind_label(spec: UpstreamSpec, connections: object = None) -> str:
    """What an upstream is, beyond its URL: ``bedrock (us-east-1)``, ``vertex (us-east5, project p)``, ``foundry``;
    empty for the Anthropic API's own kind. `connections` (its pool) tells a region the URL's host implied."""
    if spec.kind == "anthropic":
        return ""
    found = getattr(getattr(connections, "kind", None), "region", None)
    region = spec.options.get("region") or found
    details = [str(region)] if region else []
    if spec.options.get("project"):
        details.append(f"project {spec.options['project']}")
    return f"{spec.kind} ({', '.join(details)})" if details else spec.kind


def upstream_ref(spec: UpstreamSpec, connections: object = None) -> UpstreamRef:
    """`spec` as errors name it (its URL without credentials)."""
    return UpstreamRef(spec.name, redact_url(spec.url), kind_label(spec, connections))


def failed_upstreams(config: GatewayConfig, routing: Routing, failure: Failure, name: str = "") -> list[UpstreamRef]:
    """The upstream(s) `failure` is about: `name` when the attempt that failed is known; for a call refused because
    breakers are open, every upstream that cannot take traffic now; the only upstream when there is one."""
    specs = {spec.name: spec for spec in config.upstreams}
    if name in specs:
        return [upstream_ref(specs[name], routing.upstreams.get(name))]
    if failure.kind is FailureKind.CIRCUIT_OPEN and len(specs) > 1:
        down = [status.name for status in routing.pool.status() if not status.usable]
        names = [n for n in down if n in specs] or list(specs)
        return [upstream_ref(specs[n], routing.upstreams.get(n)) for n in names]
    if len(specs) == 1:
        only = next(iter(specs.values()))
        return [upstream_ref(only, routing.upstreams.get(only.name))]
    return []
