"""deploy/grafana/claudewire.json: importable, and every panel queries metrics a live gateway exports."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.deploy.conftest import DEPLOY, LiveGateway, dashboard_queries, exported_series, referenced_metrics

DASHBOARD = DEPLOY / "grafana" / "claudewire.json"


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    """The dashboard JSON."""
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def test_dashboard_is_importable(dashboard: dict[str, Any]) -> None:
    """The JSON has what Grafana's import needs: a title, a uid, panels with ids, a Prometheus datasource variable."""
    assert dashboard["title"] == "claudewire"
    assert dashboard["uid"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
            assert panel["targets"], panel["title"]


def test_dashboard_covers_the_issue(dashboard: dict[str, Any]) -> None:
    """Panels exist for request rate, errors, latency and TTFB quantiles, retries, breaker, headroom, tokens, cache."""
    titles = " | ".join(title for title, _ in dashboard_queries(dashboard))
    for needed in (
        "Request rate",
        "Errors by kind",
        "Request duration p50 / p95 / p99",
        "Time to first byte p50 / p95 / p99",
        "Retries per request",
        "Breaker state",
        "Rate-limit headroom",
        "Tokens per minute by model",
        "Prompt cache hit ratio by model",
    ):
        assert needed in titles
    kinds = {p["type"] for p in dashboard["panels"]}
    assert "state-timeline" in kinds


def test_every_query_reads_exported_metrics(dashboard: dict[str, Any], live_gateway: LiveGateway) -> None:
    """Each panel's PromQL names only series a live gateway (under traffic, with faults) exports on /metrics."""
    exported = exported_series(live_gateway.scrape())
    assert "claudewire_requests_total" in exported
    for title, expr in dashboard_queries(dashboard):
        used = referenced_metrics(expr)
        assert used, f"{title}: {expr} reads no claudewire metric"
        assert used <= exported, f"{title}: not exported by the gateway: {sorted(used - exported)}"


def test_the_name_check_can_fail(live_gateway: LiveGateway) -> None:
    """A query on a metric the gateway does not export is caught by the same check."""
    exported = exported_series(live_gateway.scrape())
    assert not referenced_metrics("rate(claudewire_request_total[1m])") <= exported
    assert not referenced_metrics("claudewire_breaker_state_total") <= exported
