"""The fault grammar, profiles and the seeded per-request plan (no sockets)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from claudewire.sim import PROFILES, FaultKind, FaultSpec, FaultSpecError, SimConfig
from claudewire.sim.faults import NO_RETRY_AFTER, FaultPlan


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("529:0.2", FaultSpec(FaultKind.OVERLOADED, 0.2)),
        ("429:0.1,retry_after=1", FaultSpec(FaultKind.RATE_LIMIT, 0.1, retry_after=1.0)),
        ("429,retry_after=none", FaultSpec(FaultKind.RATE_LIMIT, 1.0, retry_after=NO_RETRY_AFTER)),
        ("reset:0.05", FaultSpec(FaultKind.RESET, 0.05)),
        ("latency:1.0,ms=200", FaultSpec(FaultKind.LATENCY, 1.0, ms=(200.0, 200.0))),
        ("latency:0.5,ms=100-500", FaultSpec(FaultKind.LATENCY, 0.5, ms=(100.0, 500.0))),
        ("stall:1.0", FaultSpec(FaultKind.STALL)),
        ("midstream_error:1.0,after=3", FaultSpec(FaultKind.MIDSTREAM_ERROR, after=3)),
        ("cut:1.0,after=3", FaultSpec(FaultKind.CUT, after=3)),
        ("buffered:1.0", FaultSpec(FaultKind.BUFFERED)),
        ("skew:1.0,seconds=300", FaultSpec(FaultKind.SKEW, seconds=300.0)),
        ("portal:1.0", FaultSpec(FaultKind.PORTAL)),
        ("spend_limit:1.0", FaultSpec(FaultKind.SPEND_LIMIT)),
        ("402:1.0", FaultSpec(FaultKind.BILLING)),
        ("500", FaultSpec(FaultKind.SERVER_ERROR)),
        ("503", FaultSpec(FaultKind.UNAVAILABLE)),
        ("504", FaultSpec(FaultKind.GATEWAY_TIMEOUT)),
        (
            "overloaded:0.5,count=2,path=/v1/messages",
            FaultSpec(FaultKind.OVERLOADED, 0.5, count=2, path="/v1/messages"),
        ),
        (" Slow : 1 , ms = 50 ", FaultSpec(FaultKind.SLOW, ms=(50.0, 50.0))),
    ],
)
def test_parse_examples(text: str, expected: FaultSpec) -> None:
    """Every documented example parses to the fault it names, aliases and spacing included."""
    assert FaultSpec.parse(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty fault spec"),
        ("bogus:0.1", "unknown fault 'bogus'"),
        ("529:1.5", "outside 0..1"),
        ("529:lots", "is not a number"),
        ("529,retry_after", "expected key=value"),
        ("reset,ms=5", "takes no 'ms'"),
        ("cut,after=2.5", "whole number"),
        ("latency,ms=500-100", "low <= high"),
        ("500,path=v1", "must start with '/'"),
        ("500,count=-1", "count must be >= 0"),
        ("skew,seconds=inf", "finite"),
        ("stall,seconds=nan", "finite"),
        ("pause,seconds=-1", "seconds must be >= 0"),
    ],
)
def test_parse_rejects_with_a_clear_message(text: str, fragment: str) -> None:
    """A bad spec raises FaultSpecError (a ValueError) saying what is wrong."""
    with pytest.raises(FaultSpecError, match=fragment):
        FaultSpec.parse(text)


_kinds = st.sampled_from(list(FaultKind))
_rates = st.sampled_from([0.0, 0.05, 0.25, 0.5, 1.0])


@given(kind=_kinds, rate=_rates, count=st.none() | st.integers(0, 50))
def test_str_round_trips(kind: FaultKind, rate: float, count: int | None) -> None:
    """str(spec) is a spec string that parses back to the same fault."""
    spec = FaultSpec(kind, rate, count=count)
    assert FaultSpec.parse(str(spec)) == spec


def test_profiles_parse_and_unknown_profile_is_named() -> None:
    """Every named profile is valid; an unknown profile name lists the known ones."""
    assert PROFILES["healthy"] == ()
    assert {"healthy", "flaky", "overloaded", "down", "corporate-proxy", "captive-portal"} <= set(PROFILES)
    with pytest.raises(FaultSpecError, match="known profiles: healthy"):
        SimConfig(profile="nope")


def test_same_seed_same_faults() -> None:
    """Two plans with the same seed inject the same faults in the same order; another seed differs."""

    def run(seed: int) -> list[tuple[FaultKind, ...]]:
        plan = FaultPlan.build("flaky", ["529:0.3"], seed)
        return [plan.decide("/v1/messages", False).applied for _ in range(200)]

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_rate_is_respected_roughly() -> None:
    """A 0.2 fault hits about a fifth of requests (seeded, so the count is stable)."""
    plan = FaultPlan.build("healthy", ["529:0.2"], 1)
    hits = sum(plan.decide("/v1/messages", False).terminal is not None for _ in range(1000))
    assert 150 < hits < 250


def test_count_and_path_limit_injection() -> None:
    """count=N stops after N injections; path= confines a fault to matching paths."""
    plan = FaultPlan.build("healthy", ["500:1.0,count=2,path=/v1/messages"], 0)
    assert plan.decide("/v1/models", False).terminal is None
    hits = [plan.decide("/v1/messages", False).terminal is not None for _ in range(4)]
    assert hits == [True, True, False, False]


def test_stream_faults_only_touch_streams_and_faults_combine() -> None:
    """Stream faults skip non-streaming requests; latency adds up; the first terminal fault wins."""
    plan = FaultPlan.build("healthy", ["cut:1.0", "latency:1,ms=100", "latency:1,ms=50", "503", "529"], 0)
    plain = plan.decide("/v1/messages", False)
    assert plain.stream is None
    assert plain.delay == pytest.approx(0.15)
    assert plain.terminal is not None and plain.terminal.kind is FaultKind.UNAVAILABLE
    streamed = plan.decide("/v1/messages", True)
    assert streamed.stream is not None and streamed.stream.kind is FaultKind.CUT


@given(st.text(max_size=40))
def test_any_text_parses_or_fails_with_fault_spec_error(text: str) -> None:
    """Whatever a user types, parse returns a FaultSpec or raises FaultSpecError, never anything else."""
    try:
        spec = FaultSpec.parse(text)
    except FaultSpecError:
        return
    assert 0.0 <= spec.rate <= 1.0
