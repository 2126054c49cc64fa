"""Workload identity federation offline: the token cache's refresh rules on an injected clock, the exchange's answers,
the kind's headers, and the configuration."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from claudewire.gateway.upstream.federation import (
    ExchangeFailed,
    ExchangeRefused,
    FederatedToken,
    FederationSpec,
    Minted,
    parse_token_answer,
    placeholder,
    read_identity_token,
    token_request,
)
from claudewire.gateway.upstream.kinds import build_kind
from claudewire.gateway.upstream.kinds.base import Refusal, UpstreamCall
from claudewire.gateway.upstream.kinds.federation import FederationKind
from claudewire.gateway.upstream.pool import Upstream
from claudewire.gateway.upstream.specs import UpstreamConfigError, upstreams_from_list
from claudewire.gateway.wire import first_header as header_value

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"


class Exchanges:
    """A scripted token endpoint: each call mints tok-N living `life` seconds, or raises what `fail` holds; it
    waits for `gate` (open unless a test closes it)."""

    def __init__(self, life: float = 600.0) -> None:
        self.life = life
        self.calls = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail: Exception | None = None

    async def __call__(self) -> Minted:
        self.calls += 1
        await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return Minted(f"tok-{self.calls}", self.life)


class Now:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def cache() -> tuple[FederatedToken, Exchanges, Now]:
    exchanges, now = Exchanges(), Now()
    return FederatedToken(exchanges, now, "primary"), exchanges, now


def test_a_token_is_exchanged_once_and_cached_until_its_refresh_time() -> None:
    """The first request exchanges; later ones reuse the token until the last two minutes of its life."""

    async def scenario() -> None:
        tokens, exchanges, now = cache()
        assert await tokens.get() == "tok-1"
        now.t += 600 - 121
        assert await tokens.get() == "tok-1" and exchanges.calls == 1

    asyncio.run(scenario())


def test_refresh_ahead_never_stalls_a_request_and_runs_once() -> None:
    """In the advisory window, concurrent requests get the current token at once while one exchange runs."""

    async def scenario() -> None:
        tokens, exchanges, now = cache()
        await tokens.get()
        now.t += 600 - 100  # 100 s left: past refresh_at, before the last 30 s
        exchanges.gate.clear()  # the exchange hangs until released
        got = await asyncio.wait_for(asyncio.gather(*(tokens.get() for _ in range(5))), 5)
        assert got == ["tok-1"] * 5 and exchanges.calls == 2  # answered while the one refresh is pending
        exchanges.gate.set()
        for _ in range(100):  # let the background task finish (bounded)
            if await tokens.get() == "tok-2":
                break
            await asyncio.sleep(0)
        assert await tokens.get() == "tok-2" and exchanges.calls == 2

    asyncio.run(scenario())


def test_near_expiry_requests_wait_for_one_shared_exchange() -> None:
    """In the last 30 s (or with no token) every request waits, and they all share one exchange."""

    async def scenario() -> None:
        tokens, exchanges, now = cache()
        await tokens.get()
        now.t += 600 - 10
        got = await asyncio.wait_for(asyncio.gather(*(tokens.get() for _ in range(5))), 5)
        assert got == ["tok-2"] * 5 and exchanges.calls == 2

    asyncio.run(scenario())


def test_a_failed_background_refresh_keeps_the_token_and_backs_off() -> None:
    """A refresh that fails leaves the valid token in use; the next try waits 5 s instead of one per request."""

    async def scenario() -> None:
        tokens, exchanges, now = cache()
        await tokens.get()
        now.t += 600 - 100
        exchanges.fail = ExchangeFailed("the token endpoint could not be reached: ConnectionRefusedError")
        assert await tokens.get() == "tok-1"
        for _ in range(10):
            await asyncio.sleep(0)
        assert await tokens.get() == "tok-1" and tokens.exchanges == 2  # quiet: no second try yet
        now.t += 6
        exchanges.fail = None
        await tokens.get()
        assert tokens.exchanges == 3  # started now (it runs in the background)

    asyncio.run(scenario())


def test_refusal_and_failure_without_a_valid_token_raise() -> None:
    """With no usable token, a refusal raises ExchangeRefused and an unreachable endpoint ExchangeFailed; a token
    the upstream rejected is not sent again."""

    async def scenario() -> None:
        tokens, exchanges, now = cache()
        exchanges.fail = ExchangeRefused(401, "invalid_grant", "signature does not verify")
        with pytest.raises(ExchangeRefused):
            await tokens.get()
        now.t += 10
        exchanges.fail = ExchangeFailed("unreachable")
        with pytest.raises(ExchangeFailed):
            await tokens.get()
        now.t += 10
        exchanges.fail = None
        token = await tokens.get()
        tokens.rejected(token)
        assert await tokens.get() != token

    asyncio.run(scenario())


def test_token_answers_are_parsed_bounded_and_scrubbed() -> None:
    """A good answer mints; 400/401/403 refuse with OAuth's fields (the assertion scrubbed); others fail."""
    minted = parse_token_answer(200, b'{"access_token":"sk-ant-oat01-x","token_type":"Bearer","expires_in":600}', JWT)
    assert minted == Minted("sk-ant-oat01-x", 600.0) and "sk-ant" not in repr(minted)
    echo = json.dumps({"error": "invalid_grant", "error_description": f"bad assertion {JWT}"}).encode()
    with pytest.raises(ExchangeRefused) as refused:
        parse_token_answer(401, echo, JWT)
    assert JWT not in str(refused.value) and "<identity token>" in str(refused.value)
    with pytest.raises(ExchangeFailed, match="503"):
        parse_token_answer(503, b"{}", JWT)
    with pytest.raises(ExchangeFailed, match="not a Bearer"):
        parse_token_answer(200, b'{"access_token":"t","token_type":"mac","expires_in":60}', JWT)
    with pytest.raises(ExchangeFailed, match="expires_in"):
        parse_token_answer(200, b'{"access_token":"t","expires_in":0}', JWT)
    with pytest.raises(ExchangeFailed, match="bytes"):
        parse_token_answer(200, b" " * ((1 << 20) + 1), JWT)


def test_identity_token_file_is_read_and_checked(tmp_path: Path) -> None:
    """The file is read as is (stripped); an empty one or one that is not a JWT fails the exchange, saying why."""
    token = tmp_path / "token"
    token.write_text(JWT + "\n")
    assert read_identity_token(str(token)) == JWT
    token.write_text("-----BEGIN CERTIFICATE-----")
    with pytest.raises(ExchangeFailed, match="does not hold a JWT"):
        read_identity_token(str(token))
    with pytest.raises(ExchangeFailed, match="cannot read"):
        read_identity_token(str(tmp_path / "missing"))


def spec(tmp_path: Path) -> FederationSpec:
    token = tmp_path / "token"
    token.write_text(JWT)
    return FederationSpec(str(token), "fdrl_1", "org-1", "svac_1", workspace_id="default")


def test_exchange_request_is_the_jwt_bearer_grant(tmp_path: Path) -> None:
    """The exchange body carries the grant, the assertion and the ids; both betas go on it; the scope does not."""
    headers, body = token_request(spec(tmp_path), JWT)
    sent = json.loads(body)
    assert sent["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer" and sent["assertion"] == JWT
    assert (sent["federation_rule_id"], sent["service_account_id"], sent["workspace_id"]) == (
        "fdrl_1",
        "svac_1",
        "default",
    )
    assert header_value(headers, b"anthropic-beta") == b"oauth-2025-04-20,oidc-federation-2026-04-01"


def test_kind_swaps_the_placeholder_for_a_bearer_and_leaves_other_keys(tmp_path: Path) -> None:
    """The placeholder's attempt gets Bearer + the oauth beta (merged); a literal key's attempt passes unchanged;
    a refused exchange is a 401 and an unreachable one a 503, neither naming a token."""

    async def scenario() -> None:
        kind = FederationKind("primary", Upstream("http://127.0.0.1:9"), spec(tmp_path), clock=Now())
        exchanges = Exchanges()
        kind.tokens = FederatedToken(exchanges, Now(), "primary")
        headers = [(b"anthropic-beta", b"files-api-2025-04-14")]
        call = await kind.request(b"POST", b"/v1/messages", headers, b"{}", "federation:primary")
        assert isinstance(call, UpstreamCall)
        assert header_value(call.headers, b"authorization") == b"Bearer tok-1"
        assert header_value(call.headers, b"x-api-key") is None
        assert header_value(call.headers, b"anthropic-beta") == b"files-api-2025-04-14,oauth-2025-04-20"
        passed = await kind.request(b"POST", b"/v1/messages", headers, b"{}", "sk-ant-literal")
        assert isinstance(passed, UpstreamCall) and header_value(passed.headers, b"x-api-key") == b"sk-ant-literal"
        assert header_value(passed.headers, b"authorization") is None
        kind.tokens = FederatedToken(exchanges, Now(), "primary")
        exchanges.fail = ExchangeRefused(401, "invalid_grant", "rule mismatch")
        refused = await kind.request(b"POST", b"/v1/messages", headers, b"{}", "federation:primary")
        assert isinstance(refused, Refusal) and (refused.status, refused.error_type) == (401, "authentication_error")
        assert "was refused" in refused.message and "tok-" not in refused.message
        kind.tokens = FederatedToken(exchanges, Now(), "primary")
        exchanges.fail = ExchangeFailed("the token endpoint could not be reached: ConnectionRefusedError")
        failed = await kind.request(b"POST", b"/v1/messages", headers, b"{}", "federation:primary")
        assert isinstance(failed, Refusal) and failed.status == 503

    asyncio.run(scenario())


def test_unreachable_token_endpoint_is_an_exchange_failure(tmp_path: Path) -> None:
    """Nothing listening at the upstream: the kind answers 503 naming the transport error, never hanging."""

    async def scenario() -> None:
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        kind = FederationKind("primary", Upstream(f"http://127.0.0.1:{port}"), spec(tmp_path), clock=Now())
        refusal = await asyncio.wait_for(kind.request(b"POST", b"/v1/messages", [], b"{}", "federation:primary"), 30)
        assert isinstance(refusal, Refusal) and refusal.status == 503 and "could not be reached" in refusal.message

    asyncio.run(scenario())


def test_configuration_forms_and_their_errors(tmp_path: Path) -> None:
    """keys "federation:" + table, "federation:env", or a table alone; anything incomplete is refused by field."""
    token = tmp_path / "token"
    token.write_text(JWT)
    table = {
        "identity_token_file": str(token),
        "federation_rule_id": "fdrl_1",
        "organization_id": "org",
        "service_account_id": "svac_1",
    }
    url = "http://127.0.0.1:1"
    (first,) = upstreams_from_list(
        [{"name": "p", "url": url, "keys": ["sk-ant-k", "federation:"], "federation": table}]
    )
    assert first.keys == ("sk-ant-k", placeholder("p")) and first.options["federation"].federation_rule_id == "fdrl_1"
    assert isinstance(build_kind(first, Upstream(url)), FederationKind)
    (alone,) = upstreams_from_list([{"name": "p", "url": url, "federation": table}])
    assert alone.keys == (placeholder("p"),)
    env = {
        "ANTHROPIC_IDENTITY_TOKEN_FILE": str(token),
        "ANTHROPIC_FEDERATION_RULE_ID": "fdrl_env",
        "ANTHROPIC_ORGANIZATION_ID": "org",
        "ANTHROPIC_SERVICE_ACCOUNT_ID": "svac_env",
    }
    (from_env,) = upstreams_from_list([{"name": "p", "url": url, "keys": ["federation:env"]}], env=env)
    assert from_env.options["federation"].federation_rule_id == "fdrl_env"
    with pytest.raises(UpstreamConfigError, match="ANTHROPIC_SERVICE_ACCOUNT_ID"):
        upstreams_from_list([{"name": "p", "url": url, "keys": ["federation:env"]}], env={})
    with pytest.raises(UpstreamConfigError, match="anthropic upstreams only"):
        upstreams_from_list([{"name": "b", "kind": "bedrock", "url": url, "keys": ["federation:env"]}], env=env)
    with pytest.raises(UpstreamConfigError, match="service_account_id"):
        upstreams_from_list([{"name": "p", "url": url, "federation": {**table, "service_account_id": ""}}])
    with pytest.raises(UpstreamConfigError, match="does not exist"):
        upstreams_from_list([{"name": "p", "url": url, "federation": {**table, "identity_token_file": "/nope"}}])
    with pytest.raises(UpstreamConfigError, match="unknown federation field"):
        upstreams_from_list([{"name": "p", "url": url, "federation": {**table, "audience": "x"}}])
