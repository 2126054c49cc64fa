"""The [signin] table and [[groups]]: read as the issue's TOML spells them, every mistake a clear ConfigError."""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from claudewire.gateway import ConfigError, GatewayConfig
from claudewire.gateway.downstream.signin.config import ManagedSettings, canonical_json

ISSUE_TOML = """
[proxy]
upstream_key = "sk-ant-test-key-0000"

[signin]
public_url = "https://claude-gw.corp.internal:8787"
oidc_issuer = "https://idp.corp.example/"
oidc_client_id = "claudewire"
oidc_client_secret = "env:OIDC_CLIENT_SECRET"
groups_claim = "groups"
session_ttl = 3600

[[groups]]
name = "engineering"
models = ["claude-sonnet-4-5", "claude-opus-4-1"]
requests_per_minute = 60
tokens_per_day = 5000000
managed_settings = "file:MANAGED"
"""


def _config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str = ISSUE_TOML, **edit: Any) -> GatewayConfig:
    managed = tmp_path / "engineering.json"
    managed.write_text(json.dumps({"permissions": {"defaultMode": "acceptEdits"}, "availableModels": ["sonnet"]}))
    monkeypatch.setenv("OIDC_CLIENT_SECRET", "s3cret-from-env")
    data = tomllib.loads(text.replace("MANAGED", str(managed)))
    for table, changes in edit.items():
        target = data[table] if not isinstance(data[table], list) else data[table][0]
        for key, value in changes.items():
            if value is None:
                target.pop(key, None)
            else:
                target[key] = value
    return GatewayConfig.from_mapping(data)


def test_the_issue_toml_reads_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every field of the issue's [signin] and [[groups]] lands where it says; sign-in switches tokens mode on."""
    config = _config(tmp_path, monkeypatch)
    signin = config.signin
    assert signin is not None
    assert signin.public_url == "https://claude-gw.corp.internal:8787"
    assert signin.oidc_issuer == "https://idp.corp.example/"
    assert (signin.oidc_client_id, signin.oidc_client_secret) == ("claudewire", "s3cret-from-env")
    assert "s3cret" not in repr(signin)
    assert (signin.groups_claim, signin.session_ttl) == ("groups", 3600)
    (group,) = signin.groups
    assert group.name == "engineering"
    assert group.models == frozenset({"claude-sonnet-4-5", "claude-opus-4-1"})
    assert (group.limits.requests_per_minute, group.limits.tokens_per_day) == (60, 5000000)
    assert group.managed is not None and group.managed.settings["availableModels"] == ["sonnet"]
    assert config.token_mode
    assert signin.group(["other", "engineering"]) is group
    assert signin.group("engineering") is group
    assert signin.group(["nobody"]) is None


def test_the_client_secret_may_be_literal_or_in_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """oidc_client_secret: a literal, or file:PATH's first non-blank line; none at all makes a public client."""
    secret = tmp_path / "secret"
    secret.write_text("\n  from-a-file  \n")
    config = _config(tmp_path, monkeypatch, signin={"oidc_client_secret": f"file:{secret}"})
    assert config.signin is not None and config.signin.oidc_client_secret == "from-a-file"
    config = _config(tmp_path, monkeypatch, signin={"oidc_client_secret": "literal"})
    assert config.signin is not None and config.signin.oidc_client_secret == "literal"
    config = _config(tmp_path, monkeypatch, signin={"oidc_client_secret": None})
    assert config.signin is not None and config.signin.oidc_client_secret is None


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"signin": {"oidc_issuer": None}}, r"oidc_issuer is required"),
        ({"signin": {"oidc_issuer": "http://idp.corp.example/"}}, r"plain http is only for a loopback"),
        ({"signin": {"public_url": "https://gw.corp/prefix"}}, r"public_url must be an origin"),
        ({"signin": {"oidc_client_secret": "env:NOT_SET_ANYWHERE_42"}}, r"NOT_SET_ANYWHERE_42 is not set"),
        ({"signin": {"session_ttl": 60}}, r"session_ttl must be whole seconds in 600"),
        ({"signin": {"colour": "blue"}}, r"unknown \[signin\] setting\(s\): colour"),
        ({"signin": {"groups_claim": ""}}, r"groups_claim must name"),
        ({"groups": {"name": "no spaces"}}, r"groups\[0\]\.name"),
        ({"groups": {"requests_per_minute": 0}}, r"requests_per_minute must be a whole number >= 1"),
        ({"groups": {"models": "claude-sonnet-4-5"}}, r"models must be a list"),
        ({"groups": {"managed_settings": "managed.json"}}, r"managed_settings must be file:PATH"),
        ({"groups": {"managed_settings": "file:/nonexistent/m.json"}}, r"cannot read /nonexistent/m.json"),
        ({"groups": {"budget": 1}}, r"unknown setting\(s\) budget"),
    ],
)
def test_mistakes_are_config_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edit: dict[str, dict[str, Any]], message: str
) -> None:
    """Each bad [signin]/[[groups]] setting is refused at start with the setting named (and never the secret)."""
    with pytest.raises(ConfigError, match=message) as caught:
        _config(tmp_path, monkeypatch, **edit)
    assert "s3cret" not in str(caught.value)


def test_groups_and_signin_need_each_other(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """[[groups]] without [signin], [signin] without [[groups]], or several workers in memory: ConfigError."""
    with pytest.raises(ConfigError, match=r"add a \[signin\] table"):
        GatewayConfig.from_mapping({"groups": [{"name": "a"}]})
    signin = {"oidc_issuer": "https://idp.example/", "oidc_client_id": "c"}
    with pytest.raises(ConfigError, match=r"needs \[\[groups\]\]"):
        GatewayConfig.from_mapping({"signin": signin, "upstream_key": "k"})
    with pytest.raises(ConfigError, match="several workers needs shared state"):
        GatewayConfig.from_mapping({"signin": signin, "groups": [{"name": "a"}], "upstream_key": "k", "workers": 2})
    clients = [{"name": "a", "token": "t"}]
    with pytest.raises(ConfigError, match="a group and a client share a name"):
        GatewayConfig.from_mapping(
            {"signin": signin, "groups": [{"name": "a"}], "upstream_key": "k", "clients": clients}
        )
    public = GatewayConfig.from_mapping(
        {"signin": signin, "groups": [{"name": "a"}], "upstream_key": "k", "host": "0.0.0.0"}
    )
    assert public.token_mode  # signed-in users authenticate: a public address is allowed


def test_managed_settings_checksum_is_claude_codes() -> None:
    """The checksum is sha256 over keys sorted at every level with no spaces, as Claude Code recomputes it."""
    settings = {"permissions": {"deny": ["Bash(curl:*)"], "allow": []}, "env": {"B": "1", "A": "é"}, "n": 1.0}
    spelled = '{"env":{"A":"é","B":"1"},"n":1,"permissions":{"allow":[],"deny":["Bash(curl:*)"]}}'
    assert canonical_json(settings) == spelled.encode()
    managed = ManagedSettings.of(settings)
    assert managed.checksum == "sha256:" + hashlib.sha256(spelled.encode()).hexdigest()
    body = json.loads(managed.body)
    assert body == {"uuid": managed.checksum, "checksum": managed.checksum, "settings": settings}
    assert managed.etag == f'"{managed.checksum}"'.encode()
