"""claudewire.Anthropic / AsyncAnthropic: the official SDK over real sockets, with one policy."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from datetime import UTC, datetime, timedelta

import anthropic
import pytest

import claudewire
from claudewire import CircuitOpenError, FailureKind, classify
from claudewire.policy import BreakerState, Hooks, Policy
from claudewire.testing import FastClock, run_sim
from tests.client.conftest import Scripted, error, ok
from tests.conftest import SIM_KEY, SIM_MODEL

MSG = [{"role": "user", "content": "hello"}]


def _client(base_url: str, policy: Policy | None = None, **kw: object) -> claudewire.Anthropic:
    """A client with the fast policy: `policy` (default: the default one) on a FastClock, no real sleeps."""
    kw.setdefault("clock", FastClock())
    return claudewire.Anthropic(base_url=base_url, api_key=SIM_KEY, policy=policy, **kw)  # type: ignore[arg-type]


def test_is_a_drop_in_subclass_with_sdk_retries_off() -> None:
    """The client is an anthropic.Anthropic whose own retry loop is off; max_retries= feeds the policy."""
    client = claudewire.Anthropic(api_key=SIM_KEY, max_retries=7)
    assert isinstance(client, anthropic.Anthropic)
    assert client.max_retries == 0
    assert client.policy.max_retries == 7
    assert isinstance(claudewire.AsyncAnthropic(api_key=SIM_KEY), anthropic.AsyncAnthropic)


def test_overload_is_retried_until_success() -> None:
    """Two 529s then a success: the call succeeds on the third attempt."""
    with run_sim(faults=["529:1.0,count=2"], seed=1) as sim:
        reply = _client(sim.base_url).messages.create(model=SIM_MODEL, max_tokens=16, messages=MSG)
        assert reply.content[0].type == "text"
        assert sim.stats.total == 3


def test_exactly_one_retry_loop() -> None:
    """With max_retries=2 against a permanent 529, exactly 3 requests reach the wire (not 3 × 3)."""
    with run_sim(faults=["529:1.0"], seed=1) as sim:
        client = _client(sim.base_url, Policy(max_retries=2))
        with pytest.raises(anthropic.OverloadedError):
            client.messages.create(model=SIM_MODEL, max_tokens=16, messages=MSG)
        assert sim.stats.total == 3


@pytest.mark.parametrize(
    ("fault", "exc_type"),
    [
        ("400", anthropic.BadRequestError),
        ("401", anthropic.AuthenticationError),
        ("403", anthropic.PermissionDeniedError),
    ],
)
def test_client_errors_are_tried_once(fault: str, exc_type: type[Exception]) -> None:
    """A 400, 401 or 403 is sent exactly once and surfaces as the SDK's own exception class."""
    with run_sim(faults=[fault], seed=1) as sim:
        with pytest.raises(exc_type):
            _client(sim.base_url).messages.create(model=SIM_MODEL, max_tokens=16, messages=MSG)
        assert sim.stats.total == 1


def test_retry_after_over_the_cap_fails_at_once() -> None:
    """retry-after: 3600 raises anthropic.RateLimitError after one request instead of sleeping an hour."""
    with run_sim(faults=["429:1.0,retry_after=3600"], seed=1) as sim:
        started = time.monotonic()
        with pytest.raises(anthropic.RateLimitError) as info:
            _client(sim.base_url).messages.create(model=SIM_MODEL, max_tokens=16, messages=MSG)
        assert time.monotonic() - started < 10
        assert sim.stats.total == 1
        failure = classify(info.value)
        assert failure is not None and failure.retry_after == 3600.0


def test_retry_after_within_the_cap_is_honoured() -> None:
    """A short retry-after is waited for exactly (on the injected clock), then the call succeeds."""
    with run_sim(faults=["429:1.0,retry_after=0.2,count=1"], seed=1) as sim:
        clock = FastClock()
        _client(sim.base_url, clock=clock).messages.create(model=SIM_MODEL, max_tokens=16, messages=MSG)
        assert clock.waits == [pytest.approx(0.2)]
        assert sim.stats.total == 2


def test_should_retry_false_is_obeyed(scripted: Scripted) -> None:
    """x-should-retry: false on a 529 stops the policy after one attempt."""
    scripted.answers = [error(529, "overloaded_error", **{"x-should-retry": "false"}), ok()]
    with pytest.raises(anthropic.OverloadedError):
        _client(scripted.base_url).messages.create(model=SIM_MODEL, max_tokens=16, messages=MSG)
    assert scripted.hits == 1


def test_should_retry_true_overrides_a_400(scripted: Scripted) -> None:
    """x-should-retry: true makes even a 400 retryable."""
    scripted.answers = [error(400, "invalid_request_error", **{"x-should-retry": "true"}), ok()]
    _client(scripted.base_url).messages.create(model=SIM_MODEL, max_tokens=16, messages=MSG)
    assert scripted.hits == 2
    assert [h.get("x-stainless-retry-count") for h in scripted.seen_headers] == ["0", "1"]


def test_connection_resets_are_retried() -> None:
    """Connections reset before the answer are retried transparently."""
    with run_sim(faults=["reset:1.0,count=2"], seed=1) as sim:
        _client(sim.base_url).messages.create(model=SIM_MODEL, max_tokens=16, messages=MSG)
        assert sim.stats.total == 3


def test_spend_limit_is_not_retried() -> None:
    """The monthly spend cap surfaces at once as a RateLimitError classified spend_limit."""
    with run_sim(faults=["spend_limit"], seed=1) as sim:
        with pytest.raises(anthropic.RateLimitError) as info:
            _client(sim.base_url).messages.create(model=SIM_MODEL, max_tokens=16, messages=MSG)
        assert sim.stats.total == 1
        assert classify(info.value).kind is FailureKind.SPEND_LIMIT  # type: ignore[union-attr]


def test_dead_upstream_opens_the_breaker() -> None:
    """40 calls to an always-503 upstream make ≤ 15 attempts; calls while open raise CircuitOpenError, no request."""
    with run_sim(faults=["503:1.0"], seed=1) as sim:
        client = _client(sim.base_url, Policy(breaker_cooldown=30))
        errors: list[Exception] = []
        sent_while_open = []
        for _ in range(40):
            before = sim.stats.total
            try:
                client.messages.create(model=SIM_MODEL, max_tokens=16, messages=MSG)
            except anthropic.APIError as exc:
                errors.append(exc)
                if isinstance(exc, CircuitOpenError):
                    sent_while_open.append(sim.stats.total - before)
        assert len(errors) == 40
        assert sim.stats.total <= 15
        assert isinstance(errors[0], anthropic.InternalServerError), "the first call fails with the SDK's own error"
        assert all(isinstance(e, CircuitOpenError) for e in errors[1:])
        assert all(isinstance(e, anthropic.APIConnectionError) for e in errors[1:])
        assert client.policy_engine.breaker_state(client._claudewire.upstream) is BreakerState.OPEN
        # fast because nothing is sent (how fast is bench/chaos.py's to measure, not a timed assert's)
        assert sent_while_open and set(sent_while_open) == {0}


def test_copies_share_the_breaker() -> None:
    """with_options() keeps the parent's breaker: a copy of a client with an open circuit is open too."""
    with run_sim(faults=["503:1.0"], seed=1) as sim:
        client = _client(sim.base_url, Policy(breaker_failures=1, max_retries=0))
        with pytest.raises(anthropic.InternalServerError):
            client.messages.create(model=SIM_MODEL, max_tokens=16, messages=MSG)
        copy = client.with_options(timeout=5.0, max_retries=3)
        assert copy.policy.max_retries == 3 and copy.max_retries == 0
        with pytest.raises(CircuitOpenError):
            copy.messages.create(model=SIM_MODEL, max_tokens=16, messages=MSG)
        assert sim.stats.total == 1


def test_copy_with_engine_settings_gets_a_breaker_that_obeys_them() -> None:
    """copy(policy=Policy(breaker_failures=1)): one 503 opens the copy's breaker, and the parent's stays closed."""
    with run_sim(faults=["503:1.0"], seed=1) as sim:
        client = _client(sim.base_url, Policy(max_retries=0))
        copy = client.copy(policy=Policy(breaker_failures=1, max_retries=0))
        assert copy.policy.breaker_failures == 1
        assert copy.policy_engine is not client.policy_engine
        with pytest.raises(anthropic.InternalServerError):
            copy.messages.create(model=SIM_MODEL, max_tokens=16, messages=MSG)
        with pytest.raises(CircuitOpenError):
            copy.messages.create(model=SIM_MODEL, max_tokens=16, messages=MSG)
        assert sim.stats.total == 1
        upstream = client._claudewire.upstream
        assert client.policy_engine.breaker_state(upstream) is BreakerState.CLOSED
        with pytest.raises(anthropic.InternalServerError):
            client.messages.create(model=SIM_MODEL, max_tokens=16, messages=MSG)
        assert sim.stats.total == 2


def test_copy_with_per_call_settings_shares_the_engine() -> None:
    """copy(policy=...) that changes only retries, backoff or deadline keeps the parent's breakers and budget."""
    client = _client("http://127.0.0.1:9", Policy())
    copy = client.copy(policy=Policy(max_retries=1, deadline=3.0, backoff_initial=0.1))
    assert copy.policy_engine is client.policy_engine
    assert copy.policy.deadline == 3.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_refused_connection_surfaces_as_sdk_error() -> None:
    """Nothing listening: the SDK's APIConnectionError escapes, classified connect_refused."""
    client = _client(f"http://127.0.0.1:{_free_port()}", Policy(max_retries=1))
    with pytest.raises(anthropic.APIConnectionError) as info:
        client.messages.create(model=SIM_MODEL, max_tokens=16, messages=MSG)
    assert not isinstance(info.value, CircuitOpenError)
    assert classify(info.value).kind is FailureKind.CONNECT_REFUSED  # type: ignore[union-attr]


class _Waits(Hooks):
    def __init__(self) -> None:
        self.waits: list[float] = []

    def on_ratelimit_wait(self, upstream: str, delay: float) -> None:
        self.waits.append(delay)


def test_empty_bucket_holds_the_next_call(scripted: Scripted) -> None:
    """After an answer with requests-remaining=0, the next call waits for the reset instead of sending early."""
    # 30 s away: on the fast clock the hold costs nothing, and a loaded machine cannot reach the reset first
    reset = (datetime.now(UTC) + timedelta(seconds=30)).isoformat()
    status, _, body = ok()
    scripted.answers = [
        (status, {"anthropic-ratelimit-requests-remaining": "0", "anthropic-ratelimit-requests-reset": reset}, body),
        ok(),
    ]
    hooks = _Waits()
    clock = FastClock()
    client = claudewire.Anthropic(base_url=scripted.base_url, api_key=SIM_KEY, clock=clock, hooks=hooks)
    client.messages.create(model=SIM_MODEL, max_tokens=16, messages=MSG)
    client.messages.create(model=SIM_MODEL, max_tokens=16, messages=MSG)
    assert scripted.hits == 2
    assert len(hooks.waits) == 1 and 20 < hooks.waits[0] <= 30
    assert clock.waits == hooks.waits


def test_stream_count_tokens_and_models_through_the_policy() -> None:
    """messages.stream, count_tokens and models.list all work and are retried through a 529."""
    with run_sim(faults=["529:1.0,count=1"], seed=1) as sim:
        client = _client(sim.base_url)
        with client.messages.stream(model=SIM_MODEL, max_tokens=32, messages=MSG) as stream:
            text = "".join(stream.text_stream)
            final = stream.get_final_message()
        assert text and final.stop_reason is not None and final.usage.output_tokens > 0
        sim.set_faults(["529:1.0,count=1"])
        assert client.messages.count_tokens(model=SIM_MODEL, messages=MSG).input_tokens > 0  # type: ignore[arg-type]
        sim.set_faults(["529:1.0,count=1"])
        assert any(m.id.startswith(SIM_MODEL) for m in client.models.list())


def test_async_client_retries_and_streams() -> None:
    """AsyncAnthropic retries through faults for create, stream, count_tokens and models.list."""

    async def main() -> None:
        with run_sim(faults=["529:1.0,count=1"], seed=1) as sim:
            client = claudewire.AsyncAnthropic(base_url=sim.base_url, api_key=SIM_KEY, clock=FastClock())
            reply = await client.messages.create(model=SIM_MODEL, max_tokens=16, messages=MSG)  # type: ignore[arg-type]
            assert reply.content and sim.stats.total == 2
            sim.set_faults(["reset:1.0,count=1"])
            async with client.messages.stream(model=SIM_MODEL, max_tokens=32, messages=MSG) as stream:  # type: ignore[arg-type]
                final = await stream.get_final_message()
            assert final.stop_reason is not None
            sim.set_faults(["529:1.0,count=1"])
            counted = await client.messages.count_tokens(model=SIM_MODEL, messages=MSG)  # type: ignore[arg-type]
            assert counted.input_tokens > 0
            models = [m.id async for m in client.models.list()]
            assert any(m.startswith(SIM_MODEL) for m in models)
            sim.set_faults(["401"])
            with pytest.raises(anthropic.AuthenticationError):
                await client.messages.create(model=SIM_MODEL, max_tokens=16, messages=MSG)  # type: ignore[arg-type]
            await client.close()

    asyncio.run(main())


def test_async_dead_upstream_opens_the_breaker() -> None:
    """The async client shares the breaker logic: after the first failing call, the rest fail without a request."""

    async def main() -> None:
        with run_sim(faults=["529:1.0"], seed=1) as sim:
            client = claudewire.AsyncAnthropic(base_url=sim.base_url, api_key=SIM_KEY, clock=FastClock())
            for _ in range(10):
                with pytest.raises(anthropic.APIError):
                    await client.messages.create(model=SIM_MODEL, max_tokens=16, messages=MSG)  # type: ignore[arg-type]
            assert sim.stats.total == 5
            await client.close()

    asyncio.run(main())


def test_deadline_bounds_a_stalled_call() -> None:
    """A per-call deadline cuts a stalled upstream short: the SDK's timeout error, no retry past the deadline."""
    with run_sim(faults=["stall"], seed=1) as sim:
        client = _client(sim.base_url, Policy(deadline=0.5))
        started = time.monotonic()
        with pytest.raises(anthropic.APITimeoutError):
            client.messages.create(model=SIM_MODEL, max_tokens=16, messages=MSG)
        assert time.monotonic() - started < 5


def test_fast_clock_skips_the_waits_the_policy_chose(scripted: Scripted) -> None:
    """retry-after: 3 is honoured exactly on a FastClock (one 3 s wait recorded) without really sleeping."""
    scripted.answers = [error(429, "rate_limit_error", **{"retry-after": "3"}), ok()]
    clock = FastClock()
    started = time.monotonic()
    _client(scripted.base_url, clock=clock).messages.create(model=SIM_MODEL, max_tokens=16, messages=MSG)
    assert clock.waits == [3.0]
    assert scripted.hits == 2
    assert time.monotonic() - started < 3.0, "the 3 s were skipped, not slept"


def test_retries_are_logged_without_the_key(scripted: Scripted, caplog: pytest.LogCaptureFixture) -> None:
    """Each retry is an INFO line on claudewire.client with its reason and delay; the key never appears."""
    scripted.answers = [error(529, "overloaded_error"), ok()]
    with caplog.at_level(logging.INFO, logger="claudewire"):
        _client(scripted.base_url).messages.create(model=SIM_MODEL, max_tokens=16, messages=MSG)
    retries = [r for r in caplog.records if r.name == "claudewire.client" and r.levelno == logging.INFO]
    assert len(retries) == 1 and "overloaded (HTTP 529)" in retries[0].getMessage()
    assert SIM_KEY not in caplog.text and SIM_KEY[-8:] not in caplog.text
