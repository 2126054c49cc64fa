"""Faults the simulator injects on purpose: their string grammar, named profiles and the seeded per-request plan.

Grammar (shared by ``claudewire sim --fault`` and `FaultSpec.parse`)::

    KIND[:RATE][,key=value ...]

`KIND` is an HTTP status the API answers with (400 401 402 403 404 408 409 413 429 500 502 503 504 529), a named
alias (``overloaded`` = 529, ``rate_limit`` = 429, ``billing`` = 402, ``timeout`` = 504, ``api_error`` = 500) or a
behaviour: ``spend_limit``, ``reset``, ``stall``, ``portal``, ``latency``, ``skew``, ``midstream_error``, ``cut``,
``slow``, ``buffered``, ``pause``. `RATE` is the probability (0..1, default 1) that a request gets the fault. Keys:

- every kind: ``count=N`` (inject at most N times, then behave), ``path=/v1/messages`` (only paths starting so);
- 429 / 503 / 529: ``retry_after=SECONDS`` (``retry_after=none`` to send no header);
- ``latency``: ``ms=200`` fixed or ``ms=100-500`` uniform; ``slow``: ``ms=`` per-token delay;
  ``buffered``: ``ms=`` hold time; ``stall``: ``seconds=`` (default: until shutdown);
- ``midstream_error`` / ``cut`` / ``pause``: ``after=N`` content deltas (default 3); ``midstream_error``:
  ``status=429`` picks the error it ends with (default 529 ``overloaded_error``; a Bedrock simulator sends the
  matching exception frame); ``pause``: ``seconds=`` of silence there, not a byte (default 15), then the rest;
  ``skew``: ``seconds=`` (may be negative).

Examples: ``529:0.2``, ``429:0.1,retry_after=1``, ``reset:0.05``, ``latency:1.0,ms=200``, ``stall``,
``midstream_error:1.0,after=3``, ``cut:1.0,after=3``, ``pause:1.0,after=2,seconds=20``, ``buffered``,
``skew:1.0,seconds=300``, ``portal``, ``spend_limit``, ``402``, ``500:0.5,count=2``.
"""

from __future__ import annotations

import enum
import math
import random
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "NO_RETRY_AFTER",
    "PROFILES",
    "FaultDecision",
    "FaultKind",
    "FaultPlan",
    "FaultSpec",
    "FaultSpecError",
    "profile_faults",
]


NO_RETRY_AFTER = -1.0
"""`FaultSpec.retry_after` meaning "send no retry-after header" (``retry_after=none``)."""


class FaultSpecError(ValueError):
    """A fault spec or profile name that cannot be understood; the message says what is accepted."""


class FaultKind(enum.StrEnum):
    """One way the simulator can misbehave."""

    BAD_REQUEST = "400"
    UNAUTHORIZED = "401"
    BILLING = "402"
    FORBIDDEN = "403"
    NOT_FOUND = "404"
    REQUEST_TIMEOUT = "408"
    CONFLICT = "409"
    TOO_LARGE = "413"
    RATE_LIMIT = "429"
    SERVER_ERROR = "500"
    BAD_GATEWAY = "502"
    UNAVAILABLE = "503"
    GATEWAY_TIMEOUT = "504"
    OVERLOADED = "529"
    SPEND_LIMIT = "spend_limit"
    RESET = "reset"
    STALL = "stall"
    PORTAL = "portal"
    LATENCY = "latency"
    SKEW = "skew"
    MIDSTREAM_ERROR = "midstream_error"
    CUT = "cut"
    SLOW = "slow"
    BUFFERED = "buffered"
    PAUSE = "pause"

    @property
    def status(self) -> int | None:
        """The HTTP status this fault answers with, if it is a status fault."""
        if self.value.isdigit():
            return int(self.value)
        return 429 if self is FaultKind.SPEND_LIMIT else None


_ALIASES = {"overloaded": "529", "rate_limit": "429", "billing": "402", "timeout": "504", "api_error": "500"}

# Categories decide how faults combine in one request: the first terminal hit answers the request; latency adds up;
# the first stream fault shapes the stream; the first skew sets the Date clock.
_BEHAVIOURS = frozenset({FaultKind.RESET, FaultKind.STALL, FaultKind.PORTAL})
TERMINAL = frozenset(k for k in FaultKind if k.status is not None) | _BEHAVIOURS
STREAM = frozenset({FaultKind.MIDSTREAM_ERROR, FaultKind.CUT, FaultKind.SLOW, FaultKind.BUFFERED, FaultKind.PAUSE})
# Faults a network middlebox causes: they happen before the API looks at the key or version.
NETWORK = frozenset({FaultKind.RESET, FaultKind.STALL, FaultKind.PORTAL})

_COMMON_KEYS = frozenset({"count", "path"})
_KEYS: dict[FaultKind, frozenset[str]] = {
    FaultKind.RATE_LIMIT: frozenset({"retry_after"}),
    FaultKind.UNAVAILABLE: frozenset({"retry_after"}),
    FaultKind.OVERLOADED: frozenset({"retry_after"}),
    FaultKind.LATENCY: frozenset({"ms"}),
    FaultKind.SLOW: frozenset({"ms"}),
    FaultKind.BUFFERED: frozenset({"ms"}),
    FaultKind.STALL: frozenset({"seconds"}),
    FaultKind.SKEW: frozenset({"seconds"}),
    FaultKind.MIDSTREAM_ERROR: frozenset({"after", "status"}),
    FaultKind.CUT: frozenset({"after"}),
    FaultKind.PAUSE: frozenset({"after", "seconds"}),
}


def _number(kind: str, key: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise FaultSpecError(f"fault {kind!r}: {key}={text!r} is not a number") from None
    if not math.isfinite(value):
        raise FaultSpecError(f"fault {kind!r}: {key}={text!r} must be a finite number")
    return value


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """One fault with the probability a request gets it, and its parameters (see the module grammar)."""

    kind: FaultKind
    rate: float = 1.0
    retry_after: float | None = None
    ms: tuple[float, float] | None = None
    seconds: float | None = None
    after: int | None = None
    count: int | None = None
    path: str | None = None
    status: int | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise FaultSpecError(f"fault {self.kind.value!r}: rate {self.rate} is outside 0..1")
        if self.ms is not None and not 0 <= self.ms[0] <= self.ms[1]:
            raise FaultSpecError(f"fault {self.kind.value!r}: ms range {self.ms} must be 0 <= low <= high")
        if self.status is not None and not 400 <= self.status <= 599:
            raise FaultSpecError(f"fault {self.kind.value!r}: status must be an HTTP error status 400..599")
        for name in ("after", "count"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise FaultSpecError(f"fault {self.kind.value!r}: {name} must be >= 0")
        if self.kind is FaultKind.PAUSE and self.seconds is not None and self.seconds < 0:
            raise FaultSpecError("fault 'pause': seconds must be >= 0")
        if self.retry_after is not None and self.retry_after < 0 and self.retry_after != NO_RETRY_AFTER:
            raise FaultSpecError(f"fault {self.kind.value!r}: retry_after must be >= 0 (or none)")

    @classmethod
    def parse(cls, text: str) -> FaultSpec:
        """Parse ``KIND[:RATE][,key=value ...]``; raise `FaultSpecError` with what is accepted."""
        raw = text.strip()
        if not raw:
            raise FaultSpecError("empty fault spec; expected KIND[:RATE][,key=value ...], e.g. 529:0.2")
        head, *pairs = [p.strip() for p in raw.split(",")]
        name, _, rate_text = head.partition(":")
        name = _ALIASES.get(name.strip().lower(), name.strip().lower())
        try:
            kind = FaultKind(name)
        except ValueError:
            known = ", ".join([k.value for k in FaultKind] + sorted(_ALIASES))
            raise FaultSpecError(f"unknown fault {name!r} in {raw!r}; known faults: {known}") from None
        rate = _number(kind.value, "rate", rate_text) if rate_text.strip() else 1.0
        allowed = _COMMON_KEYS | _KEYS.get(kind, frozenset())
        values: dict[str, object] = {}
        for pair in pairs:
            key, eq, value = (s.strip() for s in pair.partition("="))
            if not eq or not value:
                raise FaultSpecError(f"fault {kind.value!r}: expected key=value, got {pair!r}")
            if key not in allowed:
                raise FaultSpecError(f"fault {kind.value!r} takes no {key!r}; it accepts: {', '.join(sorted(allowed))}")
            values[key] = cls._value(kind.value, key, value)
        return cls(kind, rate, **values)  # type: ignore[arg-type]

    @staticmethod
    def _value(kind: str, key: str, value: str) -> object:
        if key == "path":
            if not value.startswith("/"):
                raise FaultSpecError(f"fault {kind!r}: path must start with '/', got {value!r}")
            return value
        if key == "retry_after" and value.lower() == "none":
            return NO_RETRY_AFTER
        if key in ("after", "count", "status"):
            number = _number(kind, key, value)
            if number != int(number):
                raise FaultSpecError(f"fault {kind!r}: {key} must be a whole number, got {value!r}")
            return int(number)
        if key == "ms":
            low, dash, high = value.partition("-")
            lo = _number(kind, key, low)
            return (lo, _number(kind, key, high) if dash else lo)
        return _number(kind, key, value)

    def __str__(self) -> str:
        parts = [f"{self.kind.value}:{self.rate:g}"]
        if self.retry_after is not None:
            shown = "none" if self.retry_after == NO_RETRY_AFTER else f"{self.retry_after:g}"
            parts.append(f"retry_after={shown}")
        if self.ms is not None:
            lo, hi = self.ms
            parts.append(f"ms={lo:g}" if lo == hi else f"ms={lo:g}-{hi:g}")
        for name in ("seconds", "after", "status", "count", "path"):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name}={value:g}" if isinstance(value, float) else f"{name}={value}")
        return ",".join(parts)


def _specs(*texts: str) -> tuple[FaultSpec, ...]:
    return tuple(FaultSpec.parse(t) for t in texts)


PROFILES: dict[str, tuple[FaultSpec, ...]] = {
    "healthy": (),
    "flaky": _specs("529:0.1", "500:0.05", "429:0.05,retry_after=1", "reset:0.02", "latency:0.2,ms=20-200"),
    "overloaded": _specs("529:0.6", "latency:0.5,ms=50-500"),
    "rate-limited": _specs("429:0.5,retry_after=2"),
    "down": _specs("503:1.0"),
    "slow": _specs("latency:1.0,ms=500", "slow:1.0,ms=150"),
    "corporate-proxy": _specs("buffered:1.0", "latency:1.0,ms=100", "reset:0.02"),
    "captive-portal": _specs("portal:1.0"),
}
"""Named bundles of faults; ``--fault`` specs are added after the profile's own."""


def profile_faults(name: str) -> tuple[FaultSpec, ...]:
    """The faults of profile `name`; `FaultSpecError` naming the known profiles if there is none such."""
    try:
        return PROFILES[name]
    except KeyError:
        raise FaultSpecError(f"unknown profile {name!r}; known profiles: {', '.join(PROFILES)}") from None


@dataclass(frozen=True, slots=True)
class FaultDecision:
    """What to do to one request: the terminal fault answering it, added delay, stream shaping, Date skew."""

    terminal: FaultSpec | None = None
    delay: float = 0.0
    stream: FaultSpec | None = None
    skew: float = 0.0
    applied: tuple[FaultKind, ...] = ()


NO_FAULT = FaultDecision()


@dataclass
class FaultPlan:
    """Faults in force plus the seeded random source: the same seed and request order give the same faults."""

    faults: tuple[FaultSpec, ...]
    seed: int | None = None
    _rng: random.Random = field(init=False, repr=False)
    _injected: list[int] = field(init=False, repr=False)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._injected = [0] * len(self.faults)

    @classmethod
    def build(cls, profile: str, faults: Iterable[FaultSpec | str], seed: int | None) -> FaultPlan:
        """The profile's faults followed by `faults` (specs or spec strings)."""
        extra = tuple(f if isinstance(f, FaultSpec) else FaultSpec.parse(f) for f in faults)
        return cls(profile_faults(profile) + extra, seed)

    def decide(self, path: str, streaming: bool) -> FaultDecision:
        """Roll every fault once for a request to `path` (one random draw per applicable fault)."""
        if not self.faults:
            return NO_FAULT
        terminal: FaultSpec | None = None
        stream: FaultSpec | None = None
        delay = skew = 0.0
        applied: list[FaultKind] = []
        with self._lock:  # the plan may be shared by several server threads; never held across I/O
            for i, spec in enumerate(self.faults):
                if spec.path is not None and not path.startswith(spec.path):
                    continue
                if spec.kind in STREAM and not streaming:
                    continue
                if spec.count is not None and self._injected[i] >= spec.count:
                    continue
                if self._rng.random() >= spec.rate:
                    continue
                if spec.kind in TERMINAL:
                    if terminal is not None:
                        continue
                    terminal = spec
                elif spec.kind in STREAM:
                    if stream is not None:
                        continue
                    stream = spec
                elif spec.kind is FaultKind.LATENCY:
                    lo, hi = spec.ms or (100.0, 100.0)
                    delay += (lo if lo == hi else self._rng.uniform(lo, hi)) / 1000.0
                elif spec.kind is FaultKind.SKEW:
                    if skew:
                        continue
                    skew = spec.seconds if spec.seconds is not None else 300.0
                self._injected[i] += 1
                applied.append(spec.kind)
        if not applied:
            return NO_FAULT
        return FaultDecision(terminal, delay, stream, skew, tuple(applied))


def describe(faults: Sequence[FaultSpec]) -> str:
    """Faults as the spec strings that recreate them, or ``none``."""
    return " ".join(str(f) for f in faults) or "none"
