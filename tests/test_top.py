"""claudewire.top: parsing a /metrics scrape, rates between scrapes, PromQL-exact quantiles, fetch errors."""

from __future__ import annotations

import math

import pytest

from claudewire._errors import Failure, FailureKind
from claudewire.metrics import Metrics
from claudewire.policy import BreakerState
from claudewire.sim import SimServer
from claudewire.top import Scrape, ScrapeError, UnreachableError, Watch, fetch, histogram_quantile, parse
from tests.deploy.conftest import free_port

UP = "https://api.anthropic.com:443"
INF = math.inf


def _overloaded() -> Failure:
    return Failure.of(FailureKind.OVERLOADED)


def _first() -> Metrics:
    """A gateway's metrics after 10 good requests, 2 overloaded and 1 invalid request; breaker closed."""
    m = Metrics()
    m.register_upstream(UP)
    for _ in range(10):
        m.observe_request("messages", 200, "", duration=0.2, ttfb=0.05)
        m.on_attempt_end(UP, 1, None, 0.2)
    for _ in range(2):
        m.observe_request("messages", 529, "overloaded", duration=2.0, ttfb=2.0)
    m.observe_request("messages", 400, "invalid_request", duration=0.01, ttfb=0.01)
    m.add_tokens("claude-haiku-4-5", 100, 20)
    m.on_ratelimit(UP, "requests", 3990)
    return m


def test_parse_sums_the_families_top_shows() -> None:
    """A scrape of the real Metrics adapter parses into totals by (status class, kind), buckets, gauges."""
    scrape = parse(_first().render().decode(), at=5.0)
    assert scrape.at == 5.0
    assert scrape.requests[("2xx", "none")] == 10
    assert scrape.requests[("5xx", "overloaded")] == 2
    assert scrape.requests[("4xx", "invalid_request")] == 1
    assert scrape.duration[-1] == (INF, 13.0)
    assert dict(scrape.duration)[0.25] == 11.0  # ten at 0.2 s, one at 0.01 s
    assert scrape.breaker == {UP: 0.0}
    assert scrape.ratelimit == {(UP, "requests"): 3990.0}
    assert scrape.tokens == {("claude-haiku-4-5", "input"): 100.0, ("claude-haiku-4-5", "output"): 20.0}
    assert scrape.attempts == {(UP, "ok"): 10.0}


def test_first_view_has_totals_but_no_rates() -> None:
    """With one scrape there is nothing to take a rate over: rates are None, totals and quantiles since start."""
    view = Watch().add(parse(_first().render().decode(), at=0.0))
    assert view.seconds is None and view.requests_per_s is None and view.error_ratio is None
    assert view.requests_total == 13
    assert view.errors_total == {"invalid_request": 1.0, "overloaded": 2.0}
    assert view.breaker == {UP: "closed"}
    assert view.duration_p50 is not None and 0.1 < view.duration_p50 <= 0.25


def test_rates_between_two_scrapes() -> None:
    """Requests/s, error ratio (caller faults excluded), errors by kind, retries, tokens/min over the 2 s between."""
    m = _first()
    watch = Watch(window=10.0)
    watch.add(parse(m.render().decode(), at=100.0))
    for _ in range(16):
        m.observe_request("messages", 200, "", duration=0.03, ttfb=0.01)
    for _ in range(3):
        m.on_retry(UP, 1, 0.1, _overloaded())
        m.on_attempt_end(UP, 1, _overloaded(), 0.1)
    for _ in range(2):
        m.observe_request("messages", 529, "overloaded", duration=3.0, ttfb=3.0)
    m.observe_request("messages", 400, "invalid_request", duration=0.01)
    m.observe_request("messages", 401, "auth", duration=0.01)
    m.add_tokens("claude-haiku-4-5", 300, 60)
    m.on_breaker_change(UP, BreakerState.CLOSED, BreakerState.OPEN)
    view = watch.add(parse(m.render().decode(), at=102.0))

    assert view.seconds == 2.0
    assert view.requests_per_s == 20 / 2
    assert view.error_ratio == pytest.approx(3 / 20)  # overloaded x2 + auth; the invalid request is the caller's
    assert view.errors_per_s == {"auth": 0.5, "invalid_request": 0.5, "overloaded": 1.0}
    assert view.retries_per_s == 1.5
    assert view.retries_per_request == pytest.approx(3 / 20)
    assert view.retries_by_reason == {"overloaded": 1.5}
    assert view.attempts_per_s == {UP: 1.5}
    assert view.tokens_per_min == {"claude-haiku-4-5": {"input": 300 * 30.0, "output": 60 * 30.0}}
    assert view.breaker == {UP: "open"}
    # quantiles over the interval only: 17 fast requests, 2 at 3 s, so p99 lands in the (2.5, 5] bucket
    assert view.duration_p50 is not None and view.duration_p50 <= 0.05
    assert view.duration_p99 is not None and 2.5 < view.duration_p99 <= 5.0


def test_an_idle_interval_has_zero_rates_and_no_quantiles() -> None:
    """No requests between scrapes: 0 requests/s, no error ratio, no quantile (not the since-start one)."""
    text = _first().render().decode()
    watch = Watch()
    watch.add(parse(text, at=0.0))
    view = watch.add(parse(text, at=1.0))
    assert view.requests_per_s == 0.0
    assert view.error_ratio is None and view.retries_per_request is None
    assert view.duration_p99 is None and view.ttfb_p50 is None


def test_a_counter_reset_counts_from_zero() -> None:
    """A restarted gateway (counters lower than before) is not a negative rate: the new value is the increase."""
    watch = Watch()
    watch.add(Scrape(at=0.0, requests={("2xx", "none"): 1000.0}, duration=((1.0, 1000.0), (INF, 1000.0))))
    view = watch.add(Scrape(at=2.0, requests={("2xx", "none"): 4.0}, duration=((1.0, 4.0), (INF, 4.0))))
    assert view.requests_per_s == 2.0
    assert view.duration_p50 == 0.5


def test_rates_are_taken_over_the_window() -> None:
    """Scrapes older than `window` are dropped: the rate reflects the last window, not the whole run."""
    watch = Watch(window=3.0)
    for second in range(10):  # 100/s for the first 5 s, then 10/s
        total = 100.0 * min(second, 5) + 10.0 * max(second - 5, 0)
        view = watch.add(Scrape(at=float(second), requests={("2xx", "none"): total}))
    assert view.seconds == 3.0
    assert view.requests_per_s == 10.0
    with pytest.raises(ValueError):
        Watch(window=0)


@pytest.mark.parametrize(
    ("q", "buckets", "expected"),
    [
        # values Prometheus itself printed for these buckets in deploy/prometheus/alerts_test.yml (29.8s, 4m 57s)
        (0.99, ((1.0, 0.0), (10.0, 0.0), (30.0, 10.0), (INF, 10.0)), 29.8),
        (0.99, ((60.0, 0.0), (300.0, 4.0), (INF, 4.0)), 297.6),
        (0.5, ((0.1, 10.0), (0.5, 20.0), (1.0, 40.0), (INF, 40.0)), 0.5),
        (0.99, ((0.1, 10.0), (0.5, 20.0), (1.0, 40.0), (INF, 40.0)), 0.99),
        (0.25, ((0.1, 10.0), (0.5, 20.0), (1.0, 40.0), (INF, 40.0)), 0.1),
        (0.99, ((0.1, 1.0), (INF, 10.0)), 0.1),  # the rank is in +Inf: the highest finite bound
        (0.5, ((-1.0, 4.0), (INF, 4.0)), -1.0),  # a first bound <= 0 is returned as is
        (0.5, ((1.0, 0.0), (INF, 0.0)), None),  # empty
        (0.5, ((1.0, 3.0), (2.0, 4.0)), None),  # no +Inf bucket
        (0.5, ((INF, 3.0),), None),  # a single bucket
        (1.5, ((1.0, 3.0), (INF, 3.0)), None),  # q outside 0..1
    ],
)
def test_histogram_quantile_matches_promql(q: float, buckets: tuple[tuple[float, float], ...], expected: float) -> None:
    """histogram_quantile interpolates like PromQL's (cross-checked with values Prometheus printed)."""
    got = histogram_quantile(q, buckets)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected)


def test_a_page_without_claudewire_metrics_is_refused() -> None:
    """Another exporter's page, or text that is not an exposition, is a ScrapeError naming the problem."""
    with pytest.raises(ScrapeError, match="no claudewire_"):
        parse("# TYPE up gauge\nup 1\n", at=0.0)
    with pytest.raises(ScrapeError, match="not a Prometheus text exposition"):
        parse("<html>{{{ nope</html>\n", at=0.0)


def test_fetch_names_why_it_cannot_scrape(sim: SimServer) -> None:
    """A refused port is an UnreachableError with the taxonomy's cause; an error status is a ScrapeError naming it."""
    url = f"http://127.0.0.1:{free_port()}/metrics"
    with pytest.raises(UnreachableError, match="refused"):
        fetch(url, timeout=2)
    with pytest.raises(ScrapeError, match=r"HTTP 4\d\d"):
        fetch(sim.base_url + "/metrics", timeout=2)
    with pytest.raises(ScrapeError, match="not an http"):
        fetch("ftp://example.invalid/metrics")
