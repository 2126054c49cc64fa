"""--tls: HTTPS with a certificate from a CA generated at start, trusted through SSL_CERT_FILE."""

from __future__ import annotations

import os

import anthropic
import pytest

from claudewire import FailureKind, classify
from claudewire.testing import run_sim
from tests.conftest import SIM_KEY, SIM_MODEL

HELLO = [{"role": "user", "content": "Hello"}]


def test_sdk_trusts_the_sim_ca_through_ssl_cert_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """With SSL_CERT_FILE set to the printed CA bundle the official SDK talks HTTPS to the simulator."""
    with run_sim(tls=True) as sim:
        assert sim.base_url.startswith("https://127.0.0.1:")
        assert sim.ca_path is not None and os.path.isfile(sim.ca_path)
        monkeypatch.setenv("SSL_CERT_FILE", sim.ca_path)
        c = anthropic.Anthropic(base_url=sim.base_url, api_key=SIM_KEY, max_retries=0)
        assert c.messages.create(model=SIM_MODEL, max_tokens=8, messages=HELLO).content
        with c.messages.stream(model=SIM_MODEL, max_tokens=8, messages=HELLO) as stream:
            assert stream.get_final_message().stop_reason == "max_tokens"
        ca_path = sim.ca_path
    assert not os.path.exists(ca_path)  # removed on shutdown


def test_untrusted_ca_is_a_certificate_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the CA the SDK refuses the certificate, and classify names it a certificate problem."""
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    with run_sim(tls=True) as sim:
        c = anthropic.Anthropic(base_url=sim.base_url, api_key=SIM_KEY, max_retries=0)
        with pytest.raises(anthropic.APIConnectionError) as info:
            c.messages.create(model=SIM_MODEL, max_tokens=8, messages=HELLO)
    failure = classify(info.value)
    assert failure is not None and failure.kind is FailureKind.CERTIFICATE
