"""Screenshots of the gateway's /console for docs/console.md, taken in the tests' headless Chromium.

    PYTHONPATH=src python3 scripts/console_screenshots.py             # 3 minutes of traffic, then the pictures
    PYTHONPATH=src python3 scripts/console_screenshots.py --minutes 1

A gateway in tokens mode with two named clients sits in front of two simulators: the primary answers 529 to a
third of the calls (so some calls fail over to the backup), and the traffic mixes models, streamed calls, prompts
with a cached system prompt and an unknown model (404). The page is opened with a client's token through its form,
as a person would, and photographed at 1280x800 and at 390x844 (a phone), into docs/console/.
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import anthropic  # noqa: E402
from tests.gateway.conftest import ROOMY  # noqa: E402
from tests.gateway.downstream.browser import chromium, viewport  # noqa: E402

from claudewire.gateway import GatewayConfig, GatewayThread  # noqa: E402
from claudewire.gateway.downstream.clients import ClientSpec, token_digest  # noqa: E402
from claudewire.gateway.upstream.specs import UpstreamSpec  # noqa: E402
from claudewire.state import ClientLimits  # noqa: E402
from claudewire.testing import FastClock, run_sim  # noqa: E402

OUT = ROOT / "docs" / "console"
KEY = "sk-ant-sim-screenshots-0000"
TOKENS = {"ci-bot": "cw-demo-ci-bot-token-000001", "notebook": "cw-demo-notebook-token-0002"}
MODELS = ("claude-haiku-4-5", "claude-sonnet-5-5", "claude-opus-5-5")
SYSTEM = [{"type": "text", "text": "You review pull requests. " * 800, "cache_control": {"type": "ephemeral"}}]


def traffic(base_url: str, until: float, seed: int) -> None:
    """Calls like a small team's until `until`: mostly fine, some streamed, some cached, an occasional 404."""
    rng = random.Random(seed)
    clients = {name: anthropic.Anthropic(base_url=base_url, api_key=t, max_retries=2) for name, t in TOKENS.items()}
    while time.monotonic() < until:
        name = rng.choice(("ci-bot", "ci-bot", "notebook"))
        client = clients[name]
        model = rng.choice(MODELS)
        args: dict[str, Any] = {"model": model, "max_tokens": rng.choice((64, 256)), "messages": [
            {"role": "user", "content": "Review this change."}]}  # fmt: skip
        if rng.random() < 0.5:
            args["system"] = SYSTEM
        if rng.random() < 0.04:
            args["model"] = "claude-nope-1"
        try:
            if rng.random() < 0.4:
                with client.messages.stream(**args) as stream:
                    stream.get_final_message()
            else:
                client.messages.create(**args)
        except anthropic.APIError:
            pass
        time.sleep(rng.uniform(0.05, 0.6))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=3.0, help="minutes of traffic before the pictures")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    clients = (
        ClientSpec("ci-bot", token_digest(TOKENS["ci-bot"]), ClientLimits("ci-bot", 120, 400_000, 5_000_000)),
        ClientSpec("notebook", token_digest(TOKENS["notebook"]), ClientLimits("notebook", 30, 100_000, None),
                   frozenset(MODELS[:2])),
    )  # fmt: skip
    with (
        run_sim(seed=1, faults=["529:0.33"]) as primary,
        run_sim(seed=2) as backup,
        GatewayThread(
            GatewayConfig(
                upstreams=(
                    UpstreamSpec("anthropic", primary.base_url, keys=(KEY, KEY + "b")),
                    UpstreamSpec("backup", backup.base_url, keys=(KEY,), priority=1),
                ),
                clients=clients,
                port=0,
                policy=ROOMY,
                access_log=None,
            ),
            clock=FastClock(),
        ) as gw,
    ):
        until = time.monotonic() + args.minutes * 60
        workers = [threading.Thread(target=traffic, args=(gw.base_url, until, i)) for i in range(3)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        with chromium(1280, 800) as driver:
            from selenium.webdriver.common.by import By
            from selenium.webdriver.support.ui import WebDriverWait

            driver.get(gw.base_url + "/console")
            WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "login").is_displayed())
            driver.save_screenshot(str(OUT / "login-1280x800.png"))
            driver.find_element(By.ID, "token").send_keys(TOKENS["ci-bot"])
            driver.find_element(By.CSS_SELECTOR, "#login-form button").click()
            WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "live").text == "live")
            WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#calls tbody tr"))
            driver.save_screenshot(str(OUT / "console-1280x800.png"))
            driver.execute_script("document.getElementById('calls').closest('section').scrollIntoView()")
            driver.save_screenshot(str(OUT / "calls-1280x800.png"))
            retried = driver.execute_script(
                "return Array.from(document.querySelectorAll('#calls tbody tr'))"
                ".findIndex(r => Number(r.cells[4].innerText) > 1)"
            )
            row = driver.find_elements(By.CSS_SELECTOR, "#calls tbody tr")[max(0, retried)]
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", row)  # not under the header
            row.click()
            WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "detail").is_displayed())
            driver.save_screenshot(str(OUT / "call-1280x800.png"))
            driver.find_element(By.ID, "detail-close").click()
            viewport(driver, 390, 844)
            driver.execute_script("window.scrollTo(0, 0)")
            time.sleep(1.5)  # a picture, not a test: let the narrow layout settle and the next event arrive
            driver.save_screenshot(str(OUT / "console-390x844.png"))
            driver.execute_script("document.getElementById('charts').closest('section').scrollIntoView()")
            driver.save_screenshot(str(OUT / "charts-390x844.png"))
            driver.execute_script("document.getElementById('calls').closest('section').scrollIntoView()")
            driver.save_screenshot(str(OUT / "calls-390x844.png"))
    for path in sorted(OUT.glob("*.png")):
        print(path.relative_to(ROOT))


if __name__ == "__main__":
    main()
