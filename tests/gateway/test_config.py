"""Gateway configuration: TOML with the policy, safe binding rules, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from claudewire.gateway import ConfigError, GatewayConfig
from claudewire.gateway.downstream.limits import HttpLimits
from claudewire.policy import Policy


def test_toml_sets_flags_and_policy_and_flags_win(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """[proxy] and [policy] tables fill the config; a tokens file is read; command-line values override the file."""
    tokens = tmp_path / "tokens"
    tokens.write_text("# team tokens\ncw-a\n\ncw-b\n")
    path = tmp_path / "claudewire.toml"
    path.write_text(
        f"""
[proxy]
port = 9000
upstream = "http://127.0.0.1:8780"
tokens_file = "{tokens}"
max_concurrency = 8
idle_timeout = 12.5

[policy]
max_retries = 2
breaker_cooldown = 5.0

[policy.retry_budget]
ratio = 0.5
"""
    )
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-api03-from-env-000000")
    config = GatewayConfig.from_toml(path, port=9100)
    assert config.port == 9100
    assert config.upstream == "http://127.0.0.1:8780"
    assert config.tokens == ("cw-a", "cw-b")
    assert config.upstream_key == "sk-ant-api03-from-env-000000"
    assert config.max_concurrency == 8 and config.idle_timeout == 12.5
    assert config.policy.max_retries == 2 and config.policy.breaker_cooldown == 5.0
    assert config.policy.retry_budget is not None and config.policy.retry_budget.ratio == 0.5
    assert config.base_url == "http://127.0.0.1:9100"


def test_defaults_bind_loopback_with_the_default_policy() -> None:
    """With nothing set the gateway listens on 127.0.0.1:8787 in front of the real API, with Policy()."""
    config = GatewayConfig.from_mapping({})
    assert (config.host, config.port, config.upstream) == ("127.0.0.1", 8787, "https://api.anthropic.com")
    assert config.policy == Policy()
    assert config.body_limit == 32 * 1024 * 1024


def test_non_loopback_needs_tokens_or_allow_open() -> None:
    """Binding 0.0.0.0 without tokens is refused unless allow_open; with tokens it needs an upstream key."""
    with pytest.raises(ConfigError, match="allow-open"):
        GatewayConfig(host="0.0.0.0")
    assert GatewayConfig(host="0.0.0.0", allow_open=True).allow_open
    with pytest.raises(ConfigError, match="upstream key"):
        GatewayConfig(host="0.0.0.0", tokens=("t",), upstream_key=None)
    assert GatewayConfig(host="0.0.0.0", tokens=("t",), upstream_key="k").tokens == ("t",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[proxy]\nprot = 1\n", "unknown gateway setting"),
        ("[policy]\nmax_retry = 1\n", "unknown policy setting"),
        ("[policy]\nmax_retries = -1\n", "max_retries"),
        ("[proxy]\nupstream = 'ftp://x'\n", "http:// or https://"),
        ("[proxy\n", "not valid TOML"),
    ],
)
def test_bad_config_files_say_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    """Typos, bad values and broken TOML raise ConfigError naming the problem."""
    path = tmp_path / "claudewire.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        GatewayConfig.from_toml(path)


def test_http_limits_defaults_come_from_one_place() -> None:
    """A default config enforces exactly HttpLimits' defaults; each limit set in the config reaches the HTTP layer."""
    assert GatewayConfig().http_limits() == HttpLimits()
    custom = GatewayConfig(client_read_timeout=4.5, head_limit=2048, body_limit=1 << 20, write_timeout=7.0)
    limits = custom.http_limits()
    assert (limits.read_timeout, limits.head_limit, limits.write_timeout) == (4.5, 2048, 7.0)
    assert limits.body_limit == 1 << 20 and limits.body_budget == HttpLimits().body_budget
    assert GatewayConfig(body_limit=512 << 20).http_limits().body_budget == 512 << 20  # the budget fits a body


def test_openai_section_sets_aliases_floors_and_default(tmp_path: Path) -> None:
    """[openai] gives the ingress its advertised names, a max_tokens floor per route and the default limit."""
    path = tmp_path / "claudewire.toml"
    path.write_text(
        """
[openai]
default_max_tokens = 4096
models = { "cw-sonnet" = "claude-sonnet-5-5" }
[openai.min_max_tokens]
cursor = 8192
"""
    )
    config = GatewayConfig.from_toml(path)
    assert dict(config.openai.models) == {"cw-sonnet": "claude-sonnet-5-5"}
    assert config.openai.floor("cursor") == 8192 and config.openai.floor("chat") == 0
    assert config.openai.default_max_tokens == 4096
    assert GatewayConfig().openai.models == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[openai]\nmodel = {}\n", "unknown \\[openai\\] setting"),
        ("[openai.min_max_tokens]\nkursor = 1\n", "unknown route 'kursor'"),
        ("[openai]\ndefault_max_tokens = 0\n", "default_max_tokens"),
        ("[openai.models]\n'cw-x' = ''\n", "models.cw-x"),
        (
            "[[upstreams]]\nname = 'a'\nurl = 'http://127.0.0.1:1'\nmodels = ['claude-haiku-4-5']\n"
            "[openai.models]\n'cw-opus' = 'claude-opus-5-5'\n",
            "no upstream serves 'claude-opus-5-5'",
        ),
    ],
)
def test_bad_openai_sections_say_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    """A typo'd [openai] field, an unknown route, a bad limit, an empty alias or an alias no upstream serves."""
    path = tmp_path / "claudewire.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        GatewayConfig.from_toml(path)
