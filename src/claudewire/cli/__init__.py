"""The `claudewire` command line: parse, call the library, render.

Each subcommand lives in its own module (`claudewire.cli.<name>`) exposing a click command named like the
module; it is imported only when that subcommand runs, so `claudewire --help` stays fast and a missing optional
dependency of one subcommand never breaks the others.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

import click

# name -> one-line help shown in `claudewire --help` (kept here so listing needs no imports)
_COMMANDS: dict[str, str] = {
    "doctor": "Diagnose the connection to the Claude API, layer by layer, with a fix for each failure.",
    "explain": "Explain an error message, traceback or status line: its cause, whether to retry, the fix.",
    "sim": "Run an Anthropic-compatible API simulator with fault injection on 127.0.0.1.",
    "proxy": "Run a local Anthropic-native gateway with retries, a circuit breaker and metrics.",
    "top": "Watch a claudewire gateway's metrics live in the terminal.",
}


def _available(name: str) -> bool:
    return importlib.util.find_spec(f"claudewire.cli.{name}") is not None


class _LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in _COMMANDS if _available(name))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in _COMMANDS or not _available(cmd_name):
            return None
        module = importlib.import_module(f"claudewire.cli.{cmd_name}")
        command = getattr(module, cmd_name)
        if not isinstance(command, click.Command):
            raise TypeError(f"claudewire.cli.{cmd_name}.{cmd_name} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, _COMMANDS[name]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(
    cls=_LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
)
@click.version_option(package_name="claudewire", prog_name="claudewire")
def cli() -> None:
    """Find out why a connection to the Claude API fails, and keep it working.

    \b
    Start here, with no key and no network:
      claudewire doctor --sim        diagnose the built-in simulator
      claudewire doctor              diagnose your own setup (ANTHROPIC_API_KEY, proxies, TLS ...)
      claudewire explain "..."       paste an error, get its cause and fix
    """


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the `claudewire` console script."""
    return cli.main(args=argv, prog_name="claudewire")
