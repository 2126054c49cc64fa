"""The `claudewire` entry points: console script, `python -m claudewire`, help and unknown commands."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from claudewire.cli import cli


def test_help_lists_every_subcommand_with_its_summary() -> None:
    """`claudewire --help` teaches where to start and lists each subcommand that is installed."""
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "claudewire doctor --sim" in result.output
    for name in ("sim", "doctor", "explain", "proxy"):
        assert name in result.output


def test_unknown_command_is_a_usage_error() -> None:
    """A mistyped subcommand exits 2 with click's usage message, not a traceback."""
    result = CliRunner().invoke(cli, ["doctr"])
    assert result.exit_code == 2
    assert "No such command" in result.output


def test_python_dash_m_runs_the_cli() -> None:
    """`python -m claudewire --version` works like the console script."""
    out = subprocess.run(
        [sys.executable, "-m", "claudewire", "--version"], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.startswith("claudewire, version ")
