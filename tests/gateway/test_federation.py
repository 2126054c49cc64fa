"""Workload identity federation end to end: the official SDK → claudewire proxy (holding no key, only an identity
token file) → the simulator's /v1/oauth/token and /v1/messages, on a clock the test moves."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import pytest

from claudewire.gateway import GatewayConfig, GatewayThread
from claudewire.gateway.upstream.specs import upstreams_from_list
from claudewire.sim import SimServer
from claudewire.sim.federation import IdentityIssuer
from claudewire.testing import FastClock, run_sim
from tests.conftest import SIM_KEY, SIM_MODEL
from tests.gateway.conftest import ROOMY

HELLO = [{"role": "user", "content": "Hello"}]
RULE, ORG, ACCOUNT = "fdrl_gateway", "00000000-0000-4000-8000-000000000002", "svac_gateway"
LIFE = 3600  # seconds a minted token lives


def wait_for(condition: Callable[[], bool], within: float = 10.0) -> None:
    """Return once `condition()` holds (checked every 10 ms); fail after `within` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


@pytest.fixture(scope="module")
def issuer() -> IdentityIssuer:
    """The test OIDC issuer the simulator trusts."""
    return IdentityIssuer()


@contextlib.contextmanager
def federated(
    issuer: IdentityIssuer, token_file: Path, *more: dict[str, Any]
) -> Iterator[tuple[SimServer, GatewayThread, FastClock]]:
    """A federation-aware simulator and a gateway whose first upstream holds only the federation credential."""
    fed = issuer.federation(rule_id=RULE, service_account_id=ACCOUNT, expires_in=LIFE)
    table = {
        "identity_token_file": str(token_file),
        "federation_rule_id": RULE,
        "organization_id": ORG,
        "service_account_id": ACCOUNT,
    }
    clock = FastClock()
    with run_sim(seed=0, federation=fed) as sim:
        primary = {"name": "primary", "url": sim.base_url, "keys": ["federation:"], "federation": table}
        specs = upstreams_from_list([primary, *more])
        config = GatewayConfig(upstreams=specs, port=0, policy=ROOMY, access_log=None)
        with GatewayThread(config, clock=clock) as gw:
            yield sim, gw, clock


def sent_token(sim: SimServer) -> str:
    """The bearer token on the simulator's most recent /v1/messages request."""
    last = [r for r in sim.requests if r.path == "/v1/messages"][-1]
    auth = last.headers["authorization"]
    assert auth.startswith("Bearer ") and "oauth-2025-04-20" in last.headers["anthropic-beta"]
    return auth[7:]


def ask(gw: GatewayThread) -> str:
    client = anthropic.Anthropic(base_url=gw.base_url, api_key=SIM_KEY, max_retries=0)
    return client.messages.create(model=SIM_MODEL, max_tokens=8, messages=HELLO).content[0].text  # type: ignore[union-attr]


def test_tokens_are_exchanged_cached_refreshed_ahead_and_follow_the_rotated_file(
    issuer: IdentityIssuer, tmp_path: Path
) -> None:
    """One exchange serves many calls; near expiry a refresh reads the rewritten token file; past expiry a call
    waits for a fresh exchange. The client never sees a failure."""
    token_file = tmp_path / "token"
    token_file.write_text(issuer.mint(subject="pod-1"))
    with federated(issuer, token_file) as (sim, gw, clock):
        exchanges = sim.app.exchanges  # type: ignore[attr-defined]
        assert ask(gw) and ask(gw)
        first = sent_token(sim)
        assert [e["sub"] for e in exchanges] == ["pod-1"]  # cached: one exchange for two calls
        token_file.write_text(issuer.mint(subject="pod-2"))  # the kubelet rotates the projected token
        assert ask(gw) and sent_token(sim) == first  # still cached: the file is read at the next exchange

        clock.sleep(LIFE - 60)  # a minute left: refresh ahead, in the background
        assert ask(gw)
        wait_for(lambda: len(exchanges) == 2)
        wait_for(lambda: ask(gw) != "" and sent_token(sim) != first)
        assert exchanges[1]["sub"] == "pod-2" and exchanges[1]["status"] == 200

        second = sent_token(sim)
        clock.sleep(LIFE + 1)  # past expiry: the next call waits for its exchange
        assert ask(gw)
        assert len(exchanges) == 3 and sent_token(sim) not in (first, second)
        statuses = sim.stats.snapshot()["by_status"]
    assert statuses == {200: statuses[200]}


def test_a_refused_exchange_takes_the_credential_out_and_fails_over(
    issuer: IdentityIssuer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An identity token the issuer did not sign: the exchange is refused, the federation credential goes out like
    a revoked key (/readyz says so), the backup upstream serves, and no token reaches a log line."""
    token_file = tmp_path / "token"
    token_file.write_text(issuer.mint(subject="pod-1"))
    caplog.set_level(logging.DEBUG)
    with (
        run_sim(seed=0, api_keys=("sk-ant-backup-0001",)) as backup,
        federated(
            issuer,
            token_file,
            {"name": "backup", "url": backup.base_url, "keys": ["sk-ant-backup-0001"], "priority": 1},
        ) as (sim, gw, clock),
    ):
        assert ask(gw)
        minted = sent_token(sim)
        forged = IdentityIssuer(kid=issuer.kid).mint(subject="pod-1")
        token_file.write_text(forged)
        clock.sleep(LIFE + 1)
        assert ask(gw)  # served by the backup
        ready = json.loads(httpx2.get(gw.base_url + "/readyz", timeout=10).content)
        exchanges = list(sim.app.exchanges)  # type: ignore[attr-defined]
        backup_served = backup.stats.snapshot()["by_status"]
    assert [e["status"] for e in exchanges] == [200, 401] and exchanges[1]["error"] == "invalid_grant"
    assert backup_served == {200: 1}
    (primary,) = [u for u in ready["upstreams"] if u["name"] == "primary"]
    assert primary["keys"][0]["state"] == "out" and not primary["usable"]
    for secret in (minted, forged, token_file.read_text()):
        assert secret not in caplog.text


def test_a_refused_exchange_reaches_a_lone_upstreams_client_as_an_authentication_error(
    issuer: IdentityIssuer, tmp_path: Path
) -> None:
    """With no other upstream, the client gets the gateway's 401 naming the refused federation exchange."""
    token_file = tmp_path / "token"
    token_file.write_text(IdentityIssuer().mint())
    with federated(issuer, token_file) as (_, gw, _clock), pytest.raises(anthropic.AuthenticationError) as info:
        ask(gw)
    message = info.value.body["error"]["message"]  # type: ignore[index]
    assert message.startswith("claudewire gateway:") and "federation exchange was refused" in message
