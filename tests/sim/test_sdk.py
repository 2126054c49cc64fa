"""The official anthropic Python SDK, sync and async, against the simulator: every call and every status fault."""

from __future__ import annotations

import asyncio

import anthropic
import pytest

from claudewire import FailureKind, classify
from claudewire.sim import SimServer
from claudewire.testing import run_sim_async
from tests.conftest import SIM_KEY, SIM_MODEL

HELLO = [{"role": "user", "content": "Hello"}]


def client(sim: SimServer, **kwargs: object) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=sim.base_url, api_key=SIM_KEY, max_retries=0, **kwargs)  # type: ignore[arg-type]


def test_create_returns_a_message_with_consistent_usage(sim: SimServer) -> None:
    """messages.create returns text, end_turn and usage whose input_tokens equals count_tokens for the same body."""
    c = client(sim)
    message = c.messages.create(model=SIM_MODEL, max_tokens=256, messages=HELLO)
    assert message.role == "assistant" and message.type == "message"
    assert message.content[0].type == "text" and message.content[0].text
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens == len(message.content[0].text.split())
    counted = c.messages.count_tokens(model=SIM_MODEL, messages=HELLO)
    assert counted.input_tokens == message.usage.input_tokens > 0


def test_max_tokens_truncates_with_stop_reason(sim: SimServer) -> None:
    """A max_tokens smaller than the reply cuts it to that many tokens with stop_reason max_tokens."""
    message = client(sim).messages.create(model=SIM_MODEL, max_tokens=3, messages=HELLO)
    assert message.stop_reason == "max_tokens"
    assert message.usage.output_tokens == 3


def test_stream_helper_assembles_text_and_final_message(sim: SimServer) -> None:
    """messages.stream yields text deltas that assemble to the final message, with stop_reason and usage."""
    c = client(sim)
    with c.messages.stream(model=SIM_MODEL, max_tokens=256, messages=HELLO) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) > 1
    assert "".join(pieces) == final.content[0].text  # type: ignore[union-attr]
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == len(pieces)
    assert final.usage.input_tokens > 0


def test_tool_use_when_tools_are_offered(sim: SimServer) -> None:
    """Offered a tool, the model calls it (tool_use block, stop_reason tool_use), streamed or not."""
    tools = [
        {
            "name": "get_weather",
            "description": "Weather for a city",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        }
    ]
    c = client(sim)
    message = c.messages.create(model=SIM_MODEL, max_tokens=256, messages=HELLO, tools=tools)  # type: ignore[arg-type]
    block = message.content[0]
    assert message.stop_reason == "tool_use"
    assert block.type == "tool_use" and block.name == "get_weather" and block.input == {"city": "example"}
    with c.messages.stream(model=SIM_MODEL, max_tokens=256, messages=HELLO, tools=tools) as stream:  # type: ignore[arg-type]
        final = stream.get_final_message()
    assert final.content[0].type == "tool_use" and final.content[0].input == {"city": "example"}


def test_models_list_and_retrieve(sim: SimServer) -> None:
    """models.list pages through the catalogue with lifecycle fields; retrieve resolves an alias."""
    c = client(sim)
    models = list(c.models.list(limit=3))
    assert len(models) >= 6
    lifecycles = {m.id: m.lifecycle for m in models}
    assert lifecycles["claude-haiku-4-5-20251001"] == "active"
    assert lifecycles["claude-sonnet-4-5-20250929"] == "retired"  # since 2026-11-30 (tests/sim/test_lifecycle.py)
    assert lifecycles["claude-3-opus-20240229"] == "retired"
    info = c.models.retrieve("claude-sonnet-4-5")
    assert info.id == "claude-sonnet-4-5-20250929"
    assert info.deprecated_at is not None and info.retires_at is not None
    assert info.max_input_tokens and info.max_tokens


def test_retired_or_unknown_model_is_not_found(sim: SimServer) -> None:
    """Inference on a retired model answers 404 not_found_error naming it (the SDK's NotFoundError)."""
    c = client(sim)
    with pytest.raises(anthropic.NotFoundError) as info:
        c.messages.create(model="claude-3-opus-20240229", max_tokens=16, messages=HELLO)
    assert "claude-3-opus-20240229" in info.value.message
    with pytest.raises(anthropic.NotFoundError):
        c.models.retrieve("claude-nonexistent")


def test_invalid_requests_are_bad_requests(sim: SimServer) -> None:
    """max_tokens above the model's limit, or no messages, is a 400 invalid_request_error."""
    c = client(sim)
    with pytest.raises(anthropic.BadRequestError, match="maximum allowed number of output tokens"):
        c.messages.create(model=SIM_MODEL, max_tokens=70_000, messages=HELLO, timeout=30)
    with pytest.raises(anthropic.BadRequestError, match="at least one message"):
        c.messages.create(model=SIM_MODEL, max_tokens=16, messages=[])


def test_restricted_keys_reject_others(sim: SimServer) -> None:
    """With api_keys set only those keys pass; another key gets 401 authentication_error (AuthenticationError)."""
    from claudewire.testing import run_sim

    with run_sim(api_keys=("sk-ant-good-0000000000",)) as restricted:
        good = anthropic.Anthropic(base_url=restricted.base_url, api_key="sk-ant-good-0000000000", max_retries=0)
        assert good.messages.create(model=SIM_MODEL, max_tokens=8, messages=HELLO).content
        bad = anthropic.Anthropic(base_url=restricted.base_url, api_key="sk-ant-bad-0000000000", max_retries=0)
        with pytest.raises(anthropic.AuthenticationError) as info:
            bad.messages.create(model=SIM_MODEL, max_tokens=8, messages=HELLO)
    assert info.value.body == {
        "type": "error",
        "error": {"type": "authentication_error", "message": "invalid x-api-key"},
        "request_id": info.value.request_id,
    }


STATUS_FAULTS = [
    ("400", anthropic.BadRequestError, "invalid_request_error", FailureKind.INVALID_REQUEST),
    ("401", anthropic.AuthenticationError, "authentication_error", FailureKind.AUTH),
    ("402", anthropic.PaymentRequiredError, "billing_error", FailureKind.BILLING),
    ("403", anthropic.PermissionDeniedError, "permission_error", FailureKind.PERMISSION),
    ("404", anthropic.NotFoundError, "not_found_error", FailureKind.NOT_FOUND),
    ("408", anthropic.RequestTimeoutError, "timeout_error", FailureKind.TIMEOUT),
    ("409", anthropic.ConflictError, "conflict_error", FailureKind.CONFLICT),
    ("413", anthropic.ContentTooLargeError, "request_too_large", FailureKind.REQUEST_TOO_LARGE),
    ("429,retry_after=3", anthropic.RateLimitError, "rate_limit_error", FailureKind.RATE_LIMIT),
    ("500", anthropic.InternalServerError, "api_error", FailureKind.SERVER),
    ("502", anthropic.InternalServerError, "api_error", FailureKind.SERVER),
    ("503", anthropic.ServiceUnavailableError, "api_error", FailureKind.SERVER),
    ("504", anthropic.GatewayTimeoutError, "timeout_error", FailureKind.TIMEOUT),
    ("529", anthropic.OverloadedError, "overloaded_error", FailureKind.OVERLOADED),
    ("spend_limit", anthropic.RateLimitError, "rate_limit_error", FailureKind.SPEND_LIMIT),
]


@pytest.mark.parametrize(
    ("spec", "error_class", "error_type", "kind"), STATUS_FAULTS, ids=[f[0] for f in STATUS_FAULTS]
)
def test_status_fault_surfaces_as_the_sdk_error_class(
    sim: SimServer, spec: str, error_class: type[anthropic.APIStatusError], error_type: str, kind: FailureKind
) -> None:
    """Each status fault raises the SDK's own class with the API error body; claudewire.classify agrees."""
    sim.set_faults([spec])
    with pytest.raises(error_class) as info:
        client(sim).messages.create(model=SIM_MODEL, max_tokens=16, messages=HELLO)
    err = info.value
    assert isinstance(err.body, dict) and err.body["error"]["type"] == error_type
    assert err.request_id and err.body["request_id"] == err.request_id
    failure = classify(err)
    assert failure is not None and failure.kind is kind
    assert sim.stats.by_fault[spec.split(",")[0].split(":")[0]] == 1


def test_rate_limit_fault_sends_retry_after_and_spend_limit_does_not(sim: SimServer) -> None:
    """429 carries the configured retry-after; the spend-cap 429 carries none and says enforced_spend_limit_reached."""
    sim.set_faults(["429,retry_after=3"])
    with pytest.raises(anthropic.RateLimitError) as limited:
        client(sim).messages.create(model=SIM_MODEL, max_tokens=16, messages=HELLO)
    assert limited.value.response.headers["retry-after"] == "3"
    sim.set_faults(["spend_limit"])
    with pytest.raises(anthropic.RateLimitError) as capped:
        client(sim).messages.create(model=SIM_MODEL, max_tokens=16, messages=HELLO)
    assert "retry-after" not in capped.value.response.headers
    assert capped.value.body["error"]["details"] == {"error_code": "enforced_spend_limit_reached"}  # type: ignore[index]
    failure = classify(capped.value)
    assert failure is not None and not failure.retryable


def test_sdk_retries_through_counted_faults(sim: SimServer) -> None:
    """With the SDK's own retries, two 529s then success: the call succeeds and the sim saw three attempts."""
    sim.set_faults(["529:1.0,count=2,retry_after=0"])
    c = anthropic.Anthropic(base_url=sim.base_url, api_key=SIM_KEY, max_retries=2)
    assert c.messages.create(model=SIM_MODEL, max_tokens=8, messages=HELLO).content
    assert sim.stats.by_path["/v1/messages"] == 3
    assert sim.stats.by_status[529] == 2 and sim.stats.by_status[200] == 1


def test_async_client_create_stream_count_models(sim: SimServer) -> None:
    """The async SDK client does create, stream, count_tokens and models.list against the threaded sim."""

    async def main() -> None:
        c = anthropic.AsyncAnthropic(base_url=sim.base_url, api_key=SIM_KEY, max_retries=0)
        message = await c.messages.create(model=SIM_MODEL, max_tokens=64, messages=HELLO)
        async with c.messages.stream(model=SIM_MODEL, max_tokens=64, messages=HELLO) as stream:
            text = "".join([t async for t in stream.text_stream])
            final = await stream.get_final_message()
        counted = await c.messages.count_tokens(model=SIM_MODEL, messages=HELLO)
        models = [m.id async for m in c.models.list()]
        assert text == message.content[0].text == final.content[0].text  # type: ignore[union-attr]
        assert final.stop_reason == "end_turn" and final.usage.output_tokens == message.usage.output_tokens
        assert counted.input_tokens == message.usage.input_tokens
        assert "claude-opus-4-6" in models
        sim.set_faults(["529"])
        with pytest.raises(anthropic.OverloadedError):
            await c.messages.create(model=SIM_MODEL, max_tokens=8, messages=HELLO)
        await c.close()

    asyncio.run(main())


def test_run_sim_async_serves_from_the_running_loop() -> None:
    """run_sim_async runs the simulator in the caller's loop for async clients, with the same handle."""

    async def main() -> None:
        async with run_sim_async(faults=["503:1.0,count=1"]) as sim:
            c = anthropic.AsyncAnthropic(base_url=sim.base_url, api_key=SIM_KEY, max_retries=0)
            with pytest.raises(anthropic.ServiceUnavailableError):
                await c.messages.create(model=SIM_MODEL, max_tokens=8, messages=HELLO)
            assert (await c.messages.create(model=SIM_MODEL, max_tokens=8, messages=HELLO)).content
            assert sim.stats.total == 2
            await c.close()

    asyncio.run(main())
