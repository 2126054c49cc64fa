"""What `claudewire proxy` says about where it listens: the real bind address, and a warning when it is open."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from claudewire.cli.proxy import _announce
from claudewire.gateway import GatewayConfig

UPSTREAM_KEY = "sk-ant-api03-bind-test-held-key-0000"


def _banner(capsys: pytest.CaptureFixture[str], **fields: object) -> tuple[str, str]:
    config = GatewayConfig(upstream="http://127.0.0.1:9", access_log=None, **fields)  # type: ignore[arg-type]
    _announce(config, SimpleNamespace(metrics_address=None), 8787)  # type: ignore[arg-type]
    captured = capsys.readouterr()
    return captured.out, captured.err


@pytest.mark.parametrize(
    ("host", "shown"),
    [("0.0.0.0", "0.0.0.0:8787"), ("::", "[::]:8787"), ("127.0.0.2", "127.0.0.2:8787")],
)
def test_the_banner_names_the_address_bound(capsys: pytest.CaptureFixture[str], host: str, shown: str) -> None:
    """`--host 0.0.0.0` is announced as 0.0.0.0 (all addresses), not as the loopback address clients may use."""
    out, _ = _banner(capsys, host=host, allow_open=True)
    first = out.splitlines()[0]
    assert f"listening on {shown}" in first
    assert "export ANTHROPIC_BASE_URL=" in out.splitlines()[1]


def test_allow_open_beyond_loopback_warns_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    """Binding beyond loopback without client tokens (--allow-open) prints a warning saying who can use it."""
    _, err = _banner(capsys, host="0.0.0.0", allow_open=True)
    assert "WARNING" in err and "--allow-open" in err and "0.0.0.0:8787" in err
    assert "without client tokens" in err


@pytest.mark.parametrize(
    "fields",
    [{"host": "127.0.0.1"}, {"host": "0.0.0.0", "tokens": ("cw-bind-token-000000",), "upstream_key": UPSTREAM_KEY}],
)
def test_no_warning_on_loopback_or_with_tokens(capsys: pytest.CaptureFixture[str], fields: dict[str, object]) -> None:
    """A loopback bind, or any bind with client tokens, prints no warning."""
    _, err = _banner(capsys, **fields)
    assert "WARNING" not in err
