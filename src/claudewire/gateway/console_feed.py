"""What the gateway hands its console: a record of each finished call, and a reader of its upstreams' state.

`FinishedCall` is an interim adapter: until the one call record (``claudewire.calls``) lands, `Gateway._finish`
builds one from what it knows at the end of a call (its `Trace`, the attempts `_proxy` noted) and gives it to the
console's ring. Once the call record exists, the console's ring becomes one of its observers and this class goes.
`facts_reader` gives the console what ``/readyz`` serves plus the rate-limit headroom, the retry budget and the
affinity outcomes, read only when a console page asks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from claudewire._errors import Failure
from claudewire._sse import Usage
from claudewire.gateway.downstream.console import UpstreamFacts
from claudewire.gateway.routing import Routing
from claudewire.metrics import Metrics
from claudewire.policy import PolicyEngine

__all__ = ["Attempt", "FinishedCall", "facts_reader", "outcome"]


@dataclass(slots=True)
class Attempt:
    """One attempt of a call: its target (``name#index``), how it ended, seconds waited before it."""

    target: str
    outcome: str
    wait: float


def outcome(status: int, failure: Failure | None) -> str:
    """An attempt's outcome in words: ``ok``, or its failure kind (after the status when one came back)."""
    if failure is None:
        return "ok"
    return f"{status} {failure.kind}" if status else str(failure.kind)


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs twice as much, on every call
class FinishedCall:
    """A finished call with the fields the console's ring reads (`claudewire.gateway.downstream.console.CallView`)."""

    route: str
    model: str | None
    stream: bool
    started: float
    duration: float
    attempts: tuple[Attempt, ...]
    served: str
    status: int
    error: str
    ttfb: float | None
    usage: Usage | None
    request_id: str
    client: str = ""
    group: str = ""
    dialect: str = "anthropic"

    @property
    def upstreams(self) -> tuple[str, ...]:
        """Every upstream the call's attempts went to, in order, each once."""
        return tuple(dict.fromkeys(a.target.rpartition("#")[0] or a.target for a in self.attempts))


def facts_reader(routing: Routing, engine: PolicyEngine, metrics: Metrics) -> Callable[[], UpstreamFacts]:
    """A function the console calls for the upstreams' state now."""

    def read() -> UpstreamFacts:
        headroom = {key: engine.ratelimit_remaining(key) for key in routing.targets}
        budget = engine.budget
        affinity: dict[str, float] = {}
        for family in metrics.affinity.collect():
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    name = sample.labels.get("outcome", "?")
                    affinity[name] = affinity.get(name, 0.0) + sample.value
        return UpstreamFacts(
            routing.readiness()[2],
            headroom,
            budget.available(engine.clock()) if budget is not None else None,
            affinity,
        )

    return read
