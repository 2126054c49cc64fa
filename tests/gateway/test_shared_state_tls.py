"""Shared state over TLS (`rediss://`): a real redis-server listening only for TLS, certificates from a trustme CA."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx2
import pytest
import trustme

from claudewire.gateway import ConfigError, GatewayConfig
from claudewire.testing import run_sim
from tests.gateway.procs import GatewayProcess
from tests.gateway.test_shared_state import BODY, ENV, TOKEN, _config, _gateways, _wait_for
from tests.redis_server import RedisServer


@pytest.fixture
def tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """redis-server on 127.0.0.1 speaking only TLS, its certificate issued by a fresh test CA (`.ca_file`)."""
    with RedisServer(tmp_path_factory.mktemp("redis-tls"), tls=trustme.CA()) as server:
        yield server


def test_a_breaker_is_shared_over_tls_with_the_ca_given_in_the_config(tmp_path: Path, tls_redis: RedisServer) -> None:
    """Two processes on rediss:// with [state] ca_file: B fails fast within 1 s of A opening its breaker."""
    extra = f'ca_file = "{tls_redis.ca_file}"\n[policy]\nmax_retries = 0\nbreaker_failures = 2\n'
    extra += "breaker_cooldown = 30.0\nbreaker_probe_after = 30.0"
    assert tls_redis.url.startswith("rediss://")
    with run_sim(seed=0, faults=["503"]) as sim:
        config = _config(tmp_path, sim.base_url, tls_redis.url, extra=extra, requests_per_minute=1000)
        with _gateways(config, 1, 1) as (a, b):
            assert f"state: shared in rediss://127.0.0.1:{tls_redis.port}/0 (prefix test)\n" in a.banner
            assert a.metric("claudewire_state_backend_up", token=TOKEN) == 1.0
            headers = {"x-api-key": TOKEN, "anthropic-version": "2023-06-01"}
            for _ in range(2):
                assert httpx2.post(a.base_url + "/v1/messages", json=BODY, headers=headers).status_code == 503
            took = _wait_for(lambda: httpx2.get(b.base_url + "/readyz").status_code == 503, within=5.0)
            refused = httpx2.post(b.base_url + "/v1/messages", json=BODY, headers=headers)
            sent = sim.stats.total
    assert took < 1.0, f"B saw the open breaker after {took:.2f}s"
    assert refused.status_code == 529 and sent == 2  # B never sent a request upstream


def test_a_redis_certificate_not_trusted_says_so_at_start_and_serves_from_local_state(
    tmp_path: Path, tls_redis: RedisServer
) -> None:
    """No CA given for a test CA's certificate: start-up says it is not trusted and how to fix it; requests pass."""
    with run_sim(seed=0) as sim:
        gw = GatewayProcess(_config(tmp_path, sim.base_url, tls_redis.url, requests_per_minute=1000), env=ENV)
        started = time.monotonic()
        with gw:
            took = time.monotonic() - started
            assert "not reachable now" in gw.banner
            assert gw.metric("claudewire_state_backend_up", token=TOKEN) == 0.0
            client = anthropic.Anthropic(base_url=gw.base_url, api_key=TOKEN, max_retries=0)
            assert client.messages.create(**BODY).content  # type: ignore[call-overload]
            err = gw.stop()
    assert took < 20, f"start-up took {took:.1f}s"  # bounded: it never waits for a Redis it cannot trust
    line = next(line for line in err.splitlines() if "unreachable" in line)
    assert "rediss://127.0.0.1" in line and "not trusted" in line and "[state] ca_file" in line
    assert "CERTIFICATE_VERIFY_FAILED" in line  # the real cause, not a paraphrase


def test_ssl_cert_file_trusts_the_redis_ca_too(tmp_path: Path, tls_redis: RedisServer) -> None:
    """The standard SSL_CERT_FILE variable is enough to trust the Redis server's CA."""
    with run_sim(seed=0) as sim:
        config = _config(tmp_path, sim.base_url, tls_redis.url, requests_per_minute=1000)
        with GatewayProcess(config, env={**ENV, "SSL_CERT_FILE": str(tls_redis.ca_file)}) as gw:
            up = gw.metric("claudewire_state_backend_up", token=TOKEN)
            client = anthropic.Anthropic(base_url=gw.base_url, api_key=TOKEN, max_retries=0)
            assert client.messages.create(**BODY).content  # type: ignore[call-overload]
    assert up == 1.0


@pytest.mark.parametrize(
    ("state", "problem"),
    [
        ('url = "rediss://127.0.0.1:6380/0?ssl_cert_reqs=none"', "TLS settings do not go in the state URL"),
        ('url = "rediss://127.0.0.1:6380/0"\nca_file = "/nonexistent/ca.pem"', "is not a readable file"),
        ('url = "redis://127.0.0.1:6379/0"\nca_file = "{ca}"', "is for a rediss:// (TLS) state URL"),
    ],
)
def test_tls_settings_that_cannot_work_are_refused_at_start(tmp_path: Path, state: str, problem: str) -> None:
    """No way to switch verification off through the URL; a CA file that is missing or pointless is an error."""
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    path = tmp_path / "claudewire.toml"
    path.write_text('upstream = "http://127.0.0.1:9"\n[state]\n' + state.replace("{ca}", str(ca)) + "\n")
    with pytest.raises(ConfigError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        GatewayConfig.from_toml(path)
