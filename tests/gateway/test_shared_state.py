"""Several `claudewire proxy` processes sharing one real Redis: limits exact across them, breakers and revoked keys
shared within a second, fail open when Redis dies."""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import math
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anthropic
import httpx2
import redis

from claudewire.testing import run_sim
from tests.conftest import SIM_MODEL
from tests.gateway.procs import GatewayProcess
from tests.redis_server import RedisServer

TOKEN = "cw-ci-bot-token-0123456789"
ENV = {"ANTHROPIC_API_KEY": "sk-ant-api03-upstream-secret-0000000000"}
BODY = {"model": SIM_MODEL, "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}


def _config(tmp_path: Path, upstream: str, state: str, timeout: float = 1.0, extra: str = "", **limits: int) -> Path:
    # exactness is promised while Redis answers within [state] timeout: this machine is loaded, so 1 s here
    path = tmp_path / "claudewire.toml"
    lines = [f'upstream = "{upstream}"'] if upstream else []
    lines += ["[state]", f'url = "{state}"', 'prefix = "test"', f"timeout = {timeout}", extra, "[[clients]]"]
    lines += ['name = "ci-bot"', f'token_sha256 = "{hashlib.sha256(TOKEN.encode()).hexdigest()}"']
    lines += [f"{k} = {v}" for k, v in limits.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


@contextlib.contextmanager
def _gateways(config: Path, *workers: int) -> Iterator[list[GatewayProcess]]:
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(GatewayProcess(config, workers=n, env=ENV)) for n in workers]


def test_30_requests_a_minute_hold_exactly_across_two_processes_and_workers(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    """A client limited to 30 rpm, load-balanced over two processes (one with --workers 2): exactly 30 pass."""
    with (
        run_sim(seed=0) as sim,
        _gateways(_config(tmp_path, sim.base_url, redis_server.url, requests_per_minute=30), 2, 1) as gws,
    ):
        assert "state: shared in redis://127.0.0.1" in gws[0].banner
        started = time.monotonic()
        targets = itertools.cycle(gw.base_url for gw in gws)

        def one(base: str) -> httpx2.Response:
            with httpx2.Client() as fresh:  # a new connection each time: both workers of the first process get some
                return fresh.post(
                    base + "/v1/messages", json=BODY, headers={"x-api-key": TOKEN, "anthropic-version": "2023-06-01"}
                )

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(one, [next(targets) for _ in range(50)]))
        elapsed = time.monotonic() - started
        upstream_calls = sim.stats.total
    statuses = [a.status_code for a in answers]
    assert statuses.count(200) == 30 and statuses.count(429) == 20
    assert upstream_calls == 30
    for refused in (a for a in answers if a.status_code == 429):
        assert refused.json()["error"]["type"] == "rate_limit_error"
        wait = int(refused.headers["retry-after"])
        assert 60 - elapsed - 1 <= wait <= 60  # until the first of the 30 leaves the minute
        assert refused.headers["anthropic-ratelimit-requests-remaining"] == "0"


def test_a_token_budget_holds_with_20_concurrent_streams_over_two_processes(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    """20 concurrent streams over two processes: reservations hold the daily budget to one max_tokens over."""
    max_tokens, budget = 100, 1000
    with run_sim(seed=0, reply_tokens=90) as sim:
        config = _config(tmp_path, sim.base_url, redis_server.url, tokens_per_day=budget)
        with _gateways(config, 1, 1) as gws:
            clients = [anthropic.Anthropic(base_url=gw.base_url, api_key=TOKEN, max_retries=0) for gw in gws]

            def one(i: int) -> int:
                try:
                    with clients[i % 2].messages.stream(
                        model=SIM_MODEL,
                        max_tokens=max_tokens,
                        messages=BODY["messages"],  # type: ignore[arg-type]
                    ) as stream:
                        usage = stream.get_final_message().usage
                    return usage.input_tokens + usage.output_tokens
                except anthropic.RateLimitError:
                    return -1

            with ThreadPoolExecutor(20) as pool:
                results = list(pool.map(one, range(20)))
            time.sleep(0.3)  # settlements are sent in the background
            direct = redis.Redis.from_url(redis_server.url)
            (day_key,) = direct.keys("test:{ci-bot}:d:*")
            counted = int(direct.get(day_key) or 0)
    used = sum(r for r in results if r > 0)
    assert results.count(-1) > 0, "the budget never refused a stream"
    assert used <= budget + max_tokens
    assert counted == used  # every reservation was replaced by the stream's real usage


def test_redis_killed_mid_load_fails_no_request_and_sharing_resumes(tmp_path: Path, redis_server: RedisServer) -> None:
    """Redis dies under load: no client request fails, backend_up drops to 0, and comes back to 1 with Redis."""
    with (
        run_sim(seed=0) as sim,
        _gateways(_config(tmp_path, sim.base_url, redis_server.url, 0.05, requests_per_minute=100_000), 1) as gws,
    ):
        gw = gws[0]
        assert gw.metric("claudewire_state_backend_up", token=TOKEN) == 1.0
        client = anthropic.Anthropic(base_url=gw.base_url, api_key=TOKEN, max_retries=0)

        def one(_: int) -> bool:
            return bool(client.messages.create(**BODY).content)  # type: ignore[call-overload]

        with ThreadPoolExecutor(4) as pool:
            before = list(pool.map(one, range(40)))
            redis_server.stop()
            during = list(pool.map(one, range(40)))
            down = gw.metric("claudewire_state_backend_up", token=TOKEN)
            local = gw.metric("claudewire_state_local_answers_total", token=TOKEN)
            redis_server.start()
            deadline = time.monotonic() + 15
            waiting = 0  # calls made after the restart, while waiting to see backend_up 1: Redis may count them too
            while gw.metric("claudewire_state_backend_up", token=TOKEN) != 1.0 and time.monotonic() < deadline:
                during.append(one(0))
                waiting += 1
                time.sleep(0.1)
            back = gw.metric("claudewire_state_backend_up", token=TOKEN)
            after = list(pool.map(one, range(10)))
        direct = redis.Redis.from_url(redis_server.url)
        counted = direct.zcard("test:{ci-bot}:r")
        err = gw.stop()
    assert all(before) and all(during) and all(after)  # an exception would have failed the test already
    assert down == 0.0 and back == 1.0
    assert local >= 40  # every call while Redis was away was admitted from local state, and counted so
    # counted in the restarted Redis again (a call over 50 ms on a busy box: locally), never the calls before it died
    assert 1 <= counted <= 10 + waiting
    # one line per outage and one per recovery (this busy machine may add short 'slow' outages of its own)
    assert (
        err.count("is back:") >= 1
        and err.count("unreachable") - err.count("is back:") in (0, 1)
        and "sk-ant-api03-upstream" not in err
    )


def test_workers_without_shared_state_say_so_at_start(tmp_path: Path) -> None:
    """`--workers 2` with no --state warns at start that each worker keeps its own limits and breakers."""
    config = tmp_path / "claudewire.toml"
    config.write_text('upstream = "http://127.0.0.1:9"\n')
    with GatewayProcess(config, workers=2) as gw:
        banner = gw.banner
    assert "each of the 2 workers keeps its own" in banner and "--state redis://" in banner


def _wait_for(check: Callable[[], bool], within: float) -> float:
    """Poll `check` until true (bounded by `within` seconds); returns the seconds it took, or inf."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        if check():
            return time.monotonic() - started
        time.sleep(0.02)
    return math.inf


def test_a_breaker_opened_by_one_process_makes_the_other_fail_fast(tmp_path: Path, redis_server: RedisServer) -> None:
    """In front of an upstream answering 503, B fails fast within 1 s of A opening its breaker, sending nothing."""
    policy = "[policy]\nmax_retries = 0\nbreaker_failures = 2\nbreaker_cooldown = 30.0\nbreaker_probe_after = 30.0"
    with run_sim(seed=0, faults=["503"]) as sim:
        config = _config(tmp_path, sim.base_url, redis_server.url, extra=policy, requests_per_minute=1000)
        with _gateways(config, 1, 1) as (a, b):
            headers = {"x-api-key": TOKEN, "anthropic-version": "2023-06-01"}
            assert [
                httpx2.post(a.base_url + "/v1/messages", json=BODY, headers=headers).status_code for _ in range(2)
            ] == [503, 503]
            opened = time.monotonic()
            took = _wait_for(lambda: httpx2.get(b.base_url + "/readyz").status_code == 503, within=5.0)
            sent = sim.stats.total
            refused = httpx2.post(b.base_url + "/v1/messages", json=BODY, headers=headers)
            after = sim.stats.total
            since = time.monotonic() - opened
    assert took < 1.0, f"B saw the open breaker after {took:.2f}s"
    assert sent == after == 2  # B never sent a request upstream
    assert refused.status_code == 529 and refused.json()["error"]["type"] == "overloaded_error"
    assert 25 <= int(refused.headers["retry-after"]) <= 30 and since < 5


def test_a_key_revoked_through_one_process_is_out_in_the_other(tmp_path: Path, redis_server: RedisServer) -> None:
    """A 401 on a held key through A takes that key out in B too: B never sends it."""
    bad, good = "sk-ant-api03-revoked-key-00000000", "sk-ant-api03-working-key-0000000"
    with run_sim(seed=0, api_keys=(good,)) as sim:
        upstreams = f'[[upstreams]]\nname = "sim"\nurl = "{sim.base_url}"\nkeys = ["{bad}", "{good}"]'
        config = _config(tmp_path, "", redis_server.url, extra="", requests_per_minute=1000)
        config.write_text(upstreams + "\n" + config.read_text())
        with _gateways(config, 1, 1) as (a, b):
            client_a = anthropic.Anthropic(base_url=a.base_url, api_key=TOKEN, max_retries=0)
            for _ in range(2):  # round robin over the two keys: one of these meets the revoked key
                assert client_a.messages.create(**BODY).content  # type: ignore[call-overload]
            assert any(r.headers.get("x-api-key") == bad for r in sim.requests)

            def out_in_b() -> bool:
                keys = httpx2.get(b.base_url + "/readyz").json()["upstreams"][0]["keys"]
                return any(k["key"] == "sim#0" and k["state"] == "out" for k in keys)

            took = _wait_for(out_in_b, within=5.0)
            seen = len(sim.requests)
            client_b = anthropic.Anthropic(base_url=b.base_url, api_key=TOKEN, max_retries=0)
            for _ in range(6):
                assert client_b.messages.create(**BODY).content  # type: ignore[call-overload]
            used_by_b = [r.headers.get("x-api-key") for r in list(sim.requests)[seen:]]
    assert took < 1.0
    assert used_by_b == [good] * 6


def test_a_gateway_started_before_its_redis_serves_at_once_and_shares_once_redis_is_up(tmp_path: Path) -> None:
    """Redis not up yet at start (pods starting together): the gateway serves from local state, then shares."""
    server = RedisServer(tmp_path)  # its port is chosen, nothing listens on it yet
    with (
        run_sim(seed=0) as sim,
        _gateways(_config(tmp_path, sim.base_url, server.url, requests_per_minute=1000), 1) as gws,
    ):
        gw = gws[0]
        client = anthropic.Anthropic(base_url=gw.base_url, api_key=TOKEN, max_retries=0)
        assert client.messages.create(**BODY).content  # type: ignore[call-overload]
        assert gw.metric("claudewire_state_backend_up", token=TOKEN) == 0.0
        with server:
            _wait_for(lambda: gw.metric("claudewire_state_backend_up", token=TOKEN) == 1.0, within=15.0)
            assert gw.metric("claudewire_state_backend_up", token=TOKEN) == 1.0
            assert client.messages.create(**BODY).content  # type: ignore[call-overload]
            counted = redis.Redis.from_url(server.url).zcard("test:{ci-bot}:r")
    assert counted == 1


def test_one_session_alternating_between_two_processes_stays_on_one_key(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    """50 requests of one session, alternating between A and B, all go to the one upstream key A chose first."""
    keys = ("sk-ant-api03-first-key-000000000000", "sk-ant-api03-second-key-00000000000")
    with run_sim(seed=0, api_keys=keys) as sim:
        upstreams = f'[[upstreams]]\nname = "sim"\nurl = "{sim.base_url}"\nkeys = ["{keys[0]}", "{keys[1]}"]'
        config = _config(tmp_path, "", redis_server.url, requests_per_minute=1000)
        config.write_text(upstreams + "\n" + config.read_text())
        with _gateways(config, 1, 1) as (a, b):
            headers = {"x-api-key": TOKEN, "anthropic-version": "2023-06-01"}
            # B serves a call of no session first: on its own, B would now choose the other key for a new session
            assert httpx2.post(b.base_url + "/v1/messages", json=BODY, headers=headers).status_code == 200
            seen = len(sim.requests)
            session = {**headers, "x-claude-code-session-id": "3f2c-session-under-test"}
            statuses = [
                httpx2.post(gw.base_url + "/v1/messages", json=BODY, headers=session).status_code
                for gw in itertools.islice(itertools.cycle((a, b)), 50)
            ]
            used = [r.headers.get("x-api-key") for r in list(sim.requests)[seen:]]
            affinity = httpx2.get(b.base_url + "/metrics", headers={"x-api-key": TOKEN}).text
    assert statuses == [200] * 50
    assert len(used) == 50 and len(set(used)) == 1, f"the session moved between keys: {used}"
    assert 'claudewire_affinity_total{outcome="hit",reason="none"} 25.0' in affinity  # B never made its own


def test_a_retry_budget_spent_through_one_process_limits_retries_in_the_other(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    """In front of an upstream answering 503, A spends the deployment's 4 retries; B then retries not once."""
    policy = (
        "[policy]\nmax_retries = 3\nbackoff_initial = 0.0\nbackoff_max = 0.0\nbreaker_failures = 1000\n"
        "[policy.retry_budget]\nratio = 0.0\nmin_retries = 4\nwindow = 3600.0"
    )
    with run_sim(seed=0, faults=["503"]) as sim:
        config = _config(tmp_path, sim.base_url, redis_server.url, extra=policy, requests_per_minute=1000)
        with _gateways(config, 1, 1) as (a, b):
            headers = {"x-api-key": TOKEN, "anthropic-version": "2023-06-01"}
            assert b.metric("claudewire_retry_budget_left", token=TOKEN) == 4.0
            for _ in range(3):  # 1 + 3 retries, 1 + the last retry, then 1 refused a retry
                assert httpx2.post(a.base_url + "/v1/messages", json=BODY, headers=headers).status_code == 503
            through_a = sim.stats.total
            took = _wait_for(lambda: b.metric("claudewire_retry_budget_left", token=TOKEN) < 1, within=10.0)
            for _ in range(3):
                assert httpx2.post(b.base_url + "/v1/messages", json=BODY, headers=headers).status_code == 503
            through_b = sim.stats.total - through_a
    assert through_a == 4 + 2 + 1
    assert took < 10.0, "B never saw the budget A spent"
    assert through_b == 3  # first attempts only: B retried none of them
