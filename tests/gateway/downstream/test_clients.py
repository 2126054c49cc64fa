"""Named gateway clients ([[clients]]): their own limits and models, 429/403 in the API's shape, metrics by name."""

from __future__ import annotations

import hashlib
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anthropic
import httpx2
import pytest

from claudewire.gateway import ConfigError, GatewayConfig
from claudewire.gateway.downstream.clients import ClientSpec
from claudewire.gateway.headers import ClientAuth
from claudewire.testing import run_sim
from tests.conftest import SIM_MODEL
from tests.gateway.conftest import run_gateway

UPSTREAM_KEY = "sk-ant-api03-upstream-secret-0000000000"
CI_TOKEN = "cw-ci-bot-token-0123456789"
MESSAGES = [{"role": "user", "content": "hello"}]


def _spec(name: str, token: str, **limits: object) -> ClientSpec:
    return ClientSpec.from_mapping({"name": name, "token": token, **limits}, {})


def _metric(text: str, name: str, **labels: str) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        m = re.match(rf"^{name}\{{(.*)\}} (\S+)$", line)
        if m and ",".join(sorted(m.group(1).split(","))) == want:
            return float(m.group(2))
    return 0.0


def test_clients_load_from_toml_by_sha256_next_to_the_tokens_file(tmp_path: Path) -> None:
    """A [[clients]] entry holding only the token's sha256 authenticates it, and the tokens file still works."""
    tokens_file = tmp_path / "tokens"
    tokens_file.write_text("cw-plain-token-000000\n")
    digest = hashlib.sha256(CI_TOKEN.encode()).hexdigest()
    config_file = tmp_path / "claudewire.toml"
    config_file.write_text(
        f'tokens_file = "{tokens_file}"\nupstream_key = "{UPSTREAM_KEY}"\n'
        f'[[clients]]\nname = "ci-bot"\ntoken_sha256 = "{digest}"\nrequests_per_minute = 30\n'
        'models = ["claude-haiku-4-5"]\n'
    )
    config = GatewayConfig.from_toml(config_file, port=0, access_log=None)
    assert config.clients[0].name == "ci-bot" and config.clients[0].limits.requests_per_minute == 30
    assert CI_TOKEN not in config_file.read_text()
    with (
        run_sim(seed=0) as sim,
        run_gateway(sim.base_url, **{k: getattr(config, k) for k in ("tokens", "upstream_key", "clients")}) as gw,
    ):
        for token in (CI_TOKEN, "cw-plain-token-000000"):
            client = anthropic.Anthropic(base_url=gw.base_url, api_key=token, max_retries=0)
            assert client.messages.create(model=SIM_MODEL, max_tokens=8, messages=MESSAGES).content
        wrong = httpx2.post(gw.base_url + "/v1/messages", json={}, headers={"x-api-key": digest})
    assert wrong.status_code == 401  # the digest itself is not a token
    assert sim.requests[-1].headers["x-api-key"] == UPSTREAM_KEY


@pytest.mark.parametrize(
    ("entry", "complaint"),
    [
        ({"name": "a", "token": "t1", "token_sha256": "0" * 64}, "exactly one of"),
        ({"name": "a", "token_sha256": "abc"}, "64 hex digits"),
        ({"name": "a b", "token": "t1"}, "metric label"),
        ({"name": "a", "token": "t1", "requests_per_minute": 0}, "requests_per_minute"),
        ({"name": "a", "token": "t1", "models": "claude-haiku-4-5"}, "list of model ids"),
        ({"name": "a", "token": "t1", "rpm": 3}, "unknown setting"),
        ({"name": "a", "token_env": "CLAUDEWIRE_TEST_UNSET_VAR"}, "unset"),
    ],
)
def test_bad_client_entries_are_config_errors_naming_the_problem(entry: dict[str, object], complaint: str) -> None:
    """A wrong [[clients]] entry is refused with a message naming what is wrong, never echoing the token."""
    with pytest.raises(ConfigError, match=complaint) as caught:
        GatewayConfig.from_mapping({"clients": [entry], "upstream_key": UPSTREAM_KEY})
    assert "t1" not in str(caught.value).replace("'t1'", "")


def test_two_clients_with_one_name_or_token_are_refused() -> None:
    """Client names and tokens are unique (a shared token could not tell whose limit it is)."""
    with pytest.raises(ConfigError, match="unique"):
        GatewayConfig(clients=(_spec("a", "t1"), _spec("a", "t2")), upstream_key=UPSTREAM_KEY)
    with pytest.raises(ConfigError, match="same token"):
        GatewayConfig(clients=(_spec("a", "t1"), _spec("b", "t1")), upstream_key=UPSTREAM_KEY)


def test_over_requests_per_minute_is_a_429_describing_the_clients_own_bucket() -> None:
    """The N+1th request in a minute gets 429 rate_limit_error, retry-after and anthropic-ratelimit-requests-*."""
    ci = _spec("ci-bot", CI_TOKEN, requests_per_minute=3)
    other = _spec("other", "cw-other-token-000000", requests_per_minute=3)
    with run_sim(seed=0) as sim, run_gateway(sim.base_url, clients=(ci, other), upstream_key=UPSTREAM_KEY) as gw:
        client = anthropic.Anthropic(base_url=gw.base_url, api_key=CI_TOKEN, max_retries=0)
        for _ in range(3):
            client.messages.create(model=SIM_MODEL, max_tokens=8, messages=MESSAGES)
        sent = sim.stats.total
        with pytest.raises(anthropic.RateLimitError) as caught:
            client.messages.create(model=SIM_MODEL, max_tokens=8, messages=MESSAGES)
        assert sim.stats.total == sent  # refused at the gateway, nothing sent upstream
        neighbour = anthropic.Anthropic(base_url=gw.base_url, api_key="cw-other-token-000000", max_retries=0)
        assert neighbour.messages.create(model=SIM_MODEL, max_tokens=8, messages=MESSAGES).content
        metrics = httpx2.get(gw.base_url + "/metrics", headers={"x-api-key": CI_TOKEN}).text
    response = caught.value.response
    assert response.status_code == 429
    assert response.json()["error"]["type"] == "rate_limit_error"
    assert "ci-bot" in caught.value.message and "requests_per_minute" in caught.value.message
    assert 55 <= int(response.headers["retry-after"]) <= 60
    assert response.headers["anthropic-ratelimit-requests-limit"] == "3"
    assert response.headers["anthropic-ratelimit-requests-remaining"] == "0"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", response.headers["anthropic-ratelimit-requests-reset"])
    assert response.headers["x-should-retry"] == "true"
    assert _metric(metrics, "claudewire_client_requests_total", client="ci-bot", outcome="admitted") == 3
    assert _metric(metrics, "claudewire_client_requests_total", client="ci-bot", outcome="rate_limited") == 1
    assert _metric(metrics, "claudewire_client_requests_total", client="other", outcome="admitted") == 1
    assert CI_TOKEN not in metrics


def test_a_model_outside_the_clients_list_is_a_403_and_is_not_sent() -> None:
    """A client limited to some models gets 403 permission_error for another, and the upstream never sees it."""
    ci = _spec("ci-bot", CI_TOKEN, models=[SIM_MODEL])
    with run_sim(seed=0) as sim, run_gateway(sim.base_url, clients=(ci,), upstream_key=UPSTREAM_KEY) as gw:
        client = anthropic.Anthropic(base_url=gw.base_url, api_key=CI_TOKEN, max_retries=0)
        assert client.messages.create(model=SIM_MODEL, max_tokens=8, messages=MESSAGES).content
        with pytest.raises(anthropic.PermissionDeniedError) as caught:
            client.messages.create(model="claude-opus-4-8", max_tokens=8, messages=MESSAGES)
        smuggled = httpx2.post(
            gw.base_url + "/v1/messages",
            content=b'{"model": "%s", "max_tokens": 8, "messages": [], "model": "claude-opus-4-8"}'
            % SIM_MODEL.encode(),
            headers={"x-api-key": CI_TOKEN, "content-type": "application/json"},
        )
        batch = httpx2.post(
            gw.base_url + "/v1/messages/batches",
            json={"requests": [{"custom_id": "a", "params": {"model": "claude-opus-4-8", "max_tokens": 8}}]},
            headers={"x-api-key": CI_TOKEN},
        )
        assert sim.stats.total == 1
    assert caught.value.status_code == 403
    assert "claude-opus-4-8" in caught.value.message and SIM_MODEL in caught.value.message
    assert smuggled.status_code == 400  # two "model" keys: ambiguous, refused
    assert batch.status_code == 403


def test_tokens_are_counted_from_usage_of_answers_and_streams() -> None:
    """A client's tokens are the answers' usage (streams too); over tokens_per_minute is a 429 on tokens."""
    ci = _spec("ci-bot", CI_TOKEN, tokens_per_minute=400)
    with run_sim(seed=0) as sim, run_gateway(sim.base_url, clients=(ci,), upstream_key=UPSTREAM_KEY) as gw:
        client = anthropic.Anthropic(base_url=gw.base_url, api_key=CI_TOKEN, max_retries=0)
        answer = client.messages.create(model=SIM_MODEL, max_tokens=64, messages=MESSAGES)
        with client.messages.stream(model=SIM_MODEL, max_tokens=64, messages=MESSAGES) as stream:
            final = stream.get_final_message()
        used = sum(m.usage.input_tokens + m.usage.output_tokens for m in (answer, final))
        metrics = httpx2.get(gw.base_url + "/metrics", headers={"x-api-key": CI_TOKEN}).text
        assert _metric(metrics, "claudewire_client_tokens_total", client="ci-bot") == used
        with pytest.raises(anthropic.RateLimitError) as caught:
            client.messages.create(model=SIM_MODEL, max_tokens=400 - used + 1, messages=MESSAGES)
    headers = caught.value.response.headers
    assert headers["anthropic-ratelimit-tokens-limit"] == "400"
    assert int(headers["anthropic-ratelimit-tokens-remaining"]) == 400 - used
    assert "tokens_per_minute" in caught.value.message


def test_concurrent_streams_cannot_overshoot_the_token_budget() -> None:
    """20 concurrent streams against a budget: reservations hold it, overshoot stays under one max_tokens."""
    max_tokens, budget = 100, 1000
    ci = _spec("ci-bot", CI_TOKEN, tokens_per_day=budget)
    with (
        run_sim(seed=0, reply_tokens=90) as sim,
        run_gateway(sim.base_url, clients=(ci,), upstream_key=UPSTREAM_KEY) as gw,
    ):
        client = anthropic.Anthropic(base_url=gw.base_url, api_key=CI_TOKEN, max_retries=0)

        def one(_: int) -> int:
            try:
                with client.messages.stream(model=SIM_MODEL, max_tokens=max_tokens, messages=MESSAGES) as stream:
                    usage = stream.get_final_message().usage
                return usage.input_tokens + usage.output_tokens
            except anthropic.RateLimitError:
                return -1

        with ThreadPoolExecutor(20) as pool:
            results = list(pool.map(one, range(20)))
        metrics = httpx2.get(gw.base_url + "/metrics", headers={"x-api-key": CI_TOKEN}).text
    used = sum(r for r in results if r > 0)
    assert results.count(-1) > 0, "the budget never refused a stream"
    assert used <= budget + max_tokens
    assert _metric(metrics, "claudewire_client_tokens_total", client="ci-bot") == used


def test_a_hundred_thousand_clients_load_and_each_token_finds_its_own_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """100,000 [[clients]] (digests, a literal and an env token) load; tokens find their client, end to end too."""
    count = 100_000
    monkeypatch.setenv("CW_LAST_CLIENT_TOKEN", "cw-bulk-token-env-000000")
    lines = [f'upstream_key = "{UPSTREAM_KEY}"\n']
    for i in range(count - 2):
        digest = hashlib.sha256(f"cw-bulk-token-{i:06d}".encode()).hexdigest()
        lines.append(f'[[clients]]\nname = "bulk-{i}"\ntoken_sha256 = "{digest}"\nrequests_per_minute = 1\n')
    lines.append('[[clients]]\nname = "literal"\ntoken = "cw-bulk-literal-token-0000"\nmodels = ["claude-haiku-4-5"]\n')
    lines.append('[[clients]]\nname = "from-env"\ntoken_env = "CW_LAST_CLIENT_TOKEN"\n')
    config_file = tmp_path / "claudewire.toml"
    config_file.write_text("".join(lines))
    config = GatewayConfig.from_toml(config_file, port=0, access_log=None)
    assert len(config.clients) == count
    auth = ClientAuth(config.tokens, ((c.name, c.token_sha256) for c in config.clients))
    for i in (0, 1, 4_999, 50_000, count - 3):
        assert auth.client(f"cw-bulk-token-{i:06d}".encode()) == f"bulk-{i}"
    assert auth.client(b"cw-bulk-literal-token-0000") == "literal"
    assert auth.client(b"cw-bulk-token-env-000000") == "from-env"
    assert auth.client(b"cw-bulk-token-100000") is None and auth.client(b"") is None
    with (
        run_sim(seed=0) as sim,
        run_gateway(sim.base_url, clients=config.clients, upstream_key=UPSTREAM_KEY) as gw,
    ):
        last = anthropic.Anthropic(base_url=gw.base_url, api_key=f"cw-bulk-token-{count - 3:06d}", max_retries=0)
        assert last.messages.create(model=SIM_MODEL, max_tokens=8, messages=MESSAGES).content
        with pytest.raises(anthropic.RateLimitError) as caught:  # its own limit (1 a minute), nobody else's
            last.messages.create(model=SIM_MODEL, max_tokens=8, messages=MESSAGES)
        assert f"bulk-{count - 3}" in caught.value.message
        stranger = httpx2.post(gw.base_url + "/v1/messages", json={}, headers={"x-api-key": "cw-bulk-token-x"})
    assert stranger.status_code == 401


def test_duplicate_names_are_named_without_listing_every_client() -> None:
    """Two clients with one name: the error names that name, not the whole list of clients."""
    clients = (*(_spec(f"c{i}", f"cw-token-{i:04d}-xxxx") for i in range(50)), _spec("c7", "cw-other-xxxx"))
    with pytest.raises(ConfigError, match=r"^client names must be unique: c7 given more than once$"):
        GatewayConfig(clients=clients, upstream_key=UPSTREAM_KEY)
