"""The model behind `claudewire top`: scrape a /metrics page, turn two scrapes into live figures.

    scrape = parse(fetch("http://127.0.0.1:8787/metrics"), at=time.monotonic())
    watch = Watch(window=10.0)
    view = watch.add(scrape)          # requests/s, error ratio, p50/p99, retries, breaker, headroom, tokens/min

Rates are the change of a counter between the newest scrape and the oldest one inside `window` seconds, divided by
the time between them (a counter that went down was reset: its new value is the change, as Prometheus's `rate`
does). Quantiles interpolate linearly inside histogram buckets exactly like PromQL's `histogram_quantile`.

It reads the families `claudewire.metrics.Metrics` exports, so it works on a gateway's /metrics and on a client's
registry exposed with prometheus-client alike. Rendering lives in `claudewire.cli.top`.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

import httpx2
from prometheus_client.parser import text_string_to_metric_families

from claudewire._errors import classify

__all__ = [
    "BREAKER_STATES",
    "CALLER_FAULTS",
    "Scrape",
    "ScrapeError",
    "UnreachableError",
    "View",
    "Watch",
    "cache_hit_ratio",
    "fetch",
    "histogram_quantile",
    "parse",
]

BREAKER_STATES = {0: "closed", 1: "half-open", 2: "open"}
"""The values of ``claudewire_breaker_state`` by name."""

CALLER_FAULTS = frozenset({"none", "invalid_request", "not_found", "request_too_large", "client_closed"})
"""Error kinds left out of the error ratio: the caller's own doing, not the health of the path to the API."""

K = TypeVar("K")
Buckets = tuple[tuple[float, float], ...]
"""A histogram as (upper bound ``le``, cumulative count) pairs sorted by bound, ``+Inf`` last."""


class ScrapeError(Exception):
    """The metrics page could not be fetched or is not a claudewire exposition; the message says why."""


class UnreachableError(ScrapeError):
    """Nothing answered at the metrics URL (refused, timed out, DNS, TLS ...)."""


@dataclass(frozen=True, slots=True)
class Scrape:
    """One reading of the claudewire families, summed over the labels `top` does not show.

    `at` is a monotonic time in seconds; counters are cumulative as exported.
    """

    at: float
    requests: Mapping[tuple[str, str], float] = field(default_factory=dict)  # (status_class, error_kind)
    duration: Buckets = ()
    ttfb: Buckets = ()
    attempts: Mapping[tuple[str, str], float] = field(default_factory=dict)  # (upstream, outcome)
    retries: Mapping[str, float] = field(default_factory=dict)  # reason
    give_ups: Mapping[str, float] = field(default_factory=dict)  # reason
    breaker: Mapping[str, float] = field(default_factory=dict)  # upstream -> 0/1/2
    ratelimit: Mapping[tuple[str, str], float] = field(default_factory=dict)  # (upstream, family) -> remaining
    ratelimit_wait: float = 0.0
    in_flight: float = 0.0
    tokens: Mapping[tuple[str, str], float] = field(default_factory=dict)  # (model, kind)


def fetch(url: str, *, timeout: float = 5.0, token: str | None = None) -> str:
    """The text of `url` (a /metrics page); `ScrapeError` naming the cause when it cannot be had.

    `token` is a gateway client token, sent as ``x-api-key``: a gateway in tokens mode serves /metrics only with one.
    """
    headers = {"x-api-key": token} if token else None
    try:
        response = httpx2.get(url, timeout=timeout, follow_redirects=True, headers=headers)
    except httpx2.InvalidURL as exc:
        raise ScrapeError(f"{url!r} is not a valid URL: {exc}") from exc
    except httpx2.UnsupportedProtocol as exc:
        raise ScrapeError(f"{url!r} is not an http:// or https:// URL") from exc
    except httpx2.HTTPError as exc:
        failure = classify(exc)
        cause = failure.cause if failure is not None else str(exc)
        raise UnreachableError(f"cannot reach {url}: {cause}") from exc
    if response.status_code == 401:
        why = "the token was refused" if token else "it needs a gateway token"
        raise ScrapeError(
            f"{url} answered HTTP 401: {why}. Pass one with --token (or CLAUDEWIRE_TOKEN), "
            "or scrape the gateway's --metrics-port instead"
        )
    if response.status_code != 200:
        raise ScrapeError(f"{url} answered HTTP {response.status_code}, not a metrics page")
    return response.text


def _add(table: dict[tuple[str, str], float], key: tuple[str, str], value: float) -> None:
    table[key] = table.get(key, 0.0) + value


def _add1(table: dict[str, float], key: str, value: float) -> None:
    table[key] = table.get(key, 0.0) + value


def _buckets(pairs: Mapping[float, float]) -> Buckets:
    return tuple(sorted(pairs.items()))


def parse(text: str, *, at: float) -> Scrape:
    """Read the claudewire families out of a Prometheus text exposition taken at monotonic time `at`."""
    requests: dict[tuple[str, str], float] = {}
    attempts: dict[tuple[str, str], float] = {}
    ratelimit: dict[tuple[str, str], float] = {}
    tokens: dict[tuple[str, str], float] = {}
    retries: dict[str, float] = {}
    give_ups: dict[str, float] = {}
    breaker: dict[str, float] = {}
    duration: dict[float, float] = {}
    ttfb: dict[float, float] = {}
    wait = in_flight = 0.0
    seen = False
    try:
        families = list(text_string_to_metric_families(text))
    except ValueError as exc:
        raise ScrapeError(f"not a Prometheus text exposition: {exc}") from exc
    for family in families:
        if family.name.startswith("claudewire_"):
            seen = True
        for sample in family.samples:
            name, labels, value = sample.name, sample.labels, float(sample.value)
            if name == "claudewire_requests_total":
                _add(requests, (labels.get("status_class", ""), labels.get("error_kind", "")), value)
            elif name == "claudewire_request_duration_seconds_bucket":
                le = float(labels["le"])
                duration[le] = duration.get(le, 0.0) + value
            elif name == "claudewire_time_to_first_byte_seconds_bucket":
                le = float(labels["le"])
                ttfb[le] = ttfb.get(le, 0.0) + value
            elif name == "claudewire_upstream_attempts_total":
                _add(attempts, (labels.get("upstream", ""), labels.get("outcome", "")), value)
            elif name == "claudewire_upstream_retries_total":
                _add1(retries, labels.get("reason", ""), value)
            elif name == "claudewire_upstream_give_ups_total":
                _add1(give_ups, labels.get("reason", ""), value)
            elif name == "claudewire_breaker_state":
                upstream = labels.get("upstream", "")
                breaker[upstream] = max(breaker.get(upstream, 0.0), value)
            elif name == "claudewire_ratelimit_remaining":
                key = (labels.get("upstream", ""), labels.get("family", ""))
                ratelimit[key] = min(ratelimit.get(key, math.inf), value)
            elif name == "claudewire_ratelimit_wait_seconds_total":
                wait += value
            elif name == "claudewire_in_flight_requests":
                in_flight += value
            elif name == "claudewire_tokens_total":
                _add(tokens, (labels.get("model", ""), labels.get("kind", "")), value)
    if not seen:
        raise ScrapeError("the page has no claudewire_* metrics (is this a claudewire gateway's /metrics?)")
    return Scrape(
        at=at,
        requests=requests,
        duration=_buckets(duration),
        ttfb=_buckets(ttfb),
        attempts=attempts,
        retries=retries,
        give_ups=give_ups,
        breaker=breaker,
        ratelimit=ratelimit,
        ratelimit_wait=wait,
        in_flight=in_flight,
        tokens=tokens,
    )


def histogram_quantile(q: float, buckets: Buckets) -> float | None:
    """The `q`-quantile of a cumulative histogram, computed as PromQL's ``histogram_quantile`` does.

    Linear interpolation inside the bucket holding the rank (from 0 for the first bucket); a rank in the ``+Inf``
    bucket gives the highest finite bound. ``None`` where PromQL gives NaN: an empty histogram, fewer than two
    buckets, no ``+Inf`` bucket, or `q` outside 0..1.
    """
    if len(buckets) < 2 or not math.isinf(buckets[-1][0]) or not 0.0 <= q <= 1.0:
        return None
    total = buckets[-1][1]
    if total <= 0:
        return None
    rank = q * total
    index = next((i for i, (_, count) in enumerate(buckets[:-1]) if count >= rank), len(buckets) - 1)
    if index == len(buckets) - 1:
        return buckets[-2][0]
    end, count = buckets[index]
    if index == 0 and end <= 0:
        return end
    start = 0.0
    if index > 0:
        start, below = buckets[index - 1]
        count -= below
        rank -= below
    if count <= 0:
        return None
    return start + (end - start) * (rank / count)


def _delta(new: float, old: float | None) -> float:
    """Increase of a counter; a counter that went down was reset and counts from zero."""
    if old is None:
        return new
    return new - old if new >= old else new


def _deltas(new: Mapping[K, float], old: Mapping[K, float]) -> dict[K, float]:
    return {key: _delta(value, old.get(key)) for key, value in new.items()}


def _bucket_deltas(new: Buckets, old: Buckets) -> Buckets:
    before = dict(old)
    if any(count < before.get(le, 0.0) for le, count in new):  # reset: the whole histogram starts over
        return new
    return tuple((le, count - before.get(le, 0.0)) for le, count in new)


@dataclass(frozen=True, slots=True)
class View:
    """The figures `claudewire top` shows.

    Rates are per second over the last `seconds` (``None`` until there are two scrapes); quantiles are over the
    same span (over everything since the start for the first scrape); totals and gauges are as last scraped.
    """

    seconds: float | None
    requests_per_s: float | None
    error_ratio: float | None  # failures other than `CALLER_FAULTS`, over requests answered
    errors_per_s: Mapping[str, float]  # error kind -> per second (every kind but "none")
    duration_p50: float | None
    duration_p99: float | None
    ttfb_p50: float | None
    ttfb_p99: float | None
    retries_per_s: float | None
    retries_per_request: float | None
    retries_by_reason: Mapping[str, float]
    attempts_per_s: Mapping[str, float]  # upstream -> attempts per second
    give_ups_per_s: float | None
    ratelimit_wait_per_s: float | None
    tokens_per_min: Mapping[str, Mapping[str, float]]  # model -> kind -> tokens per minute
    cache_hit_ratio: float | None  # cache_read / (input + cache_read + cache_creation) tokens, all models
    cache_hit_by_model: Mapping[str, float]  # model -> the same ratio (models with input tokens only)
    breaker: Mapping[str, str]  # upstream -> closed / half-open / open
    ratelimit: Mapping[tuple[str, str], float]  # (upstream, family) -> remaining
    in_flight: float
    requests_total: float
    errors_total: Mapping[str, float]  # error kind -> requests since the start
    retries_total: Mapping[str, float]  # reason -> retries since the start


def _by_kind(requests: Mapping[tuple[str, str], float], per: float = 1.0) -> dict[str, float]:
    out: dict[str, float] = {}
    for (_, kind), value in requests.items():
        if kind != "none" and value:
            out[kind] = out.get(kind, 0.0) + value / per
    return dict(sorted(out.items()))


_PROMPT_KINDS = ("input", "cache_read", "cache_creation")


def cache_hit_ratio(tokens: Mapping[tuple[str, str], float]) -> tuple[float | None, dict[str, float]]:
    """The share of prompt tokens read from the cache, overall and by model, from (model, kind) token counts.

    Anthropic's ``input_tokens`` leaves the cached prefix out, so the prompt is input + cache read + cache write.
    """
    read: dict[str, float] = {}
    prompt: dict[str, float] = {}
    for (model, kind), value in tokens.items():
        if kind in _PROMPT_KINDS:
            prompt[model] = prompt.get(model, 0.0) + value
            if kind == "cache_read":
                read[model] = read.get(model, 0.0) + value
    by_model = {m: read.get(m, 0.0) / total for m, total in sorted(prompt.items()) if total > 0}
    total = sum(prompt.values())
    return (sum(read.values()) / total if total > 0 else None), by_model


def _view(new: Scrape, old: Scrape | None) -> View:
    seconds = new.at - old.at if old is not None else 0.0
    if old is None or seconds <= 0:
        old, seconds = None, 0.0
    base = old if old is not None else Scrape(at=new.at)
    requests = _deltas(new.requests, base.requests)
    answered = sum(requests.values())
    failed = sum(v for (_, kind), v in requests.items() if kind not in CALLER_FAULTS)
    retries = _deltas(new.retries, base.retries)
    attempts: dict[str, float] = {}
    for (upstream, _), value in _deltas(new.attempts, base.attempts).items():
        attempts[upstream] = attempts.get(upstream, 0.0) + value / (seconds or 1.0)
    tokens: dict[str, dict[str, float]] = {}
    token_deltas = _deltas(new.tokens, base.tokens)
    for (model, kind), value in sorted(token_deltas.items()):
        tokens.setdefault(model, {})[kind] = value * 60.0 / (seconds or 1.0)
    hit_ratio, hit_by_model = cache_hit_ratio(token_deltas)  # over the window, or since the start at first
    duration = _bucket_deltas(new.duration, base.duration)
    ttfb = _bucket_deltas(new.ttfb, base.ttfb)
    rated = old is not None

    def rate(value: float) -> float | None:
        return value / seconds if rated else None

    return View(
        seconds=seconds if rated else None,
        requests_per_s=rate(answered),
        error_ratio=failed / answered if rated and answered else None,
        errors_per_s=_by_kind(requests, seconds) if rated else {},
        duration_p50=histogram_quantile(0.5, duration),
        duration_p99=histogram_quantile(0.99, duration),
        ttfb_p50=histogram_quantile(0.5, ttfb),
        ttfb_p99=histogram_quantile(0.99, ttfb),
        retries_per_s=rate(sum(retries.values())),
        retries_per_request=sum(retries.values()) / answered if rated and answered else None,
        retries_by_reason={k: v / seconds for k, v in sorted(retries.items()) if v} if rated else {},
        attempts_per_s=dict(sorted(attempts.items())) if rated else {},
        give_ups_per_s=rate(sum(_deltas(new.give_ups, base.give_ups).values())),
        ratelimit_wait_per_s=rate(_delta(new.ratelimit_wait, base.ratelimit_wait)),
        tokens_per_min=tokens if rated else {},
        cache_hit_ratio=hit_ratio,
        cache_hit_by_model=hit_by_model,
        breaker={up: BREAKER_STATES.get(round(v), "unknown") for up, v in sorted(new.breaker.items())},
        ratelimit=dict(sorted(new.ratelimit.items())),
        in_flight=new.in_flight,
        requests_total=sum(new.requests.values()),
        errors_total=_by_kind(new.requests),
        retries_total=dict(sorted(new.retries.items())),
    )


class Watch:
    """Keeps the scrapes of the last `window` seconds and turns the newest into a `View` against the oldest."""

    def __init__(self, window: float = 10.0) -> None:
        if window <= 0:
            raise ValueError("window must be > 0 seconds")
        self.window = window
        self._scrapes: deque[Scrape] = deque()

    def add(self, scrape: Scrape) -> View:
        """Record `scrape` (taken after every earlier one) and return the figures it gives."""
        self._scrapes.append(scrape)
        while len(self._scrapes) > 2 and scrape.at - self._scrapes[1].at >= self.window:
            self._scrapes.popleft()
        oldest = self._scrapes[0] if len(self._scrapes) > 1 else None
        return _view(scrape, oldest)

    def extend(self, scrapes: Iterable[Scrape]) -> View | None:
        """`add` each of `scrapes`; the last view (``None`` for none)."""
        view = None
        for scrape in scrapes:
            view = self.add(scrape)
        return view
