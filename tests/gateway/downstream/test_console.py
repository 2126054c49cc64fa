"""The gateway's /console: its ring and aggregates, the data it serves, its headers, tokens mode and its bounds."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import anthropic
import httpx2
import pytest

from claudewire._sse import Usage
from claudewire.cli.proxy import _announce
from claudewire.gateway import ConfigError, GatewayConfig, GatewayThread
from claudewire.gateway.console_feed import Attempt, FinishedCall
from claudewire.gateway.downstream.clients import ClientSpec, token_digest
from claudewire.gateway.downstream.console import CSP, CallRing
from claudewire.gateway.downstream.console.ring import BOUNDS, percentile
from claudewire.gateway.downstream.console.view import UpstreamFacts, charts_json, upstreams_json
from claudewire.gateway.upstream.specs import UpstreamSpec
from claudewire.state import ClientLimits
from claudewire.testing import FastClock, run_sim
from tests.conftest import SIM_KEY, SIM_MODEL
from tests.gateway.conftest import ROOMY

MESSAGES: list[Any] = [{"role": "user", "content": "hello"}]
T0 = 1_800_000_000.0  # a wall-clock minute boundary (divisible by 60)
TOKEN = "cw-console-test-token-0001"


def _usage(fresh: int = 0, out: int = 0, read: int = 0, wrote: int = 0) -> Usage:
    usage = Usage()
    usage.input_tokens, usage.output_tokens, usage.cache_read, usage.cache_creation = fresh, out, read, wrote
    return usage


@dataclass
class _Call:
    """A duck-typed record: any object with the `CallView` fields will do (the ring imports no record class)."""

    started: float = T0
    duration: float = 0.2
    status: int = 200
    error: str = ""
    attempts: tuple[Attempt, ...] = (Attempt("a#0", "ok", 0.0),)
    upstreams: tuple[str, ...] = ("a",)
    ttfb: float | None = 0.1
    usage: Usage | None = None
    model: str | None = SIM_MODEL
    client: str = ""
    route: str = "messages"
    dialect: str = "anthropic"
    stream: bool = False
    served: str = "a"
    request_id: str = "req_1"
    group: str = ""
    extra: dict[str, str] = field(default_factory=dict)


def test_the_ring_keeps_the_last_n_calls_numbered_in_order() -> None:
    """A ring of 3 keeps the newest 3 of 5 calls; `since` gives only the calls numbered after the one asked for."""
    ring = CallRing(3)
    for i in range(5):
        ring.add(_Call(request_id=f"req_{i}"))
    assert [seq for seq, _ in ring.since(0)] == [3, 4, 5]
    assert [call.request_id for _, call in ring.since(4)] == ["req_4"]
    assert ring.since(5) == [] and ring.seq == 5
    with pytest.raises(ValueError):
        CallRing(0)


def test_minutes_add_up_status_errors_retries_failovers_tokens_and_the_cache_ratio() -> None:
    """Each chart's point is the sum of the calls that ended in that minute; a quiet minute is all zeros."""
    ring = CallRing(10)
    ring.add(_Call(usage=_usage(fresh=100, out=10, read=300)))
    two = (Attempt("a#0", "529 overloaded", 0.0), Attempt("b#0", "ok", 0.5))
    ring.add(_Call(attempts=two, upstreams=("a", "b"), served="b", usage=_usage(fresh=100, out=5, wrote=100)))
    ring.add(_Call(status=529, error="overloaded", attempts=(Attempt("a#0", "529 overloaded", 0.0),) * 3))
    ring.add(_Call(started=T0 + 120, status=404, error="not_found", ttfb=None))
    charts = charts_json(ring.window(T0 + 150, 4))  # the minutes T0-60, T0, T0+60 and T0+120
    assert charts["requests"] == [0, 3, 0, 1] and charts["minutes"] == [T0 - 60, T0, T0 + 60, T0 + 120]
    assert charts["status"]["2xx"][1] == 2 and charts["status"]["5xx"][1] == 1 and charts["status"]["4xx"][3] == 1
    assert charts["errors"] == {"not_found": [0, 0, 0, 1], "overloaded": [0, 1, 0, 0]}
    assert charts["retries"][1] == 3 and charts["failovers"][1] == 1  # the same upstream thrice is no failover
    assert charts["tokens_in"][1] == 600 and charts["tokens_out"][1] == 15
    assert charts["cache"][SIM_MODEL][1] == 0.5 and charts["cache_total"][SIM_MODEL] == 0.5  # 300 read of 600
    assert charts["ttfb_p50"][3] is None and charts["duration_p50"][1] is not None and charts["retries"][2] == 0


def test_percentiles_come_from_the_histogram_as_bucket_upper_bounds() -> None:
    """p50 and p95 of 100 observations land in the buckets holding the 50th and 95th; no observation: None."""
    counts = [0] * (len(BOUNDS) + 1)
    counts[3], counts[10] = 94, 6
    assert percentile(counts, 0.5) == BOUNDS[3] and percentile(counts, 0.95) == BOUNDS[10]
    assert percentile([0] * 4, 0.5) is None


def test_a_clients_use_counts_this_minute_and_this_utc_day() -> None:
    """Per client: requests and counted tokens (cache reads free) in the minute, tokens in the UTC day; a new day
    starts at zero."""
    ring = CallRing(10)
    ring.add(_Call(client="ci", usage=_usage(fresh=10, out=5, read=1000, wrote=20)))
    ring.add(_Call(client="ci", started=T0 + 61, usage=_usage(fresh=1, out=1)))
    assert ring.client_now("ci", T0 + 70) == (1, 2, 37)
    assert ring.client_now("other", T0 + 70) == (0, 0, 0)
    assert ring.client_now("ci", T0 + 86400) == (0, 0, 0)


def test_the_doctor_line_and_the_keys_come_from_readyz() -> None:
    """Not ready: the doctor's own words and fix; each key keeps its state, why, and its headroom beside it."""
    readyz = {
        "status": "unavailable",
        "upstreams": [
            {
                "name": "a",
                "priority": 0,
                "usable": False,
                "keys": [{"key": "a#0", "state": "out", "usable": False, "reason": "HTTP 401 auth", "retry_in": 12.34}],
            }
        ],
    }
    facts = UpstreamFacts(json.dumps(readyz).encode(), {"a#0": {"requests": 7.0}}, 3.0, {"hit": 2.0})
    view = upstreams_json(facts)
    says = "a claudewire gateway (NOT ready: no upstream can serve); upstreams: a NOT usable (out)"
    assert view["doctor"]["says"] == says
    assert view["doctor"]["status"] == "warn" and "operator" in view["doctor"]["fix"]
    key = view["upstreams"][0]["keys"][0]
    assert key == {"key": "a#0", "state": "out", "usable": False, "reason": "HTTP 401 auth", "retry_in": 12.3,
                   "headroom": {"requests": 7.0}}  # fmt: skip
    assert view["retry_budget_left"] == 3.0 and view["affinity"] == {"hit": 2}


def test_a_finished_call_names_each_upstream_tried_once_in_order() -> None:
    """The interim record derives the upstreams tried from its attempts' targets (``name#index``)."""
    tried = (Attempt("a#0", "529 overloaded", 0.0), Attempt("a#1", "529 overloaded", 0.1), Attempt("b#0", "ok", 0.2))
    call = FinishedCall("messages", SIM_MODEL, False, T0, 1.0, tried, "b", 200, "", 0.5, None, "req")
    assert call.upstreams == ("a", "b")


def test_console_calls_is_bounded_and_zero_turns_the_console_off() -> None:
    """console_calls below 0 is a config error; 0 leaves /console unserved (404 in the API's shape)."""
    with pytest.raises(ConfigError, match="console_calls"):
        GatewayConfig(console_calls=-1)
    with run_sim(seed=0) as sim, _gateway(sim.base_url, console_calls=0) as gw:
        answer = httpx2.get(gw.base_url + "/console")
        assert answer.status_code == 404 and answer.json()["error"]["type"] == "not_found_error"


def _config(*urls: str, **overrides: Any) -> GatewayConfig:
    specs = tuple(UpstreamSpec(f"u{i}", url, priority=i, **overrides.pop("spec", {})) for i, url in enumerate(urls))
    overrides.setdefault("policy", ROOMY)
    overrides.setdefault("access_log", None)
    return GatewayConfig(upstreams=specs, port=0, **overrides)


@contextlib.contextmanager
def _gateway(*urls: str, **overrides: Any) -> Iterator[GatewayThread]:
    """A gateway on 127.0.0.1:0 in front of upstreams u0, u1, ... (in that priority order), on the fast clock."""
    with GatewayThread(_config(*urls, **overrides), clock=FastClock()) as gw:
        yield gw


def test_the_page_and_its_files_come_with_a_strict_content_security_policy() -> None:
    """/console, its script, style and icon: each with its type, the CSP, nosniff and no framing; other paths 404."""
    with run_sim(seed=0) as sim, _gateway(sim.base_url) as gw:
        for path, ctype in (("/console", "text/html"), ("/console/console.js", "text/javascript"),
                            ("/console/console.css", "text/css"), ("/console/icon.svg", "image/svg+xml")):  # fmt: skip
            answer = httpx2.get(gw.base_url + path)
            assert answer.status_code == 200 and answer.headers["content-type"].startswith(ctype)
            assert answer.headers["content-security-policy"] == CSP
            assert answer.headers["x-content-type-options"] == "nosniff" and answer.headers["x-frame-options"] == "DENY"
        page = httpx2.get(gw.base_url + "/console").text
        assert '<script src="/console/console.js"' in page and "style=" not in page and "<style" not in page
        assert "http://" not in page and "https://" not in page  # nothing from elsewhere
        assert httpx2.get(gw.base_url + "/console/nope").status_code == 404
        assert httpx2.post(gw.base_url + "/console/api/snapshot").json()["type"] == "error"


def test_a_failover_shows_in_the_snapshot_with_each_attempt_and_the_taxonomys_words() -> None:
    """Primary 529 then backup: the call lists both attempts; a call that fails everywhere names its kind's cause."""
    with (
        run_sim(seed=0, faults=["529:1.0"]) as primary,
        run_sim(seed=0) as backup,
        _gateway(primary.base_url, backup.base_url) as gw,
    ):
        client = anthropic.Anthropic(base_url=gw.base_url, api_key=SIM_KEY, max_retries=0)
        assert client.messages.create(model=SIM_MODEL, max_tokens=16, messages=MESSAGES).content
        backup.set_faults(["529:1.0"])
        with pytest.raises(anthropic.APIStatusError):
            client.messages.create(model=SIM_MODEL, max_tokens=16, messages=MESSAGES)
        doc = httpx2.get(gw.base_url + "/console/api/snapshot").json()
        later = httpx2.get(gw.base_url + "/console/api/snapshot?since=1").json()
    first, failed = doc["calls"]
    assert [(a["target"], a["outcome"]) for a in first["attempts"]] == [("u0#0", "529 overloaded"), ("u1#0", "ok")]
    assert first["served"] == "u1" and first["upstreams"] == ["u0", "u1"] and first["status"] == 200
    assert first["input_tokens"] > 0 and first["ttfb_ms"] is not None and first["request_id"]
    assert failed["status"] == 529 and failed["error"] == "overloaded"
    assert "overloaded" in doc["kinds"] and doc["kinds"]["overloaded"]["fix"]
    assert sum(doc["charts"]["failovers"]) >= 1 and sum(doc["charts"]["errors"]["overloaded"]) == 1
    assert [c["seq"] for c in later["calls"]] == [2]
    names = [u["name"] for u in doc["gateway"]["upstreams"]]
    assert names == ["u0", "u1"] and doc["gateway"]["doctor"]["says"].startswith("a claudewire gateway")


def test_tokens_mode_keeps_the_data_behind_a_token_and_shows_no_secret() -> None:
    """Without a token the data paths answer 401 (the page shell is open); with one they answer, naming the client's
    limits and never a key or a token."""
    spec = ClientSpec("ci-bot", token_digest(TOKEN), ClientLimits("ci-bot", requests_per_minute=30))
    with run_sim(seed=0) as sim, _gateway(sim.base_url, clients=(spec,), spec={"keys": (SIM_KEY,)}) as gw:
        client = anthropic.Anthropic(base_url=gw.base_url, api_key=TOKEN, max_retries=0)
        client.messages.create(model=SIM_MODEL, max_tokens=16, messages=MESSAGES)
        assert httpx2.get(gw.base_url + "/console").status_code == 200
        for path in ("/console/api/snapshot", "/console/api/events"):
            refused = httpx2.get(gw.base_url + path)
            assert refused.status_code == 401 and refused.json()["error"]["type"] == "authentication_error"
        wrong = httpx2.get(gw.base_url + "/console/api/snapshot", headers={"authorization": "Bearer nope"})
        assert wrong.status_code == 401
        answer = httpx2.get(gw.base_url + "/console/api/snapshot", headers={"authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200
    doc = answer.json()
    assert doc["tokens"] is True and doc["calls"][0]["client"] == "ci-bot"
    assert doc["clients"][0]["name"] == "ci-bot" and doc["clients"][0]["requests"] == 1
    assert doc["clients"][0]["requests_per_minute"] == 30
    assert SIM_KEY not in answer.text and TOKEN not in answer.text


def _read_events(url: str, got: list[dict[str, Any]], first: threading.Event, ended: threading.Event) -> None:
    try:
        with httpx2.stream("GET", url, timeout=30) as answer:
            for line in answer.iter_lines():
                if line.startswith("data: "):
                    got.append(json.loads(line[6:]))
                    first.set()
    except httpx2.HTTPError:
        pass
    finally:
        first.set()
        ended.set()


def test_event_streams_are_bounded_and_end_when_the_gateway_stops() -> None:
    """Eight streams at once, a ninth gets 429 with retry-after; every stream ends once the gateway stops."""
    with run_sim(seed=0) as sim:
        gw = GatewayThread(_config(sim.base_url), clock=FastClock()).start()
        try:
            readers = []
            for _ in range(8):
                got: list[dict[str, Any]] = []
                first, ended = threading.Event(), threading.Event()
                thread = threading.Thread(
                    target=_read_events, args=(gw.base_url + "/console/api/events", got, first, ended), daemon=True
                )
                thread.start()
                readers.append((got, first, ended))
            assert all(first.wait(20) for _, first, _ in readers)
            assert all(got and got[0]["seq"] == 0 for got, _, _ in readers)
            refused = httpx2.get(gw.base_url + "/console/api/events")
            assert refused.status_code == 429 and refused.headers["retry-after"] == "10"
        finally:
            gw.stop()
        assert all(ended.wait(20) for _, _, ended in readers)


def test_the_proxy_banner_prints_the_console_url(capsys: pytest.CaptureFixture[str]) -> None:
    """`claudewire proxy` says where the console is, and that it asks for a token in tokens mode."""
    with run_sim(seed=0) as sim, _gateway(sim.base_url) as gw:
        assert gw.gateway is not None
        _announce(gw.config, gw.gateway, gw.port)
        _announce(gw.config.replace(console_calls=0), gw.gateway, gw.port)
    lines = [line for line in capsys.readouterr().out.splitlines() if "console" in line]
    assert lines == [f"  console: http://127.0.0.1:{gw.port}/console"]
