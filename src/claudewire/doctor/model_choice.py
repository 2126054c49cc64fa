"""Which model the profile's tool will ask for, where that choice came from, and how to change it in that tool.

Claude Code takes its model, in this order, from ``/model`` in a session, ``claude --model``, ``ANTHROPIC_MODEL``
(the shell or a settings file's ``env``), the ``model`` key of its settings files, and else its own default, which
changes with its version (2.1.197 asks for claude-opus-4-8, 2.1.332 for claude-opus-5-5). `claude_code_version`
asks the installed ``claude`` (``claude --version``, bounded) and `claude_code_default` maps the version to that
default. A value may be an alias (``opus``, ``sonnet[1m]``, ``opusplan``, ``default``): `tier_alias` names the tier
it stands for, resolved against the API's model listing when the checks run (`resolve_alias`), as Claude Code
resolves it to the newest model of that tier.

The fix for a model problem speaks the tool's language (`how_to_use`): ``/model`` or ``ANTHROPIC_MODEL`` for Claude
Code, the ``model=`` argument for SDK users, the model picker for Cursor; never a doctor flag.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CLAUDE_CODE_DEFAULTS",
    "ClaudeCodeInstall",
    "alias_variable",
    "claude_code_default",
    "claude_code_version",
    "how_to_use",
    "parse_version",
    "resolve_alias",
    "tier_alias",
]

_log = logging.getLogger(__name__)

CLAUDE_CODE_DEFAULTS: tuple[tuple[tuple[int, int, int], str], ...] = (
    # (the first version known to ask for it, the model), newest first: a version uses the first row it reaches.
    ((2, 1, 332), "claude-opus-5-5"),
    ((2, 1, 197), "claude-opus-4-8"),  # measured: `claude -p` with an API key against a recording server
)
"""Claude Code's default model by version, for a user with an API key (what the doctor's keyed checks act as)."""

# Claude Code's aliases and the tier each stands for; "opusplan" plans with Opus and does the work with Sonnet.
_ALIASES = {
    "opus": "opus",
    "sonnet": "sonnet",
    "haiku": "haiku",
    "fable": "fable",
    "best": "opus",
    "opusplan": "sonnet",
}
_ALIAS_VARIABLES = {
    "opus": "ANTHROPIC_DEFAULT_OPUS_MODEL",
    "sonnet": "ANTHROPIC_DEFAULT_SONNET_MODEL",
    "haiku": "ANTHROPIC_DEFAULT_HAIKU_MODEL",
    "fable": "ANTHROPIC_DEFAULT_FABLE_MODEL",
}


def parse_version(text: str) -> tuple[int, int, int] | None:
    """The first ``X.Y.Z`` in `text` (``2.1.197 (Claude Code)`` → (2, 1, 197)), or None."""
    found = re.search(r"(\d+)\.(\d+)\.(\d+)", text)
    return (int(found.group(1)), int(found.group(2)), int(found.group(3))) if found else None


def claude_code_default(version: tuple[int, int, int] | None) -> str:
    """The model Claude Code `version` asks for by default (None, or newer than every row: the newest known)."""
    if version is None:
        return CLAUDE_CODE_DEFAULTS[0][1]
    for first, model in CLAUDE_CODE_DEFAULTS:
        if version >= first:
            return model
    return CLAUDE_CODE_DEFAULTS[-1][1]  # older than every row: the oldest default known


@dataclass(frozen=True, slots=True)
class ClaudeCodeInstall:
    """The ``claude`` found for this user: its path and version (None when not found or it did not say)."""

    path: str | None = None
    version: tuple[int, int, int] | None = None
    problem: str | None = None

    @property
    def shown(self) -> str:
        """The version as ``2.1.197``, or None's words."""
        return ".".join(map(str, self.version)) if self.version else "unknown"


def claude_code_version(env: Mapping[str, str], home: Path, timeout: float) -> ClaudeCodeInstall:
    """Find ``claude`` on `env`'s PATH (then the native and local installs under `home`) and ask its version."""
    candidates = [shutil.which("claude", path=env.get("PATH", ""))]
    candidates += [str(p) for p in (home / ".local" / "bin" / "claude", home / ".claude" / "local" / "claude")]
    binary = next((c for c in candidates if c and Path(c).is_file()), None)
    if binary is None:
        return ClaudeCodeInstall(problem="claude is not on PATH")
    try:
        done = subprocess.run(  # noqa: S603  (the user's own claude, asked only for its version)
            [binary, "--version"], capture_output=True, text=True, timeout=timeout, env=dict(env), check=False
        )
    except subprocess.TimeoutExpired:
        return ClaudeCodeInstall(binary, problem=f"`claude --version` did not answer within {timeout:g}s")
    except OSError as exc:
        return ClaudeCodeInstall(binary, problem=f"`claude --version` could not run: {exc.strerror or exc}")
    version = parse_version(done.stdout)
    _log.debug("%s --version: %r (status %d)", binary, done.stdout.strip(), done.returncode)
    if done.returncode != 0 or version is None:
        return ClaudeCodeInstall(binary, problem=f"`claude --version` said {done.stdout.strip()[:60]!r}")
    return ClaudeCodeInstall(binary, version)


def tier_alias(model: str) -> str | None:
    """The tier a Claude Code alias stands for (``sonnet[1m]`` → sonnet, ``opusplan`` → sonnet); None for an id."""
    return _ALIASES.get(re.sub(r"\[1m\]$", "", model.strip().lower()))


def alias_variable(model: str, env: Mapping[str, str]) -> tuple[str, str] | None:
    """(variable, model) when ``ANTHROPIC_DEFAULT_<TIER>_MODEL`` pins what the alias `model` means, else None."""
    tier = tier_alias(model)
    name = _ALIAS_VARIABLES.get(tier or "")
    value = env.get(name or "", "").strip()
    return (name, value) if name and value else None


def resolve_alias(tier: str, listed_ids: Sequence[str]) -> str | None:
    """The newest listed id of `tier` (the listing is newest first), as Claude Code resolves its alias."""
    return next((m for m in listed_ids if tier in m.lower()), None)


def how_to_use(profile: str, model: str, source: str | None) -> str:
    """How to make the profile's tool use `model`, in that tool's own words (`source`: where the choice came from)."""
    if profile == "claude-code":
        where = ""
        if source and source.startswith("model in "):
            where = f' (or change "model" in {source.removeprefix("model in ")})'
        elif source and source.startswith("ANTHROPIC_MODEL from "):
            where = f" (it is set in {source.removeprefix('ANTHROPIC_MODEL from ')}: change it there)"
        return f"in Claude Code run `/model {model}`, or set ANTHROPIC_MODEL={model}{where}"
    if profile == "cursor":
        return f"pick {model} in Cursor's model picker (Cursor Settings → Models)"
    return f'set model="{model}" in your SDK calls (client.messages.create(model=...))'
