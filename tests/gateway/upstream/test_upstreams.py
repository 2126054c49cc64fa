"""[[upstreams]] and --upstream: key references resolved, priorities kept, configurations that cannot work refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from claudewire.cli.proxy import proxy
from claudewire.gateway import ConfigError, GatewayConfig
from claudewire.gateway.upstream.specs import UpstreamConfigError, UpstreamSpec, check_models_served, resolve_key

_TWO = """
[[upstreams]]
name = "primary"
url = "https://api.anthropic.com"
keys = ["env:CW_TEST_KEY_1", "file:{keyfile}", "sk-ant-api03-literal-key-0000"]
models = ["claude-haiku-4-5", "claude-sonnet-4-6"]

[[upstreams]]
name = "backup"
url = "http://127.0.0.1:8781"
priority = 1
weight = 2.5
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "claudewire.toml"
    path.write_text(text)
    return path


def test_upstream_tables_resolve_env_file_and_literal_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each [[upstreams]] table becomes an UpstreamSpec with its keys resolved in order; repr never shows a key."""
    keyfile = tmp_path / "key2"
    keyfile.write_text("# the second account\nsk-ant-api03-from-file-1111\n")
    monkeypatch.setenv("CW_TEST_KEY_1", "sk-ant-api03-from-env-0000")
    config = GatewayConfig.from_toml(_write(tmp_path, _TWO.format(keyfile=keyfile)))
    primary, backup = config.upstreams
    assert primary.keys == (
        "sk-ant-api03-from-env-0000",
        "sk-ant-api03-from-file-1111",
        "sk-ant-api03-literal-key-0000",
    )
    assert (primary.priority, primary.weight, primary.kind) == (0, 1.0, "anthropic")
    assert primary.serves("claude-haiku-4-5") and not primary.serves("claude-opus-4-8") and primary.serves(None)
    assert (backup.priority, backup.weight, backup.keys) == (1, 2.5, ())
    assert backup.forwards_credentials and backup.serves("claude-opus-4-8")
    assert config.upstream == "https://api.anthropic.com"  # the first by priority, for the banner
    assert primary.key_label(2) == "primary#2"
    assert "sk-ant" not in repr(config.upstreams) and "sk-ant" not in repr(config)


_A = 'name = "a"\nurl = "http://x"\n'


@pytest.mark.parametrize(
    ("tables", "field"),
    [
        (_A + '[[upstreams]]\nname = "a"\nurl = "http://y"', r"upstreams\[1\].name: 'a' is already"),
        (_A + 'keys = ["env:CW_TEST_UNSET"]', r"upstreams\[0\] \(a\).keys\[0\]: env:CW_TEST_UNSET is not set"),
        (_A + 'keys = ["file:/nonexistent/key"]', r"upstreams\[0\] \(a\).keys\[0\]: cannot read"),
        (_A + 'keys = ["k1-aaaaaaaa", "k1-aaaaaaaa"]', r"keys\[1\]: the same key as keys\[0\]"),
        ('name = "A b"\nurl = "http://x"', r"upstreams\[0\].name"),
        ('url = "http://x"', r"upstreams\[0\].name"),
        ('name = "a"\nurl = "ftp://x"', r"upstreams\[0\] \(a\).url"),
        ('name = "a"', r"upstreams\[0\] \(a\).url"),
        (_A + "weight = 0", r"\(a\).weight"),
        (_A + 'priority = "high"', r"\(a\).priority"),
        (_A + 'models = "claude-haiku-4-5"', r"\(a\).models"),
        (_A + 'region = "us-east-1"', r"unknown field\(s\) region"),
        (_A + 'kind = "carrier-pigeon"', r"\(a\).kind: unknown kind"),
    ],
)
def test_configurations_that_cannot_work_are_refused_naming_the_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tables: str, field: str
) -> None:
    """Duplicate names, unresolvable keys, bad names/URLs/weights, unknown fields: ConfigError naming the field."""
    monkeypatch.delenv("CW_TEST_UNSET", raising=False)
    with pytest.raises(ConfigError, match=field):
        GatewayConfig.from_toml(_write(tmp_path, "[[upstreams]]\n" + tables + "\n"))


def test_one_upstream_and_upstream_tables_together_are_refused(tmp_path: Path) -> None:
    """`upstream = ...` next to [[upstreams]] is ambiguous and refused."""
    text = 'upstream = "http://127.0.0.1:1"\n[[upstreams]]\nname = "a"\nurl = "http://x"\n'
    with pytest.raises(ConfigError, match="either upstream"):
        GatewayConfig.from_toml(_write(tmp_path, text))


def test_token_mode_needs_a_key_for_every_upstream(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With client tokens, an upstream without keys would be sent the gateway token: refused, naming it."""
    monkeypatch.setenv("CW_TEST_KEY_1", "sk-ant-api03-from-env-0000")
    text = (
        'tokens = ["cw-team"]\n'
        '[[upstreams]]\nname = "a"\nurl = "http://x"\nkeys = ["env:CW_TEST_KEY_1"]\n'
        '[[upstreams]]\nname = "b"\nurl = "http://y"\n'
    )
    with pytest.raises(ConfigError, match=r"upstreams\[1\] \(b\).keys"):
        GatewayConfig.from_toml(_write(tmp_path, text))


def test_repeated_upstream_flags_are_each_a_lower_priority(monkeypatch: pytest.MonkeyPatch) -> None:
    """--upstream A --upstream B --upstream A: priorities 0, 1, 2, names from the host, unique; token key on each."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-api03-held-9999")
    urls = ("http://127.0.0.1:8780", "https://api.anthropic.com", "http://127.0.0.1:8780")
    config = GatewayConfig.from_mapping({}, upstream=urls, tokens=("cw-team",))
    assert [(s.name, s.priority) for s in config.upstreams] == [
        ("127-0-0-1-8780", 0),
        ("api-anthropic-com", 1),
        ("127-0-0-1-8780-2", 2),
    ]
    assert all(s.keys == ("sk-ant-api03-held-9999",) for s in config.upstreams)
    assert config.upstream == urls[0]


def test_command_line_upstreams_win_over_the_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--upstream on the command line replaces the file's [[upstreams]] (flags win over the file)."""
    monkeypatch.setenv("CW_TEST_KEY_1", "sk-ant-api03-from-env-0000")
    keyfile = tmp_path / "key2"
    keyfile.write_text("sk-ant-api03-from-file-1111\n")
    config = GatewayConfig.from_toml(_write(tmp_path, _TWO.format(keyfile=keyfile)), upstream=("http://127.0.0.1:9",))
    assert [s.url for s in config.upstreams] == ["http://127.0.0.1:9"]


def test_one_upstream_follows_replace_and_holds_the_token_mode_key() -> None:
    """Without [[upstreams]] the one upstream comes from `upstream` (+ the token mode key) and follows replace."""
    config = GatewayConfig(upstream="http://127.0.0.1:8780", tokens=("t",), upstream_key="sk-ant-api03-held-9999")
    (spec,) = config.upstreams
    assert (spec.name, spec.url, spec.keys) == ("127-0-0-1-8780", "http://127.0.0.1:8780", ("sk-ant-api03-held-9999",))
    moved = config.replace(upstream="http://127.0.0.1:9")
    assert [s.url for s in moved.upstreams] == ["http://127.0.0.1:9"]
    assert GatewayConfig(upstream="http://127.0.0.1:8780").upstreams[0].forwards_credentials


def test_a_model_listed_elsewhere_that_no_upstream_serves_is_refused() -> None:
    """check_models_served names the field listing a model that every upstream's `models` leaves out."""
    specs = [UpstreamSpec("a", "http://x", models=("claude-haiku-4-5",)), UpstreamSpec("b", "http://y", models=("m2",))]
    check_models_served(specs, {"clients[0].models": ["claude-haiku-4-5", "m2"]})
    with pytest.raises(UpstreamConfigError, match=r"clients\[1\].models: no upstream serves 'claude-opus-4-8'"):
        check_models_served(specs, {"clients[1].models": ["claude-opus-4-8"]})
    check_models_served([*specs, UpstreamSpec("c", "http://z")], {"clients[1].models": ["claude-opus-4-8"]})


def test_key_references() -> None:
    """env: reads the environment, a literal is itself, an empty or spaced literal is refused."""
    assert resolve_key("env:K", "f", {"K": " sk-ant-x-1234 "}) == "sk-ant-x-1234"
    assert resolve_key("sk-ant-literal", "f", {}) == "sk-ant-literal"
    for bad in ("", "two words", "env:", "env:MISSING"):
        with pytest.raises(UpstreamConfigError, match=r"^f: "):
            resolve_key(bad, "f", {})


def test_proxy_refuses_a_bad_upstream_table_with_the_field_and_exit_2(tmp_path: Path) -> None:
    """`claudewire proxy --config` with an unresolvable key exits 2 and names the field, printing no key."""
    path = _write(tmp_path, '[[upstreams]]\nname = "a"\nurl = "http://x"\nkeys = ["env:CW_TEST_UNSET_2"]\n')
    result = CliRunner().invoke(proxy, ["--config", str(path)], env={"CW_TEST_UNSET_2": ""})
    assert result.exit_code == 2
    assert "upstreams[0] (a).keys[0]: env:CW_TEST_UNSET_2 is not set" in result.output


def test_proxy_help_teaches_upstream_tables() -> None:
    """`claudewire proxy --help` shows the repeatable --upstream and the [[upstreams]] fields."""
    result = subprocess.run(
        [sys.executable, "-m", "claudewire", "proxy", "--help"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0
    assert "repeat for failover" in result.stdout and "[[upstreams]]" in result.stdout


def test_a_client_allowed_a_model_no_upstream_serves_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """[[clients]] models that every upstream's `models` leaves out: refused at start, naming the client's field."""
    monkeypatch.setenv("CW_TEST_KEY_1", "sk-ant-api03-from-env-0000")
    text = (
        '[[upstreams]]\nname = "a"\nurl = "http://x"\nkeys = ["env:CW_TEST_KEY_1"]\nmodels = ["claude-haiku-4-5"]\n'
        '[[clients]]\nname = "ci"\ntoken_sha256 = "' + "0" * 64 + '"\nmodels = ["claude-opus-4-8"]\n'
    )
    with pytest.raises(ConfigError, match=r"clients\[0\] \(ci\).models: no upstream serves 'claude-opus-4-8'"):
        GatewayConfig.from_toml(_write(tmp_path, text))
    ok = text.replace('models = ["claude-opus-4-8"]', 'models = ["claude-haiku-4-5"]')
    assert GatewayConfig.from_toml(_write(tmp_path, ok)).clients[0].name == "ci"
