"""Adaptive rate limiting reads the anthropic-ratelimit-* headers."""

from __future__ import annotations

from claudewire.policy import RateLimitTracker, parse_reset

WALL = 1_800_000_000.0  # 2027-01-15T08:00:00Z


def test_parse_reset_rfc3339() -> None:
    """An RFC 3339 reset time becomes seconds from now; a past time is 0; junk is None."""
    assert parse_reset("2027-01-15T08:00:12Z", WALL) == 12.0
    assert parse_reset("2027-01-15T07:00:00Z", WALL) == 0.0
    assert parse_reset("soon", WALL) is None


def test_empty_bucket_holds_until_reset() -> None:
    """remaining=0 with a reset 12 s away holds new requests for 12 s; other buckets with room do not."""
    t = RateLimitTracker(max_hold=60.0)
    seen = t.observe(
        {
            "anthropic-ratelimit-requests-remaining": "0",
            "anthropic-ratelimit-requests-reset": "2027-01-15T08:00:12Z",
            "anthropic-ratelimit-tokens-remaining": "35000",
            "anthropic-ratelimit-tokens-reset": "2027-01-15T08:00:30Z",
        },
        now=50.0,
        wall_now=WALL,
    )
    assert seen == {"requests": 0.0, "tokens": 35000.0}
    assert t.wait_time(50.0) == 12.0
    assert t.wait_time(62.0) == 0.0


def test_hold_is_capped() -> None:
    """A reset an hour away never holds requests longer than the cap."""
    t = RateLimitTracker(max_hold=5.0)
    t.observe(
        {
            "anthropic-ratelimit-output-tokens-remaining": "0",
            "anthropic-ratelimit-output-tokens-reset": "2027-01-15T09:00:00Z",
        },
        now=0.0,
        wall_now=WALL,
    )
    assert t.wait_time(0.0) == 5.0


def test_headroom_never_holds() -> None:
    """Buckets with room, or headers without a reset, never hold requests."""
    t = RateLimitTracker(max_hold=60.0)
    t.observe({"anthropic-ratelimit-requests-remaining": "49"}, now=0.0, wall_now=WALL)
    t.observe({"anthropic-ratelimit-tokens-remaining": "0"}, now=0.0, wall_now=WALL)
    assert t.wait_time(0.0) == 0.0
