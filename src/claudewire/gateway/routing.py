"""The gateway's upstream pool: one connection pool per configured upstream, one target per (upstream, key).

`Routing` turns `GatewayConfig.upstreams` into the policy's `Pool` (priority, weight, headroom, failover, keys out,
session affinity) and gives each call its chooser (`Routing.chooser(req)`): the call flow asks it where every attempt
goes and the gateway sends there with that target's credentials. `/readyz` (`Routing.readiness`) shows every upstream
and key with its state and why. Key values stay here, as ready header lines; everything else says ``name#index``.
"""

from __future__ import annotations

import functools
import json
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from claudewire._sse import request_model
from claudewire.gateway.config import GatewayConfig
from claudewire.gateway.downstream.request import Request
from claudewire.gateway.upstream.kinds import KindUpstream, open_upstream
from claudewire.gateway.upstream.pool import Upstream
from claudewire.metrics import Metrics
from claudewire.policy import OneTarget, PolicyEngine
from claudewire.policy.pool import Member, Pool, PoolChooser, PoolHooks
from claudewire.policy.poolstate import MemoryPoolState, PoolState

__all__ = ["GatewayTarget", "Routing", "strip_credentials"]

_CREDENTIAL_LINES = (b"x-api-key:", b"authorization:")
_STATE_VALUE = {"closed": 0.0, "half_open": 1.0, "open": 2.0, "out": 3.0}


@dataclass(frozen=True, slots=True)
class GatewayTarget:
    """Where one attempt goes: `key` (``name#index``) names its breaker and limits; `upstream` is the connection
    pool of upstream `name`; `key_line` the credential header the gateway puts on (empty: the client's own)."""

    key: str
    name: str
    upstream: Upstream | KindUpstream
    key_line: bytes = b""


def strip_credentials(headers: bytes) -> bytes:
    """Header lines without the client's ``x-api-key`` / ``authorization`` (a gateway-held key replaces them)."""
    lines = headers.split(b"\r\n")
    return b"\r\n".join(line for line in lines if not line.lower().startswith(_CREDENTIAL_LINES))


class PoolMetrics(PoolHooks):
    """The pool's events as Prometheus series (labels: configured names and ``name#index`` only)."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def on_failover(self, source: str, target: str, reason: str) -> None:
        """Count a failover from `source` to `target`."""
        self.metrics.observe_failover(source, target, reason)

    def on_key_out(self, member: str, reason: str) -> None:
        """Count a key taken out and show it out."""
        self.metrics.observe_key_out(member)

    def on_affinity(self, outcome: str, reason: str) -> None:
        """Count a session's hit, new session or break (with why)."""
        self.metrics.observe_affinity(outcome, reason)


class Routing:
    """Every configured upstream and key of one gateway, and the pool that chooses among them."""

    def __init__(
        self,
        config: GatewayConfig,
        engine: PolicyEngine,
        metrics: Metrics,
        *,
        upstream: Upstream | None = None,
        state: PoolState | None = None,
    ) -> None:
        context = ssl.create_default_context(cafile=config.ca_file) if config.ca_file else None
        self.upstreams: dict[str, Upstream | KindUpstream] = {}
        self.targets: dict[str, GatewayTarget] = {}
        members: list[Member] = []
        for i, spec in enumerate(config.upstreams):
            pool = upstream if upstream is not None and i == 0 else None
            # a cloud kind (bedrock, vertex, foundry) wraps the connections in its translator; the key line then
            # carries that cloud's credential (a Bedrock API key, a Google token, a Foundry key) to the translator
            connections: Upstream | KindUpstream = pool or open_upstream(
                spec,
                clock=engine.clock,  # federation tokens expire on the policy's clock
                ssl_context=context,
                connect_timeout=config.connect_timeout,
                head_limit=config.head_limit,
                max_headers=config.max_headers,
                on_resend=functools.partial(metrics.on_resend, spec.name),
            )
            self.upstreams[spec.name] = connections
            lines = [b"x-api-key: " + key.encode() + b"\r\n" for key in spec.keys] or [b""]
            for index, line in enumerate(lines):
                member = Member(spec.name, index, spec.priority, spec.weight, frozenset(spec.models), bool(line))
                members.append(member)
                self.targets[member.key] = GatewayTarget(member.key, spec.name, connections, line)
        self.hold_keys = any(t.key_line for t in self.targets.values())
        self.by_model = any(m.models for m in members)
        self.headers = tuple(h.encode("latin-1") for h in config.affinity_headers)
        self.pool = Pool(
            members,
            engine,
            state=state or MemoryPoolState(ttl=config.affinity_ttl, max_sessions=config.affinity_sessions),
            key_cooldown=config.key_cooldown,
            max_retry_after=config.policy.max_retry_after,
            hooks=PoolMetrics(metrics),
            clock=engine.clock,
        )
        for member in members:
            metrics.register_key(member.upstream, member.key, self._state_of(member))
        # One upstream that forwards the client's own credentials and lists no models: the pool can only ever
        # choose its one target, and without a session nothing of the pool's own (failover, keys out, affinity)
        # can happen. Such calls share this stateless chooser instead of building a PoolChooser each.
        only = next(iter(self.targets.values()))
        alone = len(self.targets) == 1 and not only.key_line and not self.by_model
        self._single: OneTarget[GatewayTarget] | None = OneTarget(only) if alone else None

    def _state_of(self, member: Member) -> Callable[[], float]:
        pool = self.pool

        def state() -> float:
            return _STATE_VALUE.get(pool.member_status(member).state, 0.0)

        return state

    def chooser(self, req: Request) -> PoolChooser[GatewayTarget] | OneTarget[GatewayTarget]:
        """The chooser of one request's attempts (its model and session id read from the request)."""
        session = None
        for name in self.headers:
            value = req.header(name)
            if value:
                session = value.decode("latin-1")[:256]
                break
        if session is None and self._single is not None:
            return self._single
        model = request_model(req.body) if self.by_model else None
        return PoolChooser(self.pool, self.targets, model=model, session=session)

    def readiness(self) -> tuple[bool, float, bytes]:
        """(ready, seconds until a key may serve again when not ready, the /readyz JSON body)."""
        status = self.pool.status()
        ready = any(u.usable for u in status)
        waits = [k.retry_in for u in status for k in u.keys if k.retry_in > 0]
        body = {
            "status": "ready" if ready else "unavailable",
            "upstreams": [
                {
                    "name": u.name,
                    "priority": u.priority,
                    "usable": u.usable,
                    "keys": [
                        {"key": k.key, "state": k.state, "usable": k.usable, "reason": k.reason, "retry_in": k.retry_in}
                        for k in u.keys
                    ],
                }
                for u in status
            ],
        }
        return ready, min(waits, default=0.0), json.dumps(body, separators=(",", ":")).encode()

    def close(self) -> None:
        """Drop every pooled upstream connection."""
        for connections in self.upstreams.values():
            connections.close()
