"""The console's memory: a bounded ring of finished call records and per-minute aggregates for its charts.

The console reads a finished call through `CallView`, a Protocol of plain read-only fields, so any record that has
them will do (the one call record of ``claudewire.calls``, or today's adapter in ``gateway.console_feed``):

- ``route`` (``messages``, ``count_tokens``, ...), ``dialect`` (what the caller spoke: ``anthropic``, ``openai``)
- ``model`` (``str | None``), ``stream`` (bool)
- ``started`` (wall-clock epoch seconds), ``duration`` (seconds, the whole call)
- ``attempts``: a sequence of `AttemptView`, each with ``target`` (``name#index``), ``outcome`` (``ok``, or the
  failure kind, with the status when one came back: ``529 overloaded``) and ``wait`` (seconds waited before it)
- ``served`` (the upstream whose answer the caller got, ``""`` for none), ``upstreams`` (every upstream tried, in order)
- ``status`` (what the caller got; 499: it went away), ``error`` (the failure kind, ``""`` for none)
- ``ttfb`` (seconds to the first byte the caller got, or None)
- ``usage`` (`UsageView` or None: ``input_tokens``, ``output_tokens``, ``cache_read``, ``cache_creation``)
- ``request_id``, ``client`` (a named client's configured name, ``""``), ``group`` (a signed-in group, ``""``)

None of these is a key, a token or any prompt or completion content; a record that held one would not get here.

`CallRing.add` is what the gateway pays per call with no page open: a deque append and a few counter increments
(docs/benchmarks.md, "Console"). Everything else (JSON, the charts' series) happens only when a page asks.
"""

from __future__ import annotations

import collections
import math
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["BOUNDS", "AttemptView", "CallRing", "CallView", "MinuteStats", "UsageView", "percentile"]

MINUTE = 60.0
DAY = 86400.0
BOUNDS: tuple[float, ...] = tuple(0.001 * 1.25**i for i in range(60))
"""Upper bounds (seconds) of the latency histogram buckets: 1 ms to ~9 minutes, each 25% wider than the last."""
_MAX_MODELS = 32  # distinct models a minute keeps apart; the rest count as "other"
_MAX_KINDS = 32
_CLASS = ("other", "1xx", "2xx", "3xx", "4xx", "5xx")


class UsageView(Protocol):
    """Token counts of one answer."""

    @property
    def input_tokens(self) -> int: ...
    @property
    def output_tokens(self) -> int: ...
    @property
    def cache_read(self) -> int: ...
    @property
    def cache_creation(self) -> int: ...


class AttemptView(Protocol):
    """One attempt of a call: where it went, how it ended, how long the call waited before it."""

    @property
    def target(self) -> str: ...
    @property
    def outcome(self) -> str: ...
    @property
    def wait(self) -> float: ...


class CallView(Protocol):
    """One finished call, as the console reads it (the fields are described in the module docstring)."""

    @property
    def route(self) -> str: ...
    @property
    def dialect(self) -> str: ...
    @property
    def model(self) -> str | None: ...
    @property
    def stream(self) -> bool: ...
    @property
    def started(self) -> float: ...
    @property
    def duration(self) -> float: ...
    @property
    def attempts(self) -> Sequence[AttemptView]: ...
    @property
    def served(self) -> str: ...
    @property
    def upstreams(self) -> Sequence[str]: ...
    @property
    def status(self) -> int: ...
    @property
    def error(self) -> str: ...
    @property
    def ttfb(self) -> float | None: ...
    @property
    def usage(self) -> UsageView | None: ...
    @property
    def request_id(self) -> str: ...
    @property
    def client(self) -> str: ...
    @property
    def group(self) -> str: ...


@dataclass(slots=True)
class MinuteStats:
    """What the calls that ended in one wall-clock minute add up to (the charts' points)."""

    minute: int
    requests: int = 0
    status: dict[str, int] = field(default_factory=dict)  # "2xx" ... "5xx"
    errors: dict[str, int] = field(default_factory=dict)  # failure kind -> calls
    retries: int = 0  # attempts after a call's first
    failovers: int = 0  # calls that tried more than one upstream
    ttfb: list[int] = field(default_factory=lambda: [0] * (len(BOUNDS) + 1))
    duration: list[int] = field(default_factory=lambda: [0] * (len(BOUNDS) + 1))
    tokens_in: int = 0  # prompt tokens: uncached input, cache reads and cache writes
    tokens_out: int = 0
    cache: dict[str, list[int]] = field(default_factory=dict)  # model -> [input, cache_read, cache_creation]
    clients: dict[str, list[int]] = field(default_factory=dict)  # client -> [requests, counted tokens]


def percentile(counts: Sequence[int], q: float) -> float | None:
    """The `q` quantile (0..1) of a `BOUNDS` histogram, as its bucket's upper bound (None: no observation)."""
    total = sum(counts)
    if not total:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for index, count in enumerate(counts):
        seen += count
        if seen >= rank:
            return BOUNDS[index] if index < len(BOUNDS) else math.inf
    return None  # pragma: no cover - the loop always reaches the rank


class CallRing:
    """The last `size` finished calls (each with a sequence number) and the last `minutes` minutes' aggregates.

    One event loop adds and reads (the gateway's), so nothing here locks.
    """

    def __init__(self, size: int = 500, *, minutes: int = 60) -> None:
        if size < 1 or minutes < 1:
            raise ValueError("the console's ring needs size >= 1 and minutes >= 1")
        self.size = size
        self.calls: collections.deque[tuple[int, CallView]] = collections.deque(maxlen=size)
        self.seq = 0  # the number of the newest call (calls are numbered from 1)
        self.stats: collections.deque[MinuteStats] = collections.deque(maxlen=minutes)
        self._last: MinuteStats | None = None  # the newest minute (self.stats[-1])
        self.day = -1
        self.day_tokens: dict[str, int] = {}  # client -> counted tokens in this UTC day

    def add(self, call: CallView) -> None:
        """Keep one finished call and count it in its minute (the minute it ended in)."""
        # on every call's path: plain local lookups, no allocation but the ring's tuple
        self.seq = seq = self.seq + 1
        self.calls.append((seq, call))
        duration = call.duration
        end = call.started + duration
        minute = int(end // MINUTE)
        stats = self._last
        if stats is None or minute > stats.minute:
            stats = self._last = MinuteStats(minute)
            self.stats.append(stats)
        stats.requests += 1
        status = call.status
        klass = _CLASS[status // 100] if 100 <= status < 600 else "other"
        counts = stats.status
        counts[klass] = counts.get(klass, 0) + 1
        error = call.error
        if error:
            counts = stats.errors
            if error not in counts and len(counts) >= _MAX_KINDS:
                error = "other"
            counts[error] = counts.get(error, 0) + 1
        attempts = len(call.attempts)
        if attempts > 1:
            stats.retries += attempts - 1
            if len(set(call.upstreams)) > 1:
                stats.failovers += 1
        stats.duration[bisect_left(BOUNDS, duration)] += 1
        ttfb = call.ttfb
        if ttfb is not None:
            stats.ttfb[bisect_left(BOUNDS, ttfb)] += 1
        usage = call.usage
        counted = 0
        if usage is not None:
            fresh, read, wrote, out = usage.input_tokens, usage.cache_read, usage.cache_creation, usage.output_tokens
            stats.tokens_in += fresh + read + wrote
            stats.tokens_out += out
            counted = fresh + wrote + out  # as the client limits count them: cache reads are free
            if fresh or read or wrote:
                model = call.model or "unknown"
                cache = stats.cache.get(model)
                if cache is None:
                    if len(stats.cache) >= _MAX_MODELS:
                        model = "other"
                    cache = stats.cache.setdefault(model, [0, 0, 0])
                cache[0] += fresh
                cache[1] += read
                cache[2] += wrote
        client = call.client
        if client:
            mine = stats.clients.get(client)
            if mine is None:
                mine = stats.clients[client] = [0, 0]
            mine[0] += 1
            mine[1] += counted
            day = int(end // DAY)
            if day != self.day:
                self.day, self.day_tokens = day, {}
            self.day_tokens[client] = self.day_tokens.get(client, 0) + counted

    def since(self, seq: int) -> list[tuple[int, CallView]]:
        """The calls numbered after `seq`, oldest first (at most the ring's size)."""
        if seq >= self.seq:
            return []
        newer = self.seq - seq
        if newer >= len(self.calls):
            return list(self.calls)
        return list(self.calls)[-newer:]

    def window(self, now: float, minutes: int) -> list[MinuteStats]:
        """The last `minutes` minutes up to `now`'s, oldest first, an empty `MinuteStats` where no call ended."""
        last = int(now // MINUTE)
        kept = {s.minute: s for s in self.stats if last - minutes < s.minute <= last}
        return [kept.get(m) or MinuteStats(m) for m in range(last - minutes + 1, last + 1)]

    def client_now(self, client: str, now: float) -> tuple[int, int, int]:
        """(requests, counted tokens) of `client` in `now`'s wall-clock minute, and its counted tokens today (UTC).

        The windows are the client limits' own (wall-clock minutes, UTC days), seen by this process only.
        """
        minute = int(now // MINUTE)
        stats = self.stats[-1] if self.stats else None
        requests = tokens = 0
        if stats is not None and stats.minute == minute:
            requests, tokens = stats.clients.get(client, (0, 0))
        today = self.day_tokens.get(client, 0) if self.day == int(now // DAY) else 0
        return requests, tokens, today
