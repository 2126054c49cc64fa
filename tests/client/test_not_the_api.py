"""Answers that are not the API's raise a clear error; an open breaker names the failure that opened it."""

from __future__ import annotations

import asyncio

import anthropic
import pytest

import claudewire
from claudewire import CircuitOpenError, FailureKind, NotAnthropicResponseError, classify
from claudewire.policy import Policy
from claudewire.testing import FastClock, run_sim
from tests.conftest import SIM_KEY, SIM_MODEL

MSG = [{"role": "user", "content": "hello"}]
# one 503 opens the breaker for a minute (no early probe: a loaded machine must not turn the next call into one)
_ONE_FAILURE_OPENS = Policy(breaker_failures=1, max_retries=0, breaker_cooldown=60, breaker_probe_after=None)


def test_a_portal_page_is_an_error_not_a_reply() -> None:
    """A captive portal's HTML 200 raises NotAnthropicResponseError (an SDK validation error), once, not retried."""
    with run_sim(faults=["portal"]) as sim:
        client = claudewire.Anthropic(base_url=sim.base_url, api_key=SIM_KEY, clock=FastClock())
        with pytest.raises(NotAnthropicResponseError) as info:
            client.messages.create(model=SIM_MODEL, max_tokens=8, messages=MSG)
        sent = sim.stats.total
    error = info.value
    assert isinstance(error, anthropic.APIResponseValidationError)
    assert error.status_code == 200
    assert "text/html" in str(error) and "portal" in str(error)
    assert classify(error).kind is FailureKind.NOT_ANTHROPIC  # type: ignore[union-attr]
    assert error.failure.fix and sent == 1


def test_the_async_client_raises_it_too() -> None:
    """AsyncAnthropic raises the same error for a portal's page on a streamed call."""

    async def main(base_url: str) -> None:
        client = claudewire.AsyncAnthropic(base_url=base_url, api_key=SIM_KEY, clock=FastClock())
        with pytest.raises(NotAnthropicResponseError):
            await client.messages.create(model=SIM_MODEL, max_tokens=8, messages=MSG, stream=True)
        await client.close()

    with run_sim(faults=["portal"]) as sim:
        asyncio.run(main(sim.base_url))


def test_circuit_open_names_the_last_upstream_failure() -> None:
    """After 503s open the breaker, CircuitOpenError carries the 503 and says no request was sent or retried."""
    with run_sim(faults=["503:1.0"], seed=1) as sim:
        client = claudewire.Anthropic(
            base_url=sim.base_url, api_key=SIM_KEY, clock=FastClock(), policy=_ONE_FAILURE_OPENS
        )
        with pytest.raises(anthropic.InternalServerError):
            client.messages.create(model=SIM_MODEL, max_tokens=8, messages=MSG)
        with pytest.raises(CircuitOpenError) as info:
            client.with_options(timeout=5.0).messages.create(model=SIM_MODEL, max_tokens=8, messages=MSG)
    last = info.value.last_failure
    assert last is not None and last.status == 503 and last.kind is FailureKind.SERVER
    assert "503" in str(info.value) and "no request was sent" in str(info.value)
