"""--profile claude-code sees what Claude Code sees: its settings files' env, apiKeyHelper, OAuth sign-in."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from claudewire.doctor import Status, render_json, run
from claudewire.doctor.claude_code import claude_code_view
from claudewire.doctor.config import check_config
from claudewire.doctor.settings import Settings
from claudewire.sim import SimServer
from tests.doctor.conftest import KEY

TOKEN = "sk-ant-oat01-secret-access-token-DO-NOT-PRINT"


def _write(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh HOME and working directory (no project settings of the checkout leak in)."""
    work = tmp_path / "project"
    work.mkdir()
    monkeypatch.chdir(work)
    return tmp_path / "home"


def _settings(home: Path, **env: str) -> Settings:
    return Settings.from_env({"HOME": str(home), **env}, profile="claude-code", timeout=2.0)


def test_user_settings_env_gives_the_base_url_and_key_with_their_source(home: Path, sim: SimServer) -> None:
    """A base URL and key in ~/.claude/settings.json's env are used (as claude -p does) and named by their file."""
    user = _write(home / ".claude" / "settings.json", {"env": {"ANTHROPIC_BASE_URL": sim.base_url,
                                                               "ANTHROPIC_API_KEY": KEY}})  # fmt: skip
    settings = _settings(home)
    assert settings.base_url == sim.base_url
    assert settings.key_source == f"ANTHROPIC_API_KEY from {user}"
    report = run(settings)
    assert report.get("auth").status is Status.PASS
    variables = report.get("config").evidence["claude_code"]["variables"]  # type: ignore[index]
    assert variables["ANTHROPIC_BASE_URL"] == f"{sim.base_url} (from {user})"  # type: ignore[index]
    assert KEY not in render_json(report)


def test_project_settings_win_over_user_and_managed_over_all(home: Path, tmp_path: Path) -> None:
    """Precedence as Claude Code applies it: user < project < local project < managed; the shell is below all."""
    _write(home / ".claude" / "settings.json", {"env": {"ANTHROPIC_MODEL": "user", "API_TIMEOUT_MS": "1"}})
    project = _write(Path.cwd() / ".claude" / "settings.json", {"env": {"ANTHROPIC_MODEL": "project"}})
    managed = _write(tmp_path / "managed.json", {"env": {"API_TIMEOUT_MS": "900000"}})
    view = claude_code_view({"HOME": str(home), "ANTHROPIC_MODEL": "shell"}, managed=managed)
    assert view.env["ANTHROPIC_MODEL"] == "project" and view.sources["ANTHROPIC_MODEL"] == str(project)
    assert view.env["API_TIMEOUT_MS"] == "900000" and view.sources["API_TIMEOUT_MS"] == str(managed)


def test_api_key_helper_supplies_the_key(home: Path) -> None:
    """apiKeyHelper's output is the key when no variable holds one; its source is the settings file."""
    user = _write(home / ".claude" / "settings.json", {"apiKeyHelper": "echo sk-ant-api03-from-helper-WXYZ"})
    settings = _settings(home)
    assert settings.api_key == "sk-ant-api03-from-helper-WXYZ"
    assert settings.key_source == f"apiKeyHelper from {user}"


def test_a_failing_helper_is_reported(home: Path) -> None:
    """A helper that exits non-zero is named in the config check, not silently 'no API key'."""
    _write(home / ".claude" / "settings.json", {"apiKeyHelper": "exit 3"})
    result = check_config(_settings(home)).result
    assert result.status is Status.FAIL
    assert "apiKeyHelper exited with status 3" in result.detail


def test_oauth_sign_in_is_seen_without_printing_the_token(home: Path, sim: SimServer) -> None:
    """A claude.ai sign-in is reported (plan, validity, refresh) instead of 'no API key'; the token never shows."""
    _write(home / ".claude" / ".credentials.json", {"claudeAiOauth": {
        "accessToken": TOKEN, "refreshToken": "sk-ant-ort01-refresh-secret",
        "expiresAt": int(time.time() + 3600) * 1000,
        "scopes": ["user:inference", "user:profile"], "subscriptionType": "max"}})  # fmt: skip
    outcome = check_config(_settings(home))
    result = outcome.result
    assert "no API key: set ANTHROPIC_API_KEY" not in result.detail
    assert "claude.ai sign-in (max) (valid" in result.detail
    assert result.status is Status.WARN and not outcome.key_ok
    auth = run(_settings(home, ANTHROPIC_BASE_URL=sim.base_url)).get("auth")
    assert auth.detail.startswith("skipped: no API key to act as Claude Code's sign-in")
    oauth = result.evidence["claude_code"]["oauth"]  # type: ignore[index]
    assert oauth["refreshable"] is True and oauth["scopes"] == ["user:inference", "user:profile"]  # type: ignore[index]
    assert TOKEN not in json.dumps(result.evidence) and "refresh-secret" not in json.dumps(result.evidence)


def test_an_expired_sign_in_without_refresh_fails(home: Path) -> None:
    """An expired access token with no refresh token fails config with `claude /login`."""
    _write(home / ".claude" / ".credentials.json", {"claudeAiOauth": {"accessToken": TOKEN, "expiresAt": 1000}})
    result = check_config(_settings(home)).result
    assert result.status is Status.FAIL
    assert "claude /login" in result.detail


def test_node_and_claude_code_variables_are_checked(home: Path, tmp_path: Path) -> None:
    """A missing CLAUDE_CODE_CLIENT_CERT fails, a tiny API_TIMEOUT_MS warns, NODE_USE_SYSTEM_CA joins the trust."""
    settings = _settings(home, ANTHROPIC_API_KEY=KEY, CLAUDE_CODE_CLIENT_CERT=str(tmp_path / "nope.pem"),
                         API_TIMEOUT_MS="1000", NODE_USE_SYSTEM_CA="1")  # fmt: skip
    result = check_config(settings).result
    assert "CLAUDE_CODE_CLIENT_CERT" in result.detail and "does not exist" in result.detail
    assert "API_TIMEOUT_MS=1000 ms is short" in result.detail
    assert "NODE_USE_SYSTEM_CA=1" in settings.trust_source()


def test_both_key_variables_set_is_flagged(home: Path) -> None:
    """ANTHROPIC_API_KEY and ANTHROPIC_AUTH_TOKEN both set: a warning naming both (any profile)."""
    settings = Settings.from_env({"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_AUTH_TOKEN": KEY})
    result = check_config(settings).result
    assert result.status is Status.WARN
    assert "both ANTHROPIC_API_KEY and ANTHROPIC_AUTH_TOKEN" in result.detail


def test_no_key_and_no_sign_in_points_subscribers_to_claude_login(home: Path) -> None:
    """Neither a key nor a claude.ai sign-in: config fails and the fix offers `claude /login` for subscribers
    before the API-key route (the api profile, which cannot use a subscription, is not told to log in)."""
    result = check_config(_settings(home)).result
    assert result.status is Status.FAIL and "no claude.ai sign-in" in result.detail
    fix = result.fix or ""
    assert "`claude /login`" in fix and fix.index("claude /login") < fix.index("ANTHROPIC_API_KEY")
    api = check_config(Settings.from_env({"HOME": str(home)})).result
    assert "claude /login" not in (api.fix or "")
