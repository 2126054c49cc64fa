"""The console in a real headless Chromium: it loads clean, stays on the gateway, goes live, filters, and keeps a
page without a token out. Every wait is bounded (WebDriverWait) and waits for what the page shows, never a time."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from claudewire.gateway import GatewayConfig, GatewayThread
from claudewire.gateway.downstream.clients import ClientSpec, token_digest
from claudewire.gateway.upstream.specs import UpstreamSpec
from claudewire.state import ClientLimits
from claudewire.testing import FastClock, run_sim
from tests.conftest import SIM_KEY, SIM_MODEL
from tests.gateway.conftest import ROOMY
from tests.gateway.downstream.browser import chromium, console_errors, need_browser, requested_urls

pytestmark = pytest.mark.slow
MESSAGES: list[Any] = [{"role": "user", "content": "hello"}]
OTHER_MODEL = "claude-sonnet-5-5"
WAIT = 30.0


@pytest.fixture(autouse=True)
def _browser() -> None:
    need_browser()


@contextlib.contextmanager
def _gateway(*urls: str, **overrides: Any) -> Iterator[GatewayThread]:
    specs = tuple(UpstreamSpec(f"u{i}", url, priority=i, **overrides.pop("spec", {})) for i, url in enumerate(urls))
    config = GatewayConfig(upstreams=specs, port=0, policy=ROOMY, access_log=None, **overrides)
    with GatewayThread(config, clock=FastClock()) as gw:
        yield gw


def _until(driver: Any, check: Any, what: str) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT, poll_frequency=0.1).until(lambda d: check(d), message=what)


def _rows(driver: Any) -> list[list[str]]:
    """The call list as shown: one list of cell texts per row, newest first (hidden columns read as "")."""
    script = (
        "return Array.from(document.querySelectorAll('#calls tbody tr'), r => Array.from(r.cells, c => c.innerText))"
    )
    rows: list[list[str]] = driver.execute_script(script)  # one read: the list may be redrawn between two
    return rows


def _live(driver: Any) -> bool:
    from selenium.webdriver.common.by import By

    return bool(driver.find_element(By.ID, "live").text == "live")


def test_the_page_loads_with_no_console_error_and_requests_nothing_outside_the_gateway() -> None:
    """Loaded and live with a call in its list: no SEVERE console message, every request to the gateway itself."""
    with run_sim(seed=0) as sim, _gateway(sim.base_url) as gw, chromium() as driver:
        anthropic.Anthropic(base_url=gw.base_url, api_key=SIM_KEY, max_retries=0).messages.create(
            model=SIM_MODEL, max_tokens=16, messages=MESSAGES
        )
        driver.get(gw.base_url + "/console")
        _until(driver, lambda d: _live(d) and len(_rows(d)) == 1, "the page went live with one call")
        _until(driver, lambda d: "ready" in d.find_element("id", "doctor-says").text, "the doctor's line")
        errors = console_errors(driver)
        urls = requested_urls(driver)
    assert errors == []
    assert urls and all(url.startswith(gw.base_url + "/console") for url in urls), urls
    assert any(url.startswith(gw.base_url + "/console/api/events") for url in urls)


def test_a_failover_shows_as_it_happens_and_a_click_opens_its_attempts() -> None:
    """Primary answering 529, backup fine: the open page shows the call served by the backup after 2 tries, counts
    the failover, and a click on it lists both attempts with their outcomes."""
    from selenium.webdriver.common.by import By

    with (
        run_sim(seed=0, faults=["529:1.0"]) as primary,
        run_sim(seed=0) as backup,
        _gateway(primary.base_url, backup.base_url) as gw,
        chromium() as driver,
    ):
        driver.get(gw.base_url + "/console")
        _until(driver, _live, "the page went live")
        assert _rows(driver) == []
        client = anthropic.Anthropic(base_url=gw.base_url, api_key=SIM_KEY, max_retries=0)
        assert client.messages.create(model=SIM_MODEL, max_tokens=16, messages=MESSAGES).content
        row = _until(driver, lambda d: next(iter(_rows(d)), None), "the call appeared without a reload")
        assert row[2:6] == [SIM_MODEL, "200", "2", "u1"]
        charts = driver.find_element(By.ID, "charts").text
        assert "retries and failovers\n1 / 1" in charts
        driver.find_element(By.CSS_SELECTOR, "#calls tbody tr").click()
        _until(driver, lambda d: d.find_element(By.ID, "detail").is_displayed(), "the call's detail opened")
        attempts = [
            [cell.text for cell in tr.find_elements(By.TAG_NAME, "td")]
            for tr in driver.find_elements(By.CSS_SELECTOR, "#attempts tbody tr")
        ]
        facts = driver.find_element(By.ID, "detail-facts").text
        errors = console_errors(driver)
    assert [a[:3] for a in attempts] == [["1", "u0#0", "529 overloaded"], ["2", "u1#0", "ok"]]
    assert "u0 → u1" in facts
    assert errors == []


def test_the_call_list_fills_and_filters_by_status_and_model() -> None:
    """Five calls fill the list; the status filter keeps the 404, the model filter the other model's call."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    with run_sim(seed=0) as sim, _gateway(sim.base_url) as gw, chromium() as driver:
        driver.get(gw.base_url + "/console")
        _until(driver, _live, "the page went live")
        client = anthropic.Anthropic(base_url=gw.base_url, api_key=SIM_KEY, max_retries=0)
        for model in (SIM_MODEL, SIM_MODEL, OTHER_MODEL, SIM_MODEL):
            client.messages.create(model=model, max_tokens=16, messages=MESSAGES)
        with pytest.raises(anthropic.NotFoundError):
            client.messages.create(model="claude-nope-1", max_tokens=16, messages=MESSAGES)
        _until(driver, lambda d: len(_rows(d)) == 5, "five calls listed")
        Select(driver.find_element(By.ID, "f-status")).select_by_value("4xx")
        rows = _until(driver, lambda d: (r := _rows(d)) and len(r) == 1 and r, "only the 4xx call")
        assert rows[0][2:4] == ["claude-nope-1", "404"] and rows[0][-1] == "not_found"
        Select(driver.find_element(By.ID, "f-status")).select_by_value("")
        Select(driver.find_element(By.ID, "f-model")).select_by_value(OTHER_MODEL)
        rows = _until(driver, lambda d: (r := _rows(d)) and len(r) == 1 and r, "only the other model's call")
        assert rows[0][2:4] == [OTHER_MODEL, "200"]
        Select(driver.find_element(By.ID, "f-model")).select_by_value("")
        assert len(_rows(driver)) == 5
        assert console_errors(driver) == []


def test_tokens_mode_keeps_a_page_without_a_token_out() -> None:
    """In tokens mode the page shows only its token form and no data; a wrong token is refused; the right one opens
    it (kept in memory only: no cookie, no storage, not in the URL), and the client filter works."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    alice, bob = "cw-token-alice-0000000001", "cw-token-bob-0000000000002"
    clients = tuple(
        ClientSpec(name, token_digest(token), ClientLimits(name, requests_per_minute=100, tokens_per_day=10**6))
        for name, token in (("alice", alice), ("bob", bob))
    )
    with (
        run_sim(seed=0) as sim,
        _gateway(sim.base_url, clients=clients, spec={"keys": (SIM_KEY,)}) as gw,
        chromium() as driver,
    ):
        for token, count in ((alice, 2), (bob, 1)):
            client = anthropic.Anthropic(base_url=gw.base_url, api_key=token, max_retries=0)
            for _ in range(count):
                client.messages.create(model=SIM_MODEL, max_tokens=16, messages=MESSAGES)
        driver.get(gw.base_url + "/console")
        _until(driver, lambda d: d.find_element(By.ID, "login").is_displayed(), "the token form")
        assert not driver.find_element(By.ID, "main").is_displayed()
        assert _rows(driver) == [] and SIM_MODEL not in driver.page_source
        box = driver.find_element(By.ID, "token")
        box.send_keys("cw-wrong-token-000000000")
        driver.find_element(By.CSS_SELECTOR, "#login-form button").click()
        _until(driver, lambda d: d.find_element(By.ID, "login-error").text == "That token was refused.", "refused")
        assert not driver.find_element(By.ID, "main").is_displayed()
        driver.find_element(By.ID, "token").send_keys(alice)
        driver.find_element(By.CSS_SELECTOR, "#login-form button").click()
        _until(driver, lambda d: _live(d) and len(_rows(d)) == 3, "the page opened with three calls")
        clients_text = driver.find_element(By.ID, "clients").text
        Select(driver.find_element(By.ID, "f-client")).select_by_value("bob")
        rows = _until(driver, lambda d: (r := _rows(d)) and len(r) == 1 and r, "only bob's call")
        assert driver.get_cookies() == []
        assert driver.execute_script("return localStorage.length + sessionStorage.length") == 0
        url = driver.current_url
        urls = requested_urls(driver)
        errors = console_errors(driver)
    assert "alice" in clients_text and "bob" in clients_text and "2 / 100" in clients_text
    assert rows[0][2:4] == [SIM_MODEL, "200"]
    assert url == gw.base_url + "/console" and not any(alice in u for u in urls)
    # the only errors: the data requests refused before a (right) token was given
    assert errors and all("401" in e for e in errors)
