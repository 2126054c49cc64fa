"""What Claude Code sees: its settings files' ``env``, ``apiKeyHelper``, ``model`` and OAuth sign-in, with sources.

Claude Code applies the ``env`` object of its settings files on top of the shell's environment, the more specific
file winning: user (``~/.claude/settings.json``), project (``.claude/settings.json``), local project
(``.claude/settings.local.json``), then the managed settings an administrator installs (they win over everything).
A base URL or key set there works for ``claude -p`` while the shell has none, so `claude_code_view` reads them the
same way and records where each value came from. Its credentials: an API key (``ANTHROPIC_API_KEY``, or the output
of ``apiKeyHelper``), else the claude.ai sign-in stored in ``~/.claude/.credentials.json`` (the macOS Keychain on a
Mac, which is not read here). No token is ever returned or printed: only whether it is there, when it expires, and
whether it can be refreshed. Its gateway sign-in ("Cloud gateway" in ``/login``) goes to ``forceLoginGatewayUrl``,
which Claude Code honours from the managed settings, or from the user's own settings on a machine with none.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ClaudeCodeView", "OAuthState", "claude_code_view", "managed_settings_path", "run_key_helper"]

_log = logging.getLogger(__name__)


def managed_settings_path() -> Path:
    """Where an administrator's managed settings live on this platform."""
    if sys.platform == "darwin":
        return Path("/Library/Application Support/ClaudeCode/managed-settings.json")
    if sys.platform.startswith("win"):
        return Path("C:/ProgramData/ClaudeCode/managed-settings.json")
    return Path("/etc/claude-code/managed-settings.json")


@dataclass(frozen=True, slots=True)
class OAuthState:
    """Claude Code's claude.ai sign-in, without its tokens: where it is stored, expiry, refresh, plan and scopes."""

    source: str
    expires_at: float | None = None  # epoch seconds
    refreshable: bool = False
    subscription: str | None = None
    scopes: tuple[str, ...] = ()

    def expired(self, now: float) -> bool:
        """Whether the access token's expiry has passed (it refreshes by itself when `refreshable`)."""
        return self.expires_at is not None and self.expires_at <= now


@dataclass(frozen=True, slots=True)
class ClaudeCodeView:
    """The environment Claude Code runs with, each variable's source, its key helper and its sign-in."""

    env: Mapping[str, str]
    sources: Mapping[str, str] = field(default_factory=dict)  # variable -> "shell" or the settings file path
    files: tuple[str, ...] = ()  # settings files read, lowest precedence first
    key_helper: str | None = None
    key_helper_source: str | None = None
    oauth: OAuthState | None = None
    problems: tuple[str, ...] = ()  # unreadable settings files, a malformed env ...
    model: str | None = None  # the settings files' top-level "model" (the most specific file wins)
    model_source: str | None = None  # the file it came from
    gateway_url: str | None = None  # forceLoginGatewayUrl: the gateway Claude Code's /login signs in to
    gateway_url_source: str | None = None  # the file it came from


def _read_json(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        return None, f"{path} cannot be read: {exc.strerror or exc}"
    try:
        data = json.loads(text)
    except ValueError as exc:
        return None, f"{path} is not valid JSON ({exc}): Claude Code ignores it"
    return (data, None) if isinstance(data, dict) else (None, f"{path} is not a JSON object")


def _oauth(home: Path) -> OAuthState | None:
    path = home / ".claude" / ".credentials.json"
    data, _ = _read_json(path)
    oauth = data.get("claudeAiOauth") if data else None
    if not isinstance(oauth, Mapping) or not oauth.get("accessToken"):
        return None
    expires = oauth.get("expiresAt")
    expires_at = expires / 1000.0 if isinstance(expires, int | float) and expires > 1e11 else expires
    scopes = oauth.get("scopes")
    return OAuthState(
        source=str(path),
        expires_at=float(expires_at) if isinstance(expires_at, int | float) else None,
        refreshable=bool(oauth.get("refreshToken")),
        subscription=str(oauth["subscriptionType"]) if oauth.get("subscriptionType") else None,
        scopes=tuple(str(s) for s in scopes) if isinstance(scopes, list) else (),
    )


def claude_code_view(
    env: Mapping[str, str], *, home: Path | None = None, cwd: Path | None = None, managed: Path | None = None
) -> ClaudeCodeView:
    """The environment as Claude Code would run with it in `cwd`, and where each variable came from."""
    home = home if home is not None else Path(env.get("HOME") or Path.home())
    cwd = cwd if cwd is not None else Path.cwd()
    config_dir = Path(env["CLAUDE_CONFIG_DIR"]) if env.get("CLAUDE_CONFIG_DIR") else home / ".claude"
    paths = [
        config_dir / "settings.json",
        cwd / ".claude" / "settings.json",
        cwd / ".claude" / "settings.local.json",
        managed if managed is not None else managed_settings_path(),
    ]
    merged = dict(env)
    sources = dict.fromkeys(env, "shell")
    files: list[str] = []
    problems: list[str] = []
    helper: str | None = None
    helper_source: str | None = None
    model: str | None = None
    model_source: str | None = None
    gateways: dict[str, str] = {}  # settings file -> its forceLoginGatewayUrl
    for path in paths:
        data, problem = _read_json(path)
        if problem:
            problems.append(problem)
        if data is None:
            continue
        files.append(str(path))
        values = data.get("env")
        if isinstance(values, Mapping):
            for name, value in values.items():
                merged[str(name)] = str(value)
                sources[str(name)] = str(path)
        elif values is not None:
            problems.append(f"{path}: env must be an object of strings")
        if isinstance(data.get("apiKeyHelper"), str) and data["apiKeyHelper"].strip():
            helper, helper_source = data["apiKeyHelper"].strip(), str(path)
        if isinstance(data.get("model"), str) and data["model"].strip():
            model, model_source = data["model"].strip(), str(path)
        if isinstance(data.get("forceLoginGatewayUrl"), str) and data["forceLoginGatewayUrl"].strip():
            gateways[str(path)] = data["forceLoginGatewayUrl"].strip()
    # the managed file's, else (no managed file at all) the user's own; project and local files do not count
    chosen = str(paths[3]) if str(paths[3]) in files else str(paths[0])
    gateway = gateways.get(chosen)
    return ClaudeCodeView(
        merged,
        sources,
        tuple(files),
        helper,
        helper_source,
        _oauth(home),
        tuple(problems),
        model,
        model_source,
        gateway,
        chosen if gateway else None,
    )


def run_key_helper(command: str, timeout: float) -> tuple[str | None, str | None]:
    """Run ``apiKeyHelper`` as Claude Code does (a shell command whose stdout is the key): (key, problem)."""
    started = time.monotonic()
    try:
        # a command the user configured for exactly this purpose; Claude Code runs it through the shell too
        done = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=timeout, check=False)  # noqa: S602
    except subprocess.TimeoutExpired:
        return None, f"apiKeyHelper did not finish within {timeout:g}s"
    except OSError as exc:
        return None, f"apiKeyHelper could not run: {exc.strerror or exc}"
    _log.debug("apiKeyHelper finished in %.0f ms with status %d", (time.monotonic() - started) * 1000, done.returncode)
    key = done.stdout.strip()
    if done.returncode != 0:
        return None, f"apiKeyHelper exited with status {done.returncode}"
    if not key:
        return None, "apiKeyHelper printed nothing"
    return key, None
