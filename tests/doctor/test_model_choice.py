"""The doctor checks the model the profile's tool will use (Claude Code: ANTHROPIC_MODEL, its settings' model, its
version's default) and its model fix names only current models, in the tool's own way to change it."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from claudewire.doctor import Status, run
from claudewire.doctor.model_choice import claude_code_default, how_to_use, parse_version, tier_alias
from claudewire.doctor.settings import Settings
from claudewire.sim import SimServer
from claudewire.sim.catalogue import Lifecycle
from claudewire.testing import run_sim
from tests.doctor.conftest import KEY, OPUS_4_5_DEPRECATED, settings_for

CLAUDE = Path(__file__).resolve().parent.parent / "js" / "node_modules" / ".bin" / "claude"


@pytest.mark.parametrize(
    ("version", "model"),
    [
        ((2, 1, 332), "claude-opus-5-5"),
        ((2, 1, 400), "claude-opus-5-5"),
        ((3, 0, 0), "claude-opus-5-5"),
        ((2, 1, 331), "claude-opus-4-8"),
        ((2, 1, 197), "claude-opus-4-8"),
        ((2, 0, 14), "claude-opus-4-8"),  # older than every row: the oldest default known
        (None, "claude-opus-5-5"),  # not installed: what a fresh install asks for
    ],
)
def test_the_default_model_follows_the_claude_code_version(version: tuple[int, int, int] | None, model: str) -> None:
    """2.1.332 and later default to claude-opus-5-5, 2.1.197 up to 2.1.331 to claude-opus-4-8."""
    assert claude_code_default(version) == model


def test_versions_and_aliases_are_read_as_claude_code_writes_them() -> None:
    """`claude --version` prints "2.1.332 (Claude Code)"; sonnet[1m] is a Sonnet, opusplan works with Sonnet."""
    assert parse_version("2.1.332 (Claude Code)\n") == (2, 1, 332)
    assert parse_version("claude: command not found") is None
    assert [tier_alias(a) for a in ("opus", "sonnet[1m]", "opusplan", "HAIKU", "claude-opus-4-8")] == [
        "opus",
        "sonnet",
        "sonnet",
        "haiku",
        None,
    ]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh HOME and working directory (no settings of the checkout or this machine leak in)."""
    work = tmp_path / "project"
    work.mkdir()
    monkeypatch.chdir(work)
    return tmp_path / "home"


def _settings_file(home: Path, data: object) -> Path:
    path = home / ".claude" / "settings.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def _fake_claude(directory: Path, version: str) -> str:
    """A `claude` that answers --version like Claude Code `version` does; the PATH to find it."""
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / "claude"
    script.write_text(f'#!/bin/sh\necho "{version} (Claude Code)"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return f"{directory}{os.pathsep}/usr/bin{os.pathsep}/bin"


def test_with_nothing_pinned_the_installed_versions_default_is_checked(home: Path, tmp_path: Path) -> None:
    """No ANTHROPIC_MODEL, no settings model: Claude Code 2.1.332 on PATH means claude-opus-5-5 is checked (not
    claude-haiku-4-5), and the source says why."""
    path = _fake_claude(tmp_path / "bin", "2.1.332")
    settings = Settings.from_env({"HOME": str(home), "PATH": path}, profile="claude-code", timeout=2.0)
    assert settings.model == "claude-opus-5-5"
    assert settings.model_source == "Claude Code 2.1.332's default"


def test_precedence_is_claude_codes_own(home: Path, tmp_path: Path) -> None:
    """--model, then ANTHROPIC_MODEL (shell or settings env), then the settings' model, then the version's default;
    "default" in a setting is the version's default, and ANTHROPIC_DEFAULT_SONNET_MODEL pins what sonnet means."""
    path = _fake_claude(tmp_path / "bin", "2.1.197")
    user = _settings_file(home, {"model": "claude-sonnet-4-6"})
    env = {"HOME": str(home), "PATH": path}
    assert Settings.from_env(env, profile="claude-code").model_source == f"model in {user}"
    shell = Settings.from_env({**env, "ANTHROPIC_MODEL": "claude-haiku-4-5"}, profile="claude-code")
    assert (shell.model, shell.model_source) == ("claude-haiku-4-5", "ANTHROPIC_MODEL")
    flag = Settings.from_env({**env, "ANTHROPIC_MODEL": "claude-haiku-4-5"}, profile="claude-code", model="x")
    assert (flag.model, flag.model_source) == ("x", "--model")
    _settings_file(home, {"model": "default"})
    assert Settings.from_env(env, profile="claude-code").model == "claude-opus-4-8"
    _settings_file(home, {"model": "sonnet"})
    pinned = Settings.from_env({**env, "ANTHROPIC_DEFAULT_SONNET_MODEL": "claude-sonnet-4-6"}, profile="claude-code")
    assert pinned.model == "claude-sonnet-4-6" and "ANTHROPIC_DEFAULT_SONNET_MODEL" in (pinned.model_source or "")


def test_a_model_pinned_in_claude_codes_settings_is_the_one_checked(home: Path, sim: SimServer) -> None:
    """ "model": "claude-sonnet-4-6" in ~/.claude/settings.json: the doctor retrieves claude-sonnet-4-6, sends its
    messages to it, and says where the choice came from."""
    user = _settings_file(home, {"model": "claude-sonnet-4-6", "env": {"ANTHROPIC_BASE_URL": sim.base_url}})
    settings = Settings.from_env({"HOME": str(home), "ANTHROPIC_API_KEY": KEY}, profile="claude-code", timeout=2.0)
    report = run(settings)
    model = report.get("model")
    assert model.status is Status.PASS, model
    assert f"claude-sonnet-4-6 (model in {user}) is active" == model.detail
    assert "/v1/models/claude-sonnet-4-6" in {r.path for r in sim.requests}
    assert "/v1/models/claude-haiku-4-5" not in {r.path for r in sim.requests}
    assert report.get("messages").status is Status.PASS


def test_an_alias_in_the_settings_is_resolved_against_the_listing(home: Path, sim: SimServer) -> None:
    """ "model": "sonnet" is checked as the newest active Sonnet the API lists, as Claude Code resolves it."""
    _settings_file(home, {"model": "sonnet", "env": {"ANTHROPIC_BASE_URL": sim.base_url}})
    settings = Settings.from_env({"HOME": str(home), "ANTHROPIC_API_KEY": KEY}, profile="claude-code", timeout=2.0)
    newest = next(
        m.id for m in sim.catalogue.models if "sonnet" in m.id and sim.catalogue.lifecycle(m) is Lifecycle.ACTIVE
    )
    model = run(settings).get("model")
    assert model.status is Status.PASS
    assert model.evidence["alias"] == "sonnet" and model.evidence["model"] == newest
    assert f"/v1/models/{newest}" in {r.path for r in sim.requests}


@pytest.mark.skipif(
    not CLAUDE.exists(), reason="tests/js/node_modules lacks @anthropic-ai/claude-code: run ./scripts/test"
)
def test_the_installed_claude_code_is_asked_its_version(home: Path, sim: SimServer) -> None:
    """With the real Claude Code (2.1.197 in tests/js) on PATH, its default (claude-opus-4-8) is the model checked."""
    env = {"HOME": str(home), "PATH": f"{CLAUDE.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    settings = Settings.from_env({**env, "ANTHROPIC_BASE_URL": sim.base_url, "ANTHROPIC_API_KEY": KEY},
                                 profile="claude-code", timeout=5.0)  # fmt: skip
    assert settings.model_source is not None and settings.model_source.startswith("Claude Code 2.")
    model = run(settings).get("model")
    assert model.status is Status.PASS
    assert model.evidence["model"] == settings.model


def test_the_claude_code_fix_is_slash_model_and_the_file_that_pins_it(home: Path, sim: SimServer) -> None:
    """A retired model pinned in the settings: the fix names a current model, `/model <it>`, ANTHROPIC_MODEL and the
    file to edit; never a doctor flag."""
    user = _settings_file(home, {"model": "claude-3-5-sonnet-latest", "env": {"ANTHROPIC_BASE_URL": sim.base_url}})
    settings = Settings.from_env({"HOME": str(home), "ANTHROPIC_API_KEY": KEY}, profile="claude-code", timeout=2.0)
    model = run(settings).get("model")
    fix = model.fix or ""
    assert model.status is Status.FAIL
    assert "/model claude-sonnet-5-5" in fix and "ANTHROPIC_MODEL=claude-sonnet-5-5" in fix
    assert f'change "model" in {user}' in fix
    assert "--model" not in fix


def test_a_near_miss_of_a_deprecated_model_is_answered_with_a_current_one() -> None:
    """A typo one letter from claude-opus-4-5-20251101 (deprecated) is told its tier's newest active model, never the
    deprecated id, and in the SDK's words (model=), never a doctor flag."""
    with run_sim(seed=0, today=OPUS_4_5_DEPRECATED) as sim:
        active = {m.id for m in sim.catalogue.models if sim.catalogue.lifecycle(m) is Lifecycle.ACTIVE}
        check = run(settings_for(sim.base_url, model="claude-opus-4-5-2025110", today=OPUS_4_5_DEPRECATED)).get("model")
    fix = check.fix or ""
    assert check.status is Status.FAIL and "it looks like claude-opus-4-5-20251101 (deprecated)" in check.detail
    named = fix.split("use ", 1)[1].split(":", 1)[0]
    assert named in active and "opus" in named
    assert f'model="{named}"' in fix
    assert "--model" not in fix


def test_each_profile_is_told_its_own_way_to_switch() -> None:
    """Claude Code: /model or ANTHROPIC_MODEL; the SDK: model=; Cursor: its model picker."""
    assert "/model claude-sonnet-4-6" in how_to_use("claude-code", "claude-sonnet-4-6", None)
    assert 'model="claude-sonnet-4-6"' in how_to_use("api", "claude-sonnet-4-6", "--model")
    assert "Cursor" in how_to_use("cursor", "claude-sonnet-4-6", None)
