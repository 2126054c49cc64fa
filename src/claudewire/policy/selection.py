"""Choosing among an upstream pool's members, sans-IO: the upstream of a priority tier by weight, the key by headroom.

`claudewire.policy.pool` decides which members may take an attempt (model, keys out, failover, affinity); these
two measures pick one among the members left.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator

from claudewire.policy.members import Member

__all__ = ["roomiest", "weighted_upstream"]


def roomiest(candidates: list[Member], left: Callable[[str, str], float | None], turn: Iterator[int]) -> Member:
    """The key with the most rate-limit headroom: remaining requests, then tokens; equals take turns (by `turn`)."""
    leaders = _most(candidates, left, "requests")
    if len(leaders) > 1:
        leaders = _most(leaders, left, "input_tokens")
    return leaders[next(turn) % len(leaders)] if len(leaders) > 1 else leaders[0]


def weighted_upstream(candidates: list[Member], rng: random.Random) -> str:
    """The upstream of one of `candidates` (one priority tier), drawn with probability proportional to its weight."""
    weights: dict[str, float] = {}
    for m in candidates:
        weights.setdefault(m.upstream, m.weight)
    point = rng.random() * sum(weights.values())
    for name, weight in weights.items():
        point -= weight
        if point < 0:
            return name
    return next(reversed(weights))


def _most(members: list[Member], left: Callable[[str, str], float | None], family: str) -> list[Member]:
    """The members with the most remaining in bucket `family` (never reported: unlimited, so it gets tried)."""
    best = -1.0
    leaders: list[Member] = []
    for m in members:
        value = left(m.key, family)
        room = math.inf if value is None else value
        if room > best:
            best, leaders = room, [m]
        elif room == best:
            leaders.append(m)
    return leaders
