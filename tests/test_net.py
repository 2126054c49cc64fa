"""is_loopback decides which addresses the gateway may bind without tokens and the doctor may call over http."""

from __future__ import annotations

import pytest

from claudewire._net import is_loopback


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("10.0.0.5", False),
        ("api.anthropic.com", False),
        ("", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    """Only the loopback range, ::1 and the name localhost count as this machine."""
    assert is_loopback(host) is loopback
