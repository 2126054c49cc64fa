"""The gateway's upstream pool: one connection pool per configured upstream, one target per (upstream, key).

`Routing` turns `GatewayConfig.upstreams` into the policy's `Pool` (priority, weight, headroom, failover, keys out,
session affinity) and gives each call its chooser (`Routing.chooser(req)`): the call flow asks it where every attempt
goes and the gateway sends there with that target's credentials. A call for a model no upstream serves gets no
chooser but the caller's error (a 404 naming the model and those served): nothing is sent, no breaker counts it.
`/readyz` (`Routing.readiness`) shows every upstream and key with its state and why. Key values stay in the targets'
senders (`KeyedUpstream`), as values, and in the one `Scrubber` that keeps them out of every answer; everything else
says ``name#index``.
"""

from __future__ import annotations

import functools
import json
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from claudewire._errors import Failure, FailureKind
from claudewire._secrets import Scrubber
from claudewire._sse import request_model
from claudewire.gateway.config import GatewayConfig
from claudewire.gateway.downstream.request import Request
from claudewire.gateway.upstream.kinds import KindUpstream, open_upstream
from claudewire.gateway.upstream.pool import KeyedUpstream, Sender, Upstream
from claudewire.metrics import Metrics
from claudewire.policy import OneTarget, PolicyEngine
from claudewire.policy.pool import Member, Pool, PoolChooser, PoolHooks
from claudewire.policy.poolstate import MemoryPoolState, PoolState

__all__ = ["GatewayTarget", "Routing"]

_STATE_VALUE = {"closed": 0.0, "half_open": 1.0, "open": 2.0, "out": 3.0}
_SHOWN_MODELS = 20  # models named in the 404 for an unserved one


@dataclass(frozen=True, slots=True)
class GatewayTarget:
    """Where one attempt goes: `key` (``name#index``) names its breaker and limits; `upstream` sends to upstream
    `name`, with the gateway's key for it bound when `held` (else the client's own credentials go)."""

    key: str
    name: str
    upstream: Sender
    held: bool = False

    @property
    def address(self) -> str:
        """The upstream's host (for the attempt's span)."""
        return self.upstream.target.host

    @property
    def port(self) -> int:
        """The upstream's port."""
        return self.upstream.target.port


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
        hooks: PoolHooks | None = None,
    ) -> None:
        context = ssl.create_default_context(cafile=config.ca_file) if config.ca_file else None
        # every key the gateway holds, for every kind: scrubbed from every answer (minted ones are added per call)
        self.scrubber = Scrubber(key for spec in config.upstreams for key in spec.keys)
        self.upstreams: dict[str, Upstream | KindUpstream] = {}
        self.targets: dict[str, GatewayTarget] = {}
        members: list[Member] = []
        for i, spec in enumerate(config.upstreams):
            pool = upstream if upstream is not None and i == 0 else None
            # a cloud kind (bedrock, vertex, foundry) wraps the connections in its translator; the key bound to a
            # target reaches it as a value and becomes that cloud's credential (a Bedrock API key, a Google token,
            # a Foundry key) there
            connections: Upstream | KindUpstream = pool or open_upstream(
                spec,
                name=spec.name,
                scrubber=self.scrubber,
                body_limit=config.upstream_error_body_limit,
                clock=engine.clock,  # federation tokens expire on the policy's clock
                ssl_context=context,
                connect_timeout=config.connect_timeout,
                head_limit=config.head_limit,
                max_headers=config.max_headers,
                on_resend=functools.partial(metrics.on_resend, spec.name),
            )
            self.upstreams[spec.name] = connections
            keys: list[str | None] = [*spec.keys] or [None]
            for index, key in enumerate(keys):
                held = key is not None
                member = Member(spec.name, index, spec.priority, spec.weight, frozenset(spec.models), held)
                members.append(member)
                sender: Sender = KeyedUpstream(connections, key) if key is not None else connections
                self.targets[member.key] = GatewayTarget(member.key, spec.name, sender, held)
        self.by_model = any(m.models for m in members)
        # a model no upstream serves (only possible when every upstream lists its models): the caller's error
        self._everything = any(not m.models for m in members)
        self._served = sorted({model for m in members for model in m.models})
        self.headers = tuple(h.encode("latin-1") for h in config.affinity_headers)
        self.pool = Pool(
            members,
            engine,
            state=state or MemoryPoolState(ttl=config.affinity_ttl, max_sessions=config.affinity_sessions),
            key_cooldown=config.key_cooldown,
            max_retry_after=config.policy.max_retry_after,
            hooks=hooks,
            clock=engine.clock,
        )
        for member in members:
            metrics.register_key(member.upstream, member.key, self._state_of(member))
        # One upstream that forwards the client's own credentials and lists no models: the pool can only ever
        # choose its one target, and without a session nothing of the pool's own (failover, keys out, affinity)
        # can happen. Such calls share this stateless chooser instead of building a PoolChooser each.
        only = next(iter(self.targets.values()))
        alone = len(self.targets) == 1 and not only.held and not self.by_model
        self._single: OneTarget[GatewayTarget] | None = OneTarget(only) if alone else None

    def _state_of(self, member: Member) -> Callable[[], float]:
        pool = self.pool

        def state() -> float:
            return _STATE_VALUE.get(pool.member_status(member).state, 0.0)

        return state

    def chooser(self, req: Request) -> PoolChooser[GatewayTarget] | OneTarget[GatewayTarget] | Failure:
        """The chooser of one request's attempts (its model and session id read from the request); for a model no
        upstream serves, the `Failure` to answer instead (404 ``not_found_error``, not retryable), sent nowhere."""
        session = None
        for name in self.headers:
            value = req.header(name)
            if value:
                session = value.decode("latin-1")[:256]
                break
        if session is None and self._single is not None:
            return self._single
        model = request_model(req.body) if self.by_model else None
        if model is not None and not self._everything and model not in self._served:
            return self._unserved(model)
        return PoolChooser(self.pool, self.targets, model=model, session=session)

    def _unserved(self, model: str) -> Failure:
        shown = ", ".join(self._served[:_SHOWN_MODELS]) + (" ..." if len(self._served) > _SHOWN_MODELS else "")
        message = f"model {model[:200]!r} is served by no upstream of this gateway; the models it serves: {shown}"
        return Failure.of(FailureKind.NOT_FOUND, retryable=False, message=message)

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
