"""What the gateway hands its console: each finished call record, and a reader of its upstreams' state.

`ConsoleSink` is one of the call record's sinks (``claudewire.calls.CallObservers``, beside the access log): it
turns each finished `CallRecord` into the `FinishedCall` the console's ring reads (wall-clock start, each attempt's
wait before it, the upstreams tried) and adds it to the ring. `facts_reader` gives the console what ``/readyz``
serves plus the rate-limit headroom, the retry budget and the affinity outcomes, read only when a page asks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from claudewire._errors import Failure
from claudewire._sse import Usage
from claudewire.calls import CallRecord
from claudewire.gateway.downstream.console import CallRing, UpstreamFacts
from claudewire.gateway.routing import Routing
from claudewire.metrics import Metrics
from claudewire.policy import PolicyEngine

__all__ = ["Attempt", "ConsoleSink", "FinishedCall", "facts_reader", "outcome"]


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


class ConsoleSink:
    """A call-record sink that hands each finished call to the console's ring (a deque append and a few counts)."""

    __slots__ = ("ring",)

    def __init__(self, ring: CallRing) -> None:
        self.ring = ring

    def on_call(self, record: CallRecord) -> None:
        """Add `record`, as the ring reads it, to the ring."""
        duration = record.duration if record.duration is not None else time.monotonic() - record.start
        attempts = []
        before = 0.0  # the record keeps the wait after each attempt; the console shows the wait before it
        for attempt in record.attempts:
            status = f"{attempt.status} " if attempt.status and attempt.outcome != "ok" else ""
            attempts.append(Attempt(attempt.target, f"{status}{attempt.outcome or 'in flight'}", before))
            before = attempt.wait or 0.0
        self.ring.add(
            FinishedCall(
                record.route,
                record.model,
                record.stream,
                time.time() - duration,
                duration,
                tuple(attempts),
                record.served,
                record.status,
                record.error,
                record.ttfb,
                record.usage,
                record.request_id,
                record.client,
                record.group,
                record.dialect,
            )
        )


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
