"""Several upstreams for `claudewire.Anthropic(upstreams=[...])`: the gateway's failover, in an SDK app.

    client = claudewire.Anthropic(upstreams=[
        {"base_url": "https://api.anthropic.com", "api_key": os.environ["ANTHROPIC_API_KEY"]},
        {"base_url": "https://backup.example.com", "api_key": os.environ["BACKUP_KEY"], "priority": 1},
    ])

Each attempt of a call goes where the policy's upstream pool says (`claudewire.policy.pool`): the lowest priority
first, equal priorities by `weight`, the next upstream after a connection failure, 5xx, 529 or an open breaker, the
next key after a 401/403 on it, never after a request error. The SDK's own request is only pointed elsewhere: its
URL made absolute on the chosen base URL and its key put in the SDK's own ``Authorization`` header (no key: the
client's own). Breakers and rate-limit state are per upstream, in the client's policy engine.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from anthropic import APIRequest

from claudewire._net import origin
from claudewire.policy import PolicyEngine
from claudewire.policy.pool import Member, Pool, PoolChooser, PoolHooks

__all__ = ["ClientTarget", "ClientUpstream", "ClientUpstreams"]

_NAME_RE = re.compile(r"[^a-z0-9_-]+")


@dataclass(frozen=True, slots=True)
class ClientUpstream:
    """One upstream of a client: `base_url`, its `api_key` (None: the client's own), `priority` (lower first),
    `weight` among equal priorities, and a `name` for metrics and logs (default: from the host)."""

    base_url: str
    api_key: str | None = field(default=None, repr=False)
    priority: int = 0
    weight: float = 1.0
    name: str | None = None

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"upstream base_url must start with http:// or https://, got {self.base_url!r}")
        if self.weight <= 0:
            raise ValueError("upstream weight must be > 0")

    @classmethod
    def of(cls, value: ClientUpstream | Mapping[str, Any]) -> ClientUpstream:
        """From a `ClientUpstream` or a mapping with the same fields."""
        if isinstance(value, ClientUpstream):
            return value
        unknown = set(value) - {"base_url", "api_key", "priority", "weight", "name"}
        if unknown:
            raise ValueError(f"unknown upstream field(s): {', '.join(sorted(unknown))}")
        return cls(**value)


@dataclass(frozen=True, slots=True)
class ClientTarget:
    """Where an attempt goes: `key` (``name#0``) names its breaker; `base_url` and `api_key` point the request;
    `name` is the upstream's (metrics), `address` and `port` its host's (the attempt's span)."""

    key: str
    base_url: str
    api_key: str | None = field(default=None, repr=False)
    name: str = ""
    address: str = ""
    port: int = 0

    @classmethod
    def of(cls, member: Member, base_url: str, api_key: str | None) -> ClientTarget:
        """The target of pool member `member` at `base_url`."""
        parts = urlsplit(base_url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return cls(member.key, base_url.rstrip("/"), api_key, member.upstream, parts.hostname or "", port)


class ClientUpstreams:
    """The upstreams of one client and the pool choosing among them (shared by the client's copies)."""

    def __init__(
        self,
        upstreams: Sequence[ClientUpstream | Mapping[str, Any]],
        engine: PolicyEngine,
        hooks: PoolHooks | None = None,
    ) -> None:
        specs = [ClientUpstream.of(u) for u in upstreams]
        if not specs:
            raise ValueError("upstreams= needs at least one upstream")
        self.specs = tuple(specs)
        self.targets: dict[str, ClientTarget] = {}
        members: list[Member] = []
        names: set[str] = set()
        for spec in specs:
            base = spec.name or _NAME_RE.sub("-", origin(spec.base_url).authority).strip("-") or "upstream"
            name, n = base, 2
            while name in names:
                name, n = f"{base}-{n}", n + 1
            names.add(name)
            member = Member(name, 0, spec.priority, spec.weight, held=spec.api_key is not None)
            members.append(member)
            self.targets[member.key] = ClientTarget.of(member, spec.base_url, spec.api_key)
        # the same failover, key-out and affinity series as the gateway's pool (`claudewire.calls.pool_hooks`)
        retry_after = engine.policy.max_retry_after
        self.pool = Pool(members, engine, max_retry_after=retry_after, clock=engine.clock, hooks=hooks)

    @property
    def first(self) -> ClientUpstream:
        """The upstream tried first (the SDK client's own base URL)."""
        return min(self.specs, key=lambda s: s.priority)

    def chooser(self, request: APIRequest) -> PoolChooser[ClientTarget]:
        """The chooser of one call's attempts."""
        body = request.options.json_data
        model = body.get("model") if isinstance(body, Mapping) else None
        return PoolChooser(self.pool, self.targets, model=model if isinstance(model, str) else None)

    @staticmethod
    def point(request: APIRequest, target: ClientTarget) -> APIRequest:
        """`request` sent to `target`: its URL absolute on the target's base URL, the target's key on it."""
        url = request.url
        if not url.startswith(("http://", "https://")):
            url = target.base_url + "/" + url.lstrip("/")
        if target.api_key is None:
            return request.copy(url=url)
        headers = dict(request.headers)
        headers["Authorization"] = f"Bearer {target.api_key}"
        headers.pop("x-api-key", None)
        return request.copy(url=url, headers=headers)
