"""A real headless browser for the console's tests: Debian's chromium and chromedriver, driven by selenium.

Nothing is downloaded: the driver and the browser are the system's (scripts/apt-packages.txt), given by path, so
selenium never looks for its own. Each browser starts with a fresh profile and with every background service it
could reach the network with switched off; the page's console messages and network requests are logged so a test
can read them (`console_errors`, `requested_urls`).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",  # containers give /dev/shm 64 MB, which a renderer can outgrow
)


def need_browser() -> None:
    """Skip with the install line when this machine has no chromium, chromedriver or selenium."""
    pytest.importorskip("selenium", reason="pip install 'claudewire[test]' (selenium)")
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("needs Debian's chromium and chromium-driver: apt-get install chromium chromium-driver")


@contextlib.contextmanager
def chromium(width: int = 1280, height: int = 800) -> Iterator[Any]:
    """A headless Chromium showing a `width` x `height` viewport, with browser and performance logs on."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    assert CHROMIUM is not None and CHROMEDRIVER is not None
    with tempfile.TemporaryDirectory(prefix="cw-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
        try:
            viewport(driver, width, height)
            requested_urls(driver)  # what the browser's own start page loaded is not the page's doing
            console_errors(driver)
            yield driver
        finally:
            driver.quit()


def viewport(driver: Any, width: int, height: int) -> None:
    """Make the page's viewport exactly `width` x `height` CSS pixels (a phone when narrow: touch, mobile layout)."""
    mobile = width < 600
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
    )


def console_errors(driver: Any) -> list[str]:
    """The page's console messages at level SEVERE since the last call (CSP violations and failed loads are)."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def requested_urls(driver: Any) -> list[str]:
    """Every URL the page requested since the last call (from the DevTools performance log)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls
