"""Prometheus metrics for claudewire: one set of families shared by the gateway and the resilient client.

`Metrics` is a policy `Hooks` listener (attempts, retries, give-ups, breaker state, rate-limit headroom) plus a few
calls for what only the caller knows (a finished request, its tokens, in-flight count). Every family lives in its
own `CollectorRegistry` unless one is given, so several instances (tests, several gateways) never collide.

Label values are bounded by construction: routes and dialects come from fixed lists, status as a class (``2xx``),
error kinds from `FailureKind`, upstreams from configuration (the gateway's ``name`` and ``name#index`` per key, the
client's ``scheme://host:port``), models capped at `max_models` distinct values (then ``other``). Never a key, a
request id or a raw path. Children are cached per label set so a request costs a few dictionary lookups and
lock-free-ish increments.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from claudewire._errors import Failure
from claudewire._routes import DIALECTS, route_of
from claudewire.policy import BreakerState, Hooks

if TYPE_CHECKING:
    from claudewire._sse import Usage

__all__ = ["CONTENT_TYPE", "DIALECTS", "ROUTES", "Metrics", "route_of"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The content type of `Metrics.render()`."""

ROUTES: tuple[str, ...] = ("messages", "count_tokens", "batches", "models", "files", "other")
"""Every value the ``route`` label takes."""

_BREAKER_VALUE = {BreakerState.CLOSED: 0.0, BreakerState.HALF_OPEN: 1.0, BreakerState.OPEN: 2.0}
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
_STATUS_CLASS = {1: "1xx", 2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}


class Metrics(Hooks):
    """The claudewire metric families, fed by the policy's hooks and by `observe_request` / `add_tokens`."""

    def __init__(self, registry: CollectorRegistry | None = None, *, max_models: int = 64) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "claudewire_requests",
            "Requests answered, by route, dialect (anthropic, or chat / responses / cursor through the OpenAI "
            "ingress), status class and error kind (none on success).",
            ("route", "dialect", "status_class", "error_kind"),
            registry=r,
        )
        self.duration = Histogram(
            "claudewire_request_duration_seconds",
            "Time from request to the end of the response, retries included.",
            ("route", "dialect"),
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.ttfb = Histogram(
            "claudewire_time_to_first_byte_seconds",
            "Time from request to the first response byte sent to the caller (for streams: the first event).",
            ("route", "dialect"),
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.attempts = Counter(
            "claudewire_upstream_attempts",
            "Attempts sent upstream, by outcome (ok or the failure kind).",
            ("upstream", "outcome"),
            registry=r,
        )
        self.retries = Counter(
            "claudewire_upstream_retries",
            "Retries scheduled, by the failure kind that caused them.",
            ("upstream", "reason"),
            registry=r,
        )
        self.give_ups = Counter(
            "claudewire_upstream_give_ups",
            "Calls that ended failed, by the last failure kind.",
            ("upstream", "reason"),
            registry=r,
        )
        self.breaker = Gauge(
            "claudewire_breaker_state",
            "Circuit breaker state per upstream: 0 closed, 1 half-open, 2 open.",
            ("upstream",),
            registry=r,
        )
        self.ratelimit_remaining = Gauge(
            "claudewire_ratelimit_remaining",
            "Last anthropic-ratelimit-*-remaining value reported by the upstream, by bucket family.",
            ("upstream", "family"),
            registry=r,
        )
        self.ratelimit_wait = Counter(
            "claudewire_ratelimit_wait_seconds",
            "Seconds requests were held because the upstream said a rate-limit bucket was empty.",
            ("upstream",),
            registry=r,
        )
        self.cache_requests = Counter(
            "claudewire_prompt_cache_requests",
            "Responses by prompt-cache outcome and model: hit (read from the cache), miss (wrote the cache but read "
            "nothing: the prefix changed or expired), none (no cache_control, or a prefix under the minimum); "
            "upstream: the configured upstream that answered (empty when unknown).",
            ("model", "outcome", "upstream"),
            registry=r,
        )
        self.in_flight = Gauge("claudewire_in_flight_requests", "Requests being answered now.", registry=r)
        self.tokens = Counter(
            "claudewire_tokens",
            "Tokens reported in usage, by model and kind (input, output, cache_read, cache_creation).",
            ("model", "kind"),
            registry=r,
        )
        self.client_requests = Counter(
            "claudewire_client_requests",
            "Requests of named gateway clients ([[clients]]), by outcome: admitted, rate_limited, forbidden.",
            ("client", "outcome"),
            registry=r,
        )
        self.client_tokens = Counter(
            "claudewire_client_tokens",
            "Tokens counted against named clients' limits (input + cache writes + output), by client.",
            ("client",),
            registry=r,
        )
        self.state_up = Gauge(
            "claudewire_state_backend_up",
            "1 while the shared state backend (Redis) answers, 0 while the gateway serves from local state.",
            registry=r,
        )
        self.state_local = Counter(
            "claudewire_state_local_answers",
            "Client admissions answered from this process's own state because the shared store was slow or away.",
            registry=r,
        )
        self.retry_budget_left = Gauge(
            "claudewire_retry_budget_left",
            "Retries the retry budget allows now (the whole deployment's with shared state; 0: retries refused).",
            registry=r,
        )
        self.upstream_requests = Counter(
            "claudewire_upstream_requests",
            "Requests answered, by the configured upstream whose answer went back and its status class.",
            ("upstream", "status_class"),
            registry=r,
        )
        self.failovers = Counter(
            "claudewire_upstream_failovers",
            "Attempts moved to another upstream (or to another key of the same one) after a failure, by its kind.",
            ("from", "to", "reason"),
            registry=r,
        )
        self.key_state = Gauge(
            "claudewire_upstream_key_state",
            "State of each upstream key (name#index): 0 closed, 1 half-open, 2 open, 3 out after a 401/403.",
            ("upstream", "key"),
            registry=r,
        )
        self.keys_out = Counter(
            "claudewire_upstream_keys_out",
            "Times a gateway-held key was taken out of rotation because the upstream refused it.",
            ("key",),
            registry=r,
        )
        self.affinity = Counter(
            "claudewire_affinity",
            "Session-affinity outcomes of served calls: hit, new, or break (reason: failed, unhealthy, key_out ...).",
            ("outcome", "reason"),
            registry=r,
        )
        self.refused = Counter(
            "claudewire_gateway_refused",
            "Requests or connections the gateway's HTTP layer refused itself, by reason (head_too_large, "
            "request_timeout, connections, body_budget, method, path, malformed, write_timeout ...).",
            ("reason",),
            registry=r,
        )
        self.client_connections = Gauge(
            "claudewire_gateway_client_connections", "Client connections open now.", registry=r
        )
        self.resends = Counter(
            "claudewire_upstream_resends",
            "Requests sent again at once because a reused upstream connection was found dead before anything of "
            "the request could have been processed (counted apart from policy attempts).",
            ("upstream",),
            registry=r,
        )
        self._max_models = max_models
        self._models: set[str] = set()
        self._children: dict[tuple[Any, ...], Any] = {}
        self._per_request: dict[tuple[str, str, int, str], tuple[Any, Any, Any]] = {}  # observe_request's children
        self._remaining: dict[tuple[str, str], float] = {}  # the ratelimit_remaining gauges' values, read at scrape

    # --- cached children: one dict lookup per update after the first -------------------------------------------
    def _child(self, family: Any, *labels: str) -> Any:
        key = (id(family), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = family.labels(*labels)
        return child

    def _model(self, model: str | None) -> str:
        if not model:
            return "unknown"
        if model in self._models:
            return model
        if len(self._models) >= self._max_models or len(model) > 100:
            return "other"
        self._models.add(model)
        return model

    # --- what the caller reports -----------------------------------------------------------------------------------
    def observe_request(
        self,
        route: str,
        status: int,
        error_kind: str,
        duration: float,
        ttfb: float | None = None,
        dialect: str = "anthropic",
    ) -> None:
        """One request answered: `status` (its class is the label), `error_kind` ('' on success), timings, and the
        `dialect` the caller spoke (one of `DIALECTS`, else ``other``)."""
        key = (route, dialect, status // 100, error_kind)
        children = self._per_request.get(key)
        if children is None:  # the three children of one outcome, looked up once (labels are bounded)
            status_class = _STATUS_CLASS.get(status // 100, "other")
            label = dialect if dialect in DIALECTS else "other"
            children = self._per_request[key] = (
                self._child(self.requests, route, label, status_class, error_kind or "none"),
                self._child(self.duration, route, label),
                self._child(self.ttfb, route, label),
            )
        requests, durations, ttfbs = children
        requests.inc()
        durations.observe(duration)
        if ttfb is not None:
            ttfbs.observe(ttfb)

    def add_usage(self, usage: Usage, upstream: str = "") -> None:
        """`add_tokens` for one response's usage as the stream scanner or JSON reader found it."""
        self.add_tokens(
            usage.model, usage.input_tokens, usage.output_tokens, usage.cache_read, usage.cache_creation, upstream
        )

    def add_tokens(
        self,
        model: str | None,
        input_tokens: int,
        output_tokens: int,
        cache_read: int = 0,
        cache_creation: int = 0,
        upstream: str = "",
    ) -> None:
        """Tokens from one response's ``usage`` (for cost), labelled by model, and its prompt-cache outcome (by
        model and the `upstream` that answered: a cache is per upstream organization, so a split shows there).

        `input_tokens` is the API's own field: what follows the cached prefix, without the cache tokens.
        """
        name = self._model(model)
        outcome = "hit" if cache_read else "miss" if cache_creation else "none"
        self._child(self.cache_requests, name, outcome, upstream).inc()
        if input_tokens:
            self._child(self.tokens, name, "input").inc(input_tokens)
        if output_tokens:
            self._child(self.tokens, name, "output").inc(output_tokens)
        if cache_read:
            self._child(self.tokens, name, "cache_read").inc(cache_read)
        if cache_creation:
            self._child(self.tokens, name, "cache_creation").inc(cache_creation)

    def client_request(self, client: str, outcome: str) -> None:
        """A named client's request was `outcome` (admitted, rate_limited, forbidden); names come from config."""
        self._child(self.client_requests, client, outcome).inc()

    def client_used(self, client: str, tokens: int) -> None:
        """`tokens` counted against a named client's limits."""
        if tokens > 0:
            self._child(self.client_tokens, client).inc(tokens)

    def on_refused(self, reason: str) -> None:
        """Count one refusal of the gateway's HTTP layer (`reason` is from a fixed set)."""
        self._child(self.refused, reason).inc()

    def on_resend(self, upstream: str) -> None:
        """Count one invisible resend on a fresh connection after a reused one was found dead."""
        self._child(self.resends, upstream).inc()

    def render(self) -> bytes:
        """The text exposition of every family (content type `CONTENT_TYPE`)."""
        return generate_latest(self.registry)

    # --- policy hooks ------------------------------------------------------------------------------------------------
    def on_attempt_end(self, upstream: str, attempt: int, failure: Failure | None, elapsed: float) -> None:
        """Count the attempt by outcome."""
        self._child(self.attempts, upstream, "ok" if failure is None else str(failure.kind)).inc()

    def on_retry(self, upstream: str, attempt: int, delay: float, failure: Failure) -> None:
        """Count the retry by the failure kind that caused it."""
        self._child(self.retries, upstream, str(failure.kind)).inc()

    def on_give_up(self, upstream: str, attempt: int, failure: Failure, reason: str) -> None:
        """Count a call that ended failed, by its last failure kind."""
        self._child(self.give_ups, upstream, str(failure.kind)).inc()

    def on_breaker_change(self, upstream: str, old: BreakerState, new: BreakerState) -> None:
        """Publish the breaker's new state."""
        self._child(self.breaker, upstream).set(_BREAKER_VALUE[new])

    def on_ratelimit_wait(self, upstream: str, delay: float) -> None:
        """Add the hold time."""
        self._child(self.ratelimit_wait, upstream).inc(delay)

    def on_ratelimit(self, upstream: str, family: str, remaining: float) -> None:
        """Publish the remaining headroom of one bucket family."""
        # every answer reports it: keep the value, and let the gauge read it at scrape time (no locked set per answer)
        key = (upstream, family)
        values = self._remaining
        known = key in values
        values[key] = remaining
        if not known:
            self._child(self.ratelimit_remaining, upstream, family).set_function(lambda: values[key])

    def observe_upstream_request(self, upstream: str, status: int) -> None:
        """A request answered by configured upstream `upstream` with `status`."""
        self._child(self.upstream_requests, upstream, _STATUS_CLASS.get(status // 100, "other")).inc()

    def observe_failover(self, source: str, target: str, reason: str) -> None:
        """An attempt moved from upstream `source` to `target` after a failure of kind `reason`."""
        self._child(self.failovers, source, target, reason).inc()

    def observe_key_out(self, key: str) -> None:
        """The key `key` (``name#index``) was taken out of rotation."""
        self._child(self.keys_out, key).inc()

    def observe_affinity(self, outcome: str, reason: str) -> None:
        """A session's call was served: `outcome` hit / new / break, `reason` why it broke."""
        self._child(self.affinity, outcome, reason or "none").inc()

    def register_key(self, upstream: str, key: str, state: Callable[[], float]) -> None:
        """Publish the state of key `key` of `upstream`, read from `state` at scrape time; its breaker as closed."""
        self._child(self.key_state, upstream, key).set_function(state)
        self._child(self.breaker, key).set(0.0)

    def register_upstream(self, upstream: str) -> None:
        """Show the breaker of `upstream` as closed before its first call (so dashboards see it at once)."""
        self._child(self.breaker, upstream).set(0.0)
