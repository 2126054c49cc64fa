"""The simulator's token endpoint (workload identity federation) against the official SDK's own exchange client."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx2
import pytest
from anthropic.lib.credentials import IdentityTokenFile, WorkloadIdentityCredentials, WorkloadIdentityError
from click.testing import CliRunner

from claudewire.cli.sim import sim as sim_command
from claudewire.sim import SimServer
from claudewire.sim.federation import GRANT_TYPE, IdentityIssuer, SimFederation, exchange, verify_jwt
from claudewire.testing import run_sim
from tests.conftest import SIM_MODEL

HELLO = [{"role": "user", "content": "Hello"}]
RULE, ORG, ACCOUNT = "fdrl_sim", "00000000-0000-4000-8000-000000000001", "svac_sim"


@pytest.fixture(scope="module")
def issuer() -> IdentityIssuer:
    """One test issuer (RSA key made once for the module)."""
    return IdentityIssuer()


@pytest.fixture
def federated(issuer: IdentityIssuer) -> Iterator[SimServer]:
    """An anthropic-mode simulator trusting `issuer`, with one rule, and minted tokens living 60 s."""
    fed = issuer.federation(rule_id=RULE, expires_in=60, audience="https://api.anthropic.com")
    with run_sim(seed=0, federation=fed) as server:
        yield server


def credentials(sim: SimServer, token_file: Path) -> WorkloadIdentityCredentials:
    creds = WorkloadIdentityCredentials(
        identity_token_provider=IdentityTokenFile(str(token_file)),
        federation_rule_id=RULE,
        organization_id=ORG,
        service_account_id=ACCOUNT,
    )
    creds.bind_base_url(sim.base_url)  # the exchange goes to the simulator, never to the real API
    return creds


def test_sdk_exchanges_an_identity_token_and_calls_with_the_minted_token(
    federated: SimServer, issuer: IdentityIssuer, tmp_path: Path
) -> None:
    """The SDK's WorkloadIdentityCredentials exchange at /v1/oauth/token; its bearer token is accepted on messages."""
    token_file = tmp_path / "token"
    token_file.write_text(issuer.mint(subject="system:serviceaccount:ns:app"))
    client = anthropic.Anthropic(base_url=federated.base_url, credentials=credentials(federated, token_file))
    message = client.messages.create(model=SIM_MODEL, max_tokens=8, messages=HELLO)
    assert message.content
    sent = federated.requests[-1].headers
    assert sent["authorization"].startswith("Bearer sk-ant-oat01-sim") and "oauth-2025-04-20" in sent["anthropic-beta"]
    (seen,) = federated.app.exchanges  # type: ignore[attr-defined]
    assert seen["status"] == 200 and seen["sub"] == "system:serviceaccount:ns:app"


def test_untrusted_expired_or_misdirected_tokens_are_invalid_grant(
    federated: SimServer, issuer: IdentityIssuer, tmp_path: Path
) -> None:
    """Another issuer's key, an expired JWT or another rule: 401 invalid_grant, raised as the SDK's own error."""
    token_file = tmp_path / "token"
    cases = [
        (IdentityIssuer(kid=issuer.kid).mint(), "signature does not verify"),
        (IdentityIssuer().mint(), "no trusted key"),
        (issuer.mint(now=time.time() - 7200, ttl=60), "expired"),
        (issuer.mint(audience="https://elsewhere.example"), "audience"),
    ]
    for token, why in cases:
        token_file.write_text(token)
        with pytest.raises(WorkloadIdentityError, match=why) as info:
            credentials(federated, token_file)()
        assert info.value.status_code == 401
    body = {"grant_type": GRANT_TYPE, "assertion": issuer.mint(), "federation_rule_id": "fdrl_other"}
    answer = httpx2.post(
        federated.base_url + "/v1/oauth/token",
        json={**body, "organization_id": ORG, "service_account_id": ACCOUNT},
        timeout=10,
    )
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_grant"


def test_malformed_exchanges_are_oauth_400s(issuer: IdentityIssuer) -> None:
    """A wrong grant type or a missing field is a 400 with RFC 6749's error fields."""
    fed = issuer.federation()
    assert exchange({"grant_type": "password"}, fed, time.time()).body["error"] == "unsupported_grant_type"
    missing = exchange({"grant_type": GRANT_TYPE, "assertion": issuer.mint()}, fed, time.time())
    assert missing.status == 400 and missing.body == {
        "error": "invalid_request",
        "error_description": "federation_rule_id is required",
    }


def test_minted_tokens_expire_and_need_the_oauth_beta(federated: SimServer, issuer: IdentityIssuer) -> None:
    """A minted token past its life is 401 "OAuth token has expired"; without the oauth beta it is not accepted."""
    body = {
        "grant_type": GRANT_TYPE,
        "assertion": issuer.mint(),
        "federation_rule_id": RULE,
        "organization_id": ORG,
        "service_account_id": ACCOUNT,
    }
    minted = httpx2.post(federated.base_url + "/v1/oauth/token", json=body, timeout=10).json()
    assert minted["token_type"] == "Bearer" and minted["expires_in"] == 60
    token = minted["access_token"]
    client = anthropic.Anthropic(base_url=federated.base_url, auth_token=token, max_retries=0)
    with pytest.raises(anthropic.AuthenticationError, match="OAuth authentication is currently not supported"):
        client.messages.create(model=SIM_MODEL, max_tokens=8, messages=HELLO)
    beta = {"anthropic-beta": "oauth-2025-04-20"}
    assert client.messages.create(model=SIM_MODEL, max_tokens=8, messages=HELLO, extra_headers=beta).content
    federated.app.minted[token] = time.time() - 1  # type: ignore[attr-defined]  # its life is over
    with pytest.raises(anthropic.AuthenticationError, match="OAuth token has expired"):
        client.messages.create(model=SIM_MODEL, max_tokens=8, messages=HELLO, extra_headers=beta)


def test_jwt_checks_name_what_failed(issuer: IdentityIssuer) -> None:
    """verify_jwt checks issuer, subject-independent times and the signature, naming the failing claim."""
    fed = SimFederation(jwks=issuer.jwks, issuer="https://someone-else.example")
    with pytest.raises(ValueError, match="issuer"):
        verify_jwt(issuer.mint(), fed, time.time())
    with pytest.raises(ValueError, match="not valid yet"):
        verify_jwt(issuer.mint(nbf=int(time.time()) + 3600), issuer.federation(), time.time())
    assert verify_jwt(issuer.mint(subject="s"), issuer.federation(), time.time())["sub"] == "s"


def test_cli_needs_a_jwks_for_an_issuer(tmp_path: Path, issuer: IdentityIssuer) -> None:
    """--federation-issuer alone is a usage error; a JWKS that is not one is refused naming the file."""
    runner = CliRunner()
    alone = runner.invoke(sim_command, ["--federation-issuer", "https://issuer.example", "--port", "0"])
    assert alone.exit_code == 2 and "--federation-jwks" in alone.output
    bad = tmp_path / "jwks.json"
    bad.write_text(json.dumps({"keys": []}))
    refused = runner.invoke(sim_command, ["--federation-jwks", str(bad), "--port", "0"])
    assert refused.exit_code == 2 and "JWKS document" in refused.output
