"""The API's own rules: keys, versions, headers on every answer, error shapes, rate-limit accounting, validation."""

from __future__ import annotations

import re

import anthropic
import httpx2
import pytest

from claudewire.sim import RateLimits, SimServer
from claudewire.testing import run_sim
from tests.conftest import SIM_KEY, SIM_MODEL

HELLO = [{"role": "user", "content": "Hello"}]
BODY = {"model": SIM_MODEL, "max_tokens": 16, "messages": HELLO}
HEADERS = {"x-api-key": SIM_KEY, "anthropic-version": "2023-06-01"}
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def post(sim: SimServer, headers: dict[str, str], body: object = BODY, path: str = "/v1/messages") -> httpx2.Response:
    return httpx2.post(sim.base_url + path, headers=headers, json=body)


def assert_error(answer: httpx2.Response, status: int, error_type: str, fragment: str = "") -> None:
    body = answer.json()
    assert answer.status_code == status
    assert body == {"type": "error", "error": {"type": error_type, "message": body["error"]["message"]},
                    "request_id": answer.headers["request-id"]}  # fmt: skip
    assert fragment in body["error"]["message"]


def test_both_key_headers_are_accepted(sim: SimServer) -> None:
    """x-api-key and Authorization: Bearer both authenticate; no key at all is 401 authentication_error."""
    assert post(sim, HEADERS).status_code == 200
    bearer = {"authorization": f"Bearer {SIM_KEY}", "anthropic-version": "2023-06-01"}
    assert post(sim, bearer).status_code == 200
    assert_error(post(sim, {"anthropic-version": "2023-06-01"}), 401, "authentication_error", "x-api-key")


@pytest.mark.parametrize(
    ("version", "fragment"),
    [(None, "header is required"), ("2023-01-01", "is deprecated"), ("1999-01-01", "is not a valid version")],
)
def test_anthropic_version_is_required_and_validated(sim: SimServer, version: str | None, fragment: str) -> None:
    """A missing, deprecated or unknown anthropic-version is a 400 invalid_request_error naming the problem."""
    headers = {"x-api-key": SIM_KEY} | ({"anthropic-version": version} if version else {})
    assert_error(post(sim, headers), 400, "invalid_request_error", fragment)


def test_both_served_versions_and_betas_are_accepted(sim: SimServer) -> None:
    """2023-06-01 and 2026-10-21 are served; an anthropic-beta header is accepted and reaches the request log."""
    for version in ("2023-06-01", "2026-10-21"):
        headers = {"x-api-key": SIM_KEY, "anthropic-version": version, "anthropic-beta": "some-beta-2025-01-01"}
        assert post(sim, headers).status_code == 200
    assert sim.requests[-1].headers["anthropic-beta"] == "some-beta-2025-01-01"


def test_every_answer_has_request_id_and_rate_limit_headers(sim: SimServer) -> None:
    """Success and error answers alike carry request-id, Date and anthropic-ratelimit-* (RFC 3339 resets)."""
    ok = post(sim, HEADERS)
    sim.set_faults(["529"])
    failed = post(sim, HEADERS)
    sim.set_faults([])
    invalid = post(sim, HEADERS, {"model": SIM_MODEL})
    for answer in (ok, failed, invalid):
        assert answer.headers["request-id"].startswith("req_")
        assert answer.headers["date"]
        assert answer.headers["anthropic-ratelimit-tokens-remaining"]
    assert ok.headers["request-id"] != failed.headers["request-id"]
    assert int(ok.headers["anthropic-ratelimit-requests-limit"]) == 4000
    assert int(ok.headers["anthropic-ratelimit-requests-remaining"]) == 3999
    assert int(ok.headers["anthropic-ratelimit-tokens-limit"]) == 400_000
    assert RFC3339.match(ok.headers["anthropic-ratelimit-requests-reset"])
    assert RFC3339.match(ok.headers["anthropic-ratelimit-tokens-reset"])
    models = httpx2.get(sim.base_url + "/v1/models", headers=HEADERS)
    assert "anthropic-ratelimit-requests-remaining" in models.headers


def test_requests_per_minute_are_enforced_with_retry_after() -> None:
    """With 2 requests/minute the third is a 429 rate_limit_error with retry-after; remaining counts down."""
    with run_sim(rate_limits=RateLimits(requests_per_minute=2)) as sim:
        remaining = [post(sim, HEADERS).headers["anthropic-ratelimit-requests-remaining"] for _ in range(2)]
        assert remaining == ["1", "0"]
        c = anthropic.Anthropic(base_url=sim.base_url, api_key=SIM_KEY, max_retries=0)
        with pytest.raises(anthropic.RateLimitError) as info:
            c.messages.create(**BODY)  # type: ignore[arg-type]
        assert 1 <= int(info.value.response.headers["retry-after"]) <= 30
        other = anthropic.Anthropic(base_url=sim.base_url, api_key="sk-ant-other-key-000000", max_retries=0)
        assert other.messages.create(**BODY).content  # type: ignore[arg-type]  # buckets are per key


def test_tokens_per_minute_are_enforced() -> None:
    """A request whose input and output tokens exceed what is left of the token bucket gets a 429."""
    with run_sim(rate_limits=RateLimits(tokens_per_minute=40)) as sim:
        first = post(sim, HEADERS)
        assert first.status_code == 200
        assert int(first.headers["anthropic-ratelimit-tokens-remaining"]) < 40
        second = post(sim, HEADERS)
        assert_error(second, 429, "rate_limit_error", "tokens per minute")
        assert int(second.headers["retry-after"]) >= 1


def test_malformed_requests(sim: SimServer) -> None:
    """Bad JSON, missing fields, an unknown path: each answered in the API's error shape."""
    bad_json = httpx2.post(sim.base_url + "/v1/messages", headers=HEADERS, content=b"{nope")
    assert_error(bad_json, 400, "invalid_request_error", "not valid JSON")
    assert_error(post(sim, HEADERS, {"model": SIM_MODEL, "messages": HELLO}), 400, "invalid_request_error",
                 "max_tokens: Field required")  # fmt: skip
    assert_error(post(sim, HEADERS, {"max_tokens": 5, "messages": HELLO}), 400, "invalid_request_error", "model")
    assert_error(post(sim, HEADERS, {"model": SIM_MODEL}, "/v1/messages/count_tokens"), 400, "invalid_request_error",
                 "messages: Field required")  # fmt: skip
    assert_error(httpx2.get(sim.base_url + "/v2/nothing", headers=HEADERS), 404, "not_found_error")


def test_models_pagination(sim: SimServer) -> None:
    """GET /v1/models pages with limit/after_id/before_id and reports first_id, last_id, has_more."""
    first = httpx2.get(sim.base_url + "/v1/models", headers=HEADERS, params={"limit": 2}).json()
    assert len(first["data"]) == 2 and first["has_more"] is True
    assert first["first_id"] == first["data"][0]["id"] and first["last_id"] == first["data"][1]["id"]
    after = httpx2.get(sim.base_url + "/v1/models", headers=HEADERS, params={"after_id": first["last_id"]}).json()
    assert after["data"][0]["id"] not in {m["id"] for m in first["data"]}
    before = httpx2.get(sim.base_url + "/v1/models", headers=HEADERS, params={"before_id": after["first_id"]}).json()
    assert [m["id"] for m in before["data"]] == [m["id"] for m in first["data"]]
    for model in first["data"]:
        assert {"lifecycle", "deprecated_at", "retires_at", "max_input_tokens", "max_tokens"} <= set(model)


def test_oversized_body_is_request_too_large(sim: SimServer) -> None:
    """A body over 32 MB is answered 413 request_too_large in the API's error shape."""
    answer = httpx2.post(sim.base_url + "/v1/messages", headers=HEADERS, content=b"x" * (32 * 1024 * 1024 + 1))
    assert_error(answer, 413, "request_too_large")
