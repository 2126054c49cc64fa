"""Claude Code's base-URL contract (code.claude.com/docs/en/llm-gateway-protocol) as the official SDK and a raw HTTP
client see it: /api/hello, ?beta=true, headers as sent, session affinity, errors in the upstream's words with the
capability token, count_tokens' 501 not_supported, and GET /protocol."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import pytest
from aiohttp import web

from claudewire.gateway import GatewayConfig, GatewayThread
from claudewire.gateway.upstream.specs import upstreams_from_list
from claudewire.testing import FastClock, run_sim
from tests.conftest import SIM_KEY, SIM_MODEL
from tests.gateway.conftest import ROOMY, Upstream, run_gateway

HELLO = [{"role": "user", "content": "Hello"}]
TOKEN = "cw-gateway-token-0123456789"
HELD = "sk-ant-held-upstream-key-0123456789"
MESSAGE = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "model": SIM_MODEL,
    "content": [{"type": "text", "text": "ok"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 3, "output_tokens": 1},
}
VALIDATION = "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/"


@contextlib.contextmanager
def gateway(*tables: dict[str, Any], **overrides: Any) -> Iterator[GatewayThread]:
    """A gateway on 127.0.0.1:0 with these [[upstreams]] tables."""
    overrides.setdefault("policy", ROOMY)
    config = GatewayConfig(upstreams=upstreams_from_list(list(tables)), port=0, access_log=None, **overrides)
    with GatewayThread(config, clock=FastClock()) as gw:
        yield gw


def bedrock_table(url: str, **extra: Any) -> dict[str, Any]:
    """A bedrock upstream at `url` with a Bedrock API key (no SigV4 to set up)."""
    return {"name": "bedrock", "kind": "bedrock", "url": url, "region": "us-east-1", "keys": ["bedrock-key"], **extra}


def recording(seen: list[list[tuple[bytes, bytes]]], answer: web.Response | None = None) -> Upstream:
    """A scripted upstream that keeps every request's raw header lines and answers `answer` (a Message)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append(list(request.raw_headers))
        await request.read()
        return answer if answer is not None else web.json_response(MESSAGE)

    return Upstream(handler)


def test_api_hello_is_answered_at_once_and_never_forwarded() -> None:
    """HEAD and GET /api/hello: 200 from the gateway itself, with or without a credential; the upstream sees nothing."""
    with run_sim(seed=0) as sim, run_gateway(sim.base_url, tokens=(TOKEN,), upstream_key=HELD) as gw:
        head = httpx2.head(gw.base_url + "/api/hello", timeout=5)
        get = httpx2.get(gw.base_url + "/api/hello", headers={"x-api-key": "not-a-token"}, timeout=5)
        refused = httpx2.post(gw.base_url + "/v1/messages", json={}, timeout=5)  # the API itself still needs one
        paths = [r.path for r in sim.requests]
    assert (head.status_code, head.content, head.headers["content-length"]) == (200, b"", "0")
    assert get.status_code == 200 and get.json() == {"status": "ok"}
    assert refused.status_code == 401
    assert paths == []


def test_beta_query_is_matched_by_path() -> None:
    """/v1/messages?beta=true and /v1/messages/count_tokens?beta=true (the beta SDK, Claude Code) route by path."""
    with (
        run_sim(api="bedrock", seed=0, api_keys=("bedrock-key",)) as bedrock,
        gateway(bedrock_table(bedrock.base_url)) as gw,
    ):
        client = anthropic.Anthropic(base_url=gw.base_url, api_key=SIM_KEY, max_retries=0)
        reply = client.beta.messages.create(model=SIM_MODEL, max_tokens=16, messages=HELLO)  # type: ignore[arg-type]
        counted = client.beta.messages.count_tokens(model=SIM_MODEL, messages=HELLO)  # type: ignore[arg-type]
        sent = [r.path.rsplit("/", 1)[-1] for r in bedrock.requests]
    assert reply.content and counted.input_tokens > 0
    assert sent == ["invoke", "count-tokens"]


def test_anthropic_headers_reach_an_anthropic_upstream_verbatim() -> None:
    """anthropic-beta (any value, repeated lines, odd spacing), -version and -workspace-id and the session id reach an
    anthropic upstream byte for byte, in token mode with the held key in place of the client's token."""
    sent = [
        (b"x-api-key", TOKEN.encode()),
        (b"anthropic-version", b"2023-06-01"),
        (b"anthropic-beta", b"oauth-2025-04-20, made-up-beta-2099-01-01,interleaved-thinking-2025-05-14"),
        (b"anthropic-beta", b"context-1m-2025-08-07"),
        (b"anthropic-workspace-id", b"wrkspc_01AbCdEf"),
        (b"x-claude-code-session-id", b"9b2c7c1e-5f7a-4a58-8f3e-0c1d2e3f4a5b"),
        (b"content-type", b"application/json"),
    ]
    seen: list[list[tuple[bytes, bytes]]] = []
    body = json.dumps({"model": SIM_MODEL, "max_tokens": 8, "messages": HELLO}).encode()
    with recording(seen) as up, gateway({"name": "api", "url": up.base_url, "keys": [HELD]}, tokens=(TOKEN,)) as gw:
        answer = httpx2.post(gw.base_url + "/v1/messages?beta=true", content=body, headers=sent, timeout=10)
    assert answer.status_code == 200, answer.text
    received = [(k.lower(), v) for k, v in seen[0]]
    for name in (b"anthropic-version", b"anthropic-beta", b"anthropic-workspace-id", b"x-claude-code-session-id"):
        assert [v for k, v in received if k == name] == [v for k, v in sent if k == name], name
    assert [v for k, v in received if k == b"x-api-key"] == [HELD.encode()]


def test_the_client_s_headers_also_pass_when_it_brings_its_own_key() -> None:
    """Without gateway tokens the client's own key and its anthropic-* headers go up unchanged."""
    seen: list[list[tuple[bytes, bytes]]] = []
    headers = {"x-api-key": SIM_KEY, "anthropic-version": "2023-06-01", "anthropic-beta": "any-beta-at-all-2030-01-01"}
    with recording(seen) as up, gateway({"name": "api", "url": up.base_url}) as gw:
        body = {"model": SIM_MODEL, "max_tokens": 8, "messages": HELLO}
        assert httpx2.post(gw.base_url + "/v1/messages", json=body, headers=headers, timeout=10).status_code == 200
    received = {k.lower(): v for k, v in seen[0]}
    assert received[b"anthropic-beta"] == b"any-beta-at-all-2030-01-01"
    assert received[b"x-api-key"] == SIM_KEY.encode()


def test_a_claude_code_session_keeps_to_one_upstream() -> None:
    """x-claude-code-session-id drives affinity between two equal upstreams, and reaches the one chosen verbatim."""
    with run_sim(seed=0) as a, run_sim(seed=0) as b:
        tables = ({"name": "a", "url": a.base_url, "keys": [HELD]}, {"name": "b", "url": b.base_url, "keys": [HELD]})
        with gateway(*tables, tokens=(TOKEN,)) as gw:
            session = {"x-claude-code-session-id": "sess-under-test"}
            client = anthropic.Anthropic(base_url=gw.base_url, api_key=TOKEN, max_retries=0, default_headers=session)
            for _ in range(12):
                client.messages.create(model=SIM_MODEL, max_tokens=8, messages=HELLO)  # type: ignore[arg-type]
            requests = [*a.requests, *b.requests]
            counts = sorted((a.stats.total, b.stats.total))
    assert counts == [0, 12]
    assert {r.headers.get("x-claude-code-session-id") for r in requests} == {"sess-under-test"}


def bedrock_error(message: str) -> web.Response:
    return web.json_response({"message": message}, status=400, headers={"x-amzn-ErrorType": VALIDATION})


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        (
            "Input is too long for requested model.",
            "Input is too long for requested model. (Bedrock ValidationException) capability_rejected: prompt_too_long",
        ),
        (
            "messages.1.content.0.thinking: Invalid `signature` in `thinking` block",
            "messages.1.content.0.thinking: Invalid `signature` in `thinking` block (Bedrock ValidationException)"
            " capability_rejected: thinking_signature",
        ),
        ("Input is too long.", "Input is too long."),
        (
            "Malformed input request: #: extraneous key [x]",
            "Malformed input request: #: extraneous key [x] (Bedrock ValidationException)",
        ),
    ],
)
def test_bedrock_rejections_reach_the_client_in_bedrock_s_words(said: str, expected: str) -> None:
    """What Bedrock said is the client's error.message; a capability the protocol names adds its token after it."""
    seen: list[list[tuple[bytes, bytes]]] = []
    with (
        recording(seen, bedrock_error(said)) as up,
        gateway(bedrock_table(up.base_url)) as gw,
    ):
        client = anthropic.Anthropic(base_url=gw.base_url, api_key=SIM_KEY, max_retries=0)
        with pytest.raises(anthropic.BadRequestError) as refused:
            client.messages.create(model=SIM_MODEL, max_tokens=8, messages=HELLO)  # type: ignore[arg-type]
    error = refused.value.body["error"]  # type: ignore[index]
    assert error == {"type": "invalid_request_error", "message": expected}


def test_a_count_bedrock_cannot_make_is_501_not_supported_and_opens_no_breaker() -> None:
    """Bedrock refusing count-tokens: 501 not_supported once (x-should-retry: false, no SDK retry); messages still
    flow, the breaker never opened by five of them."""
    with (
        run_sim(
            api="bedrock", seed=0, api_keys=("bedrock-key",), faults=["403:1.0,path=/v1/messages/count_tokens"]
        ) as bedrock,
        gateway(bedrock_table(bedrock.base_url)) as gw,
    ):
        client = anthropic.Anthropic(base_url=gw.base_url, api_key=SIM_KEY, max_retries=2)
        for _ in range(5):
            with pytest.raises(anthropic.APIStatusError) as refused:
                client.messages.count_tokens(model=SIM_MODEL, messages=HELLO)  # type: ignore[arg-type]
        counts = [r for r in bedrock.requests if r.path.endswith("/count-tokens")]
        reply = client.messages.create(model=SIM_MODEL, max_tokens=8, messages=HELLO)  # type: ignore[arg-type]
        ready = httpx2.get(gw.base_url + "/readyz", timeout=5).json()
    assert refused.value.status_code == 501
    assert refused.value.response.headers["x-should-retry"] == "false"
    error = refused.value.body["error"]  # type: ignore[index]
    assert error["type"] == "not_supported" and "bedrock" in error["message"]
    assert len(counts) == 5 and reply.content
    assert "open" not in json.dumps(ready)


def test_an_application_inference_profile_is_not_counted_upstream() -> None:
    """A model mapped to an application inference profile: 501 not_supported without asking Bedrock."""
    profile = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3"
    with (
        run_sim(api="bedrock", seed=0, api_keys=("bedrock-key",)) as bedrock,
        gateway(bedrock_table(bedrock.base_url, model_map={SIM_MODEL: profile})) as gw,
    ):
        answer = httpx2.post(
            gw.base_url + "/v1/messages/count_tokens?beta=true",
            json={"model": SIM_MODEL, "messages": HELLO},
            headers={"x-api-key": SIM_KEY},
            timeout=10,
        )
        asked = bedrock.stats.total
    assert answer.status_code == 501 and answer.json()["error"]["type"] == "not_supported"
    assert answer.headers["x-should-retry"] == "false"
    assert asked == 0


def test_protocol_says_what_this_gateway_implements() -> None:
    """GET /protocol: the contract's parts as JSON, from the running configuration (kinds, pings, affinity)."""
    with (
        run_sim(api="bedrock", seed=0, api_keys=("bedrock-key",)) as bedrock,
        gateway(bedrock_table(bedrock.base_url), ping_interval=7) as gw,
    ):
        answer = httpx2.get(gw.base_url + "/protocol", timeout=5)
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    summary = answer.json()
    assert summary["protocol"] == "https://code.claude.com/docs/en/llm-gateway-protocol"
    contract = summary["base_url"]
    assert {(e["method"], e["path"]) for e in contract["endpoints"]} >= {
        ("HEAD", "/api/hello"),
        ("POST", "/v1/messages"),
    }
    assert contract["pings"]["after_silence_seconds"] == 7
    assert contract["affinity_headers"] == ["x-claude-code-session-id"]
    assert "prompt_too_long" in contract["errors"]["capability_rejected"]["classes"]
    assert list(summary["upstream_kinds"]) == ["bedrock"]
