"""The upstream pool's vocabulary: a member (one upstream + key), what the pool reads about it, what it reports.

Kept apart from the choosing (`claudewire.policy.pool`) so readers of the pool's state (/readyz, metrics, a shared
state backend) need only these small types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from claudewire.policy.breaker import BreakerState

__all__ = ["Member", "MemberStatus", "PoolHealth", "PoolHooks", "UpstreamStatus"]


@dataclass(frozen=True, slots=True)
class Member:
    """One (upstream, key) pair, the target of an attempt: `key` (``name#index``) names its engine state."""

    upstream: str
    index: int = 0
    priority: int = 0
    weight: float = 1.0
    models: frozenset[str] = frozenset()
    held: bool = True
    key: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", f"{self.upstream}#{self.index}")

    def serves(self, model: str | None) -> bool:
        """Whether a request for `model` may go here."""
        return not self.models or model is None or model in self.models


class PoolHealth(Protocol):
    """What the pool reads from the policy engine about a member key (`PolicyEngine` provides these)."""

    def breaker_state(self, upstream: str) -> BreakerState:
        """The breaker state of a member key."""
        ...

    def breaker_retry_in(self, upstream: str) -> float:
        """Seconds until an open breaker admits a probe."""
        ...

    def ratelimit_left(self, upstream: str, family: str) -> float | None:
        """The last remaining value of one of the member's rate-limit buckets (None: never reported)."""
        ...


class PoolHooks:
    """Pool events for metrics and logs; every method is a no-op here and must be fast."""

    def on_failover(self, source: str, target: str, reason: str) -> None:
        """An attempt moved from upstream `source` to `target` (the same upstream: another key) after `reason`."""

    def on_key_out(self, member: str, reason: str) -> None:
        """The key `member` (``name#index``) was taken out of rotation."""

    def on_affinity(self, outcome: str, reason: str) -> None:
        """A session's call ended served: outcome ``hit``, ``new`` or ``break`` (then `reason` says why)."""


@dataclass(frozen=True, slots=True)
class MemberStatus:
    """One key's state for /readyz: ``closed``, ``open``, ``half_open`` or ``out``, why, and when it may serve."""

    key: str
    state: str
    usable: bool
    reason: str = ""
    retry_in: float = 0.0


@dataclass(frozen=True, slots=True)
class UpstreamStatus:
    """One upstream's state for /readyz: usable while any of its keys is."""

    name: str
    priority: int
    usable: bool
    keys: tuple[MemberStatus, ...]
