"""A real Prometheus (Debian's) scraping a gateway under traffic: counters arrive, dashboard and rules evaluate."""

from __future__ import annotations

import json
import time
from typing import Any

import yaml

from claudewire.top import parse
from tests.deploy.conftest import DEPLOY, LiveGateway, dashboard_queries, drive
from tests.deploy.conftest import concrete as fill

RULES = DEPLOY / "prometheus" / "alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "claudewire.json"


def _value(result: list[dict[str, Any]]) -> float:
    return sum(float(sample["value"][1]) for sample in result)


def _by(result: list[dict[str, Any]], label: str) -> dict[str, float]:
    return {sample["metric"].get(label, ""): float(sample["value"][1]) for sample in result}


def _target(live: LiveGateway) -> str:
    return f"127.0.0.1:{live.gateway.port}"


def test_prometheus_scrapes_request_and_error_counters(live_gateway: LiveGateway, prometheus_for: Any) -> None:
    """Traffic through the gateway (overloads, a revoked key) shows up in Prometheus's request and error counters."""
    prom = prometheus_for([_target(live_gateway)], [RULES])
    prom.wait_for('up{job="claudewire"}', lambda r: _value(r) == 1)

    live_gateway.sim.set_faults(["529:1.0"])
    drive(live_gateway.base_url, calls=2, revoked=0)  # 3 + 2 attempts overloaded: the breaker opens for 2 s
    live_gateway.sim.set_faults([])
    prom.wait_for("max(claudewire_breaker_state)", lambda r: _value(r) == 2)
    live_gateway.wait_recovered()
    drive(live_gateway.base_url, calls=6, revoked=2)

    expected = sum(parse(live_gateway.scrape(), at=0).requests.values())
    prom.wait_for("sum(claudewire_requests_total)", lambda r: _value(r) == expected)
    errors = _by(
        prom.query('sum by (error_kind) (claudewire_requests_total{error_kind!="none"})'),
        "error_kind",
    )
    assert errors.get("auth", 0) >= 5  # 3 while the fixture drove, 2 here
    assert errors.get("overloaded", 0) >= 2
    retries = _by(prom.query("sum by (reason) (claudewire_upstream_retries_total)"), "reason")
    assert retries.get("overloaded", 0) >= 3
    tokens = _by(prom.query("sum by (model) (claudewire_tokens_total)"), "model")
    assert tokens.get("claude-haiku-4-5", 0) > 0
    assert _value(prom.query("max(max_over_time(claudewire_breaker_state[5m]))")) == 2  # it was open
    prom.wait_for("max(claudewire_breaker_state)", lambda r: _value(r) == 0)  # and closed again after the probe

    # the revoked key pages: increase() saw the auth attempts after the first scrape
    alerts = prom.wait_for(
        'ALERTS{alertname="ClaudewireUpstreamKeyRejected"}', lambda r: any(s["metric"]["outcome"] == "auth" for s in r)
    )
    assert {s["metric"]["alertstate"] for s in alerts} <= {"pending", "firing"}


def test_dashboard_queries_and_rules_evaluate_in_prometheus(live_gateway: LiveGateway, prometheus_for: Any) -> None:
    """Every dashboard query is valid PromQL with data for the headline panels; every rule evaluates healthy."""
    prom = prometheus_for([_target(live_gateway)], [RULES])
    prom.wait_for('up{job="claudewire"}', lambda r: _value(r) == 1)
    drive(live_gateway.base_url, calls=9, revoked=1)
    prom.wait_for("sum(rate(claudewire_requests_total[30s]))", lambda r: _value(r) > 0)

    empty: list[str] = []
    for title, expr in dashboard_queries(json.loads(DASHBOARD.read_text())):
        result = prom.query(fill(expr, "30s"))  # raises on invalid PromQL, naming the error
        if not result:
            empty.append(title)
    for headline in ("Requests/s", "Request rate by route and status", "Errors by kind", "Breaker state", "In flight"):
        assert headline not in empty, f"{headline} has no data; empty panels: {empty}"

    def evaluated(groups: dict[str, Any]) -> bool:
        return all(rule["health"] != "unknown" for g in groups["groups"] for rule in g["rules"])

    data = prom.api("rules")
    for _ in range(60):  # rules are evaluated every second: bounded at ~30 s
        if evaluated(data):
            break
        time.sleep(0.5)
        data = prom.api("rules")
    rules = [rule for group in data["groups"] for rule in group["rules"]]
    assert len(rules) == sum(len(group["rules"]) for group in yaml.safe_load(RULES.read_text())["groups"])
    unhealthy = {rule["name"]: rule.get("lastError") for rule in rules if rule["health"] != "ok"}
    assert not unhealthy
