"""Choosing among members: the weighted upstream of a tier and the key with the most rate-limit headroom."""

from __future__ import annotations

import itertools
import random
from collections import Counter

from claudewire.policy.members import Member
from claudewire.policy.selection import roomiest, weighted_upstream


def test_weighted_upstream_draws_in_proportion_to_each_upstreams_weight() -> None:
    """Weights 1 and 3 (the second key of an upstream does not count twice) give about 1/4 and 3/4 of the draws."""
    members = [Member("a", 0, weight=1.0), Member("b", 0, weight=3.0), Member("b", 1, weight=3.0)]
    rng = random.Random(7)
    drawn = Counter(weighted_upstream(members, rng) for _ in range(4000))
    assert set(drawn) == {"a", "b"}
    assert 800 < drawn["a"] < 1200


def test_roomiest_prefers_requests_left_then_tokens_and_unreported_counts_as_unlimited() -> None:
    """Most requests left wins; a tie goes to tokens left; a key never reported beats every reported one."""
    a, b, c = Member("u", 0), Member("u", 1), Member("u", 2)
    left = {("u#0", "requests"): 5.0, ("u#1", "requests"): 5.0, ("u#1", "input_tokens"): 900.0}
    left[("u#0", "input_tokens")] = 100.0
    left[("u#2", "requests")] = 1.0
    turn = itertools.count()
    assert roomiest([a, b, c], lambda k, f: left.get((k, f)), turn) is b
    assert roomiest([a, c, Member("u", 3)], lambda k, f: left.get((k, f)), turn).key == "u#3"


def test_roomiest_equals_take_turns() -> None:
    """Keys with the same headroom are chosen in turn, so load spreads over them."""
    members = [Member("u", 0), Member("u", 1), Member("u", 2)]
    turn = itertools.count()
    picks = [roomiest(members, lambda k, f: 10.0, turn).key for _ in range(6)]
    assert picks == ["u#0", "u#1", "u#2", "u#0", "u#1", "u#2"]
