"""The Prometheus adapter: the policy's events and the caller's reports land in bounded metric families."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from claudewire._errors import Failure, FailureKind
from claudewire.metrics import ROUTES, Metrics, route_of
from claudewire.policy import GateAction, Policy, PolicyEngine

UP = "https://api.anthropic.com:443"


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_policy_events_drive_attempts_retries_breaker_and_ratelimit() -> None:
    """A real PolicyEngine driven through failures fills attempts, retries, give-ups, breaker and rate-limit."""
    metrics = Metrics()
    clock = FakeClock()
    engine = PolicyEngine(Policy(max_retries=1, breaker_failures=2, retry_budget=None), clock=clock, hooks=metrics)
    overloaded = Failure.of(FailureKind.OVERLOADED, status=529)
    for _ in range(2):  # two calls, each: one failed attempt, one retry, one more failure, give up
        call = engine.start(UP)
        for _ in range(2):
            if call.gate().action is not GateAction.SEND:
                break
            call.record(overloaded, {"anthropic-ratelimit-requests-remaining": "41"})
    get = metrics.registry.get_sample_value
    assert get("claudewire_upstream_attempts_total", {"upstream": UP, "outcome": "overloaded"}) >= 2
    assert get("claudewire_upstream_retries_total", {"upstream": UP, "reason": "overloaded"}) >= 1
    assert get("claudewire_upstream_give_ups_total", {"upstream": UP, "reason": "overloaded"}) >= 1
    assert get("claudewire_breaker_state", {"upstream": UP}) == 2.0  # open
    assert get("claudewire_ratelimit_remaining", {"upstream": UP, "family": "requests"}) == 41.0


def test_ratelimit_remaining_shows_the_last_reported_value_per_upstream_and_family() -> None:
    """Each report replaces the last one of its (upstream, family); other families and upstreams keep theirs."""
    metrics = Metrics()
    metrics.on_ratelimit(UP, "requests", 41.0)
    metrics.on_ratelimit(UP, "tokens", 9000.0)
    metrics.on_ratelimit(UP, "requests", 40.0)
    metrics.on_ratelimit("other#0", "requests", 7.0)
    get = metrics.registry.get_sample_value
    assert get("claudewire_ratelimit_remaining", {"upstream": UP, "family": "requests"}) == 40.0
    assert get("claudewire_ratelimit_remaining", {"upstream": UP, "family": "tokens"}) == 9000.0
    assert get("claudewire_ratelimit_remaining", {"upstream": "other#0", "family": "requests"}) == 7.0
    metrics.on_ratelimit(UP, "requests", 0.0)
    assert get("claudewire_ratelimit_remaining", {"upstream": UP, "family": "requests"}) == 0.0


def test_requests_of_one_outcome_and_of_several_statuses_count_apart() -> None:
    """Two 200s, a 201 and a 503 of one route: 2xx counts three, 5xx one, with every duration observed."""
    metrics = Metrics()
    for status, error in ((200, ""), (200, ""), (201, ""), (503, "server")):
        metrics.observe_request("models", status, error, 0.01, 0.005)
    get = metrics.registry.get_sample_value
    assert (
        get(
            "claudewire_requests_total",
            {"route": "models", "dialect": "anthropic", "status_class": "2xx", "error_kind": "none"},
        )
        == 3
    )
    assert (
        get(
            "claudewire_requests_total",
            {"route": "models", "dialect": "anthropic", "status_class": "5xx", "error_kind": "server"},
        )
        == 1
    )
    assert get("claudewire_request_duration_seconds_count", {"route": "models", "dialect": "anthropic"}) == 4
    assert get("claudewire_time_to_first_byte_seconds_count", {"route": "models", "dialect": "anthropic"}) == 4


def test_requests_latency_and_tokens_are_recorded_with_bounded_labels() -> None:
    """observe_request counts by route/status class/error kind with histograms; tokens by model, capped in count."""
    metrics = Metrics(max_models=2)
    metrics.observe_request("messages", 200, "", 0.120, 0.010)
    metrics.observe_request("messages", 529, "overloaded", 0.5)
    for model in ("claude-a", "claude-b", "claude-c", "claude-d"):
        metrics.add_tokens(model, 10, 5, cache_read=2)
    get = metrics.registry.get_sample_value
    assert (
        get(
            "claudewire_requests_total",
            {"route": "messages", "dialect": "anthropic", "status_class": "2xx", "error_kind": "none"},
        )
        == 1
    )
    assert (
        get(
            "claudewire_requests_total",
            {"route": "messages", "dialect": "anthropic", "status_class": "5xx", "error_kind": "overloaded"},
        )
        == 1
    )
    assert get("claudewire_request_duration_seconds_count", {"route": "messages", "dialect": "anthropic"}) == 2
    assert get("claudewire_time_to_first_byte_seconds_count", {"route": "messages", "dialect": "anthropic"}) == 1
    assert get("claudewire_tokens_total", {"model": "claude-a", "kind": "input"}) == 10
    assert get("claudewire_tokens_total", {"model": "other", "kind": "output"}) == 10  # c and d folded
    assert get("claudewire_tokens_total", {"model": "claude-b", "kind": "cache_read"}) == 2
    families = {f.name for f in text_string_to_metric_families(metrics.render().decode())}
    assert {"claudewire_requests", "claudewire_tokens", "claudewire_in_flight_requests"} <= families


def test_route_labels_come_from_a_fixed_list() -> None:
    """Paths map to a handful of routes; ids and unknown paths never become label values."""
    cases = {
        "/v1/messages": "messages",
        "/v1/messages?beta=true": "messages",
        "/v1/messages/count_tokens": "count_tokens",
        "/v1/messages/batches/msgbatch_123/results": "batches",
        "/v1/models/claude-x": "models",
        "/v1/files/file_abc": "files",
        "/v1/sk-ant-secret/whatever": "other",
        "/v1/chat/completions": "messages",
        "/v1/responses": "messages",
        "/cursor/chat/completions": "messages",
        "/openai/deployments/cw-sonnet/chat/completions": "messages",
        "/cursor/models": "models",
    }
    for path, route in cases.items():
        assert route_of(path) == route
        assert route in ROUTES


def test_dialect_label_is_bounded() -> None:
    """A translated call is counted under its dialect; a dialect outside the fixed list is folded into other."""
    metrics = Metrics()
    metrics.observe_request("messages", 200, "", 0.1, 0.01, dialect="chat")
    metrics.observe_request("messages", 200, "", 0.1, 0.01, dialect="x-made-up")
    get = metrics.registry.get_sample_value
    labels = {"route": "messages", "status_class": "2xx", "error_kind": "none"}
    assert get("claudewire_requests_total", {**labels, "dialect": "chat"}) == 1
    assert get("claudewire_requests_total", {**labels, "dialect": "other"}) == 1
    assert get("claudewire_time_to_first_byte_seconds_count", {"route": "messages", "dialect": "chat"}) == 1


def test_prompt_cache_outcome_is_counted_per_response_by_model() -> None:
    """A response that read the cache is a hit, one that only wrote it a miss, one with neither none; by upstream."""
    metrics = Metrics()
    metrics.add_tokens("claude-x", 5, 10, cache_read=0, cache_creation=5000)
    metrics.add_tokens("claude-x", 5, 10, cache_read=5000, cache_creation=0)
    metrics.add_tokens("claude-x", 5, 10, cache_read=5000, cache_creation=30)
    metrics.add_tokens("claude-x", 50, 10)
    metrics.add_tokens("claude-x", 5, 10, cache_creation=5000, upstream="backup")
    get = metrics.registry.get_sample_value
    family = "claudewire_prompt_cache_requests_total"
    assert get(family, {"model": "claude-x", "outcome": "miss", "upstream": ""}) == 1
    assert get(family, {"model": "claude-x", "outcome": "hit", "upstream": ""}) == 2
    assert get(family, {"model": "claude-x", "outcome": "none", "upstream": ""}) == 1
    assert get(family, {"model": "claude-x", "outcome": "miss", "upstream": "backup"}) == 1
    assert get("claudewire_tokens_total", {"model": "claude-x", "kind": "cache_creation"}) == 10030
