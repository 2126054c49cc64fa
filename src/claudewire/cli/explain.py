"""`claudewire explain`: paste an error, get its kind, whether to retry, the cause, the fix and the doctor check."""

from __future__ import annotations

import json
import shutil
import sys
import textwrap

import click

from claudewire._errors import FailureKind
from claudewire.explain import explain as explain_text
from claudewire.explain import explain_json

_EPILOG = """\b
Examples:
  claudewire explain "anthropic.RateLimitError: Error code: 429 - {'type': 'error', ...}"
  claudewire explain "[SSL: CERTIFICATE_VERIFY_FAILED] unable to get local issuer certificate"
  pbpaste | claudewire explain --json
  claudewire explain                  in a terminal: paste the error, then Ctrl-D (Ctrl-Z Enter on Windows)

\b
Exit codes:
  0  the error was recognised (kind, cause and fix printed)
  1  kind unknown: nothing in the text is recognisable; run `claudewire doctor`
  2  usage error (no text)
"""

_PROMPT = "Paste the error message, then press Ctrl-D on a new line (Ctrl-Z Enter on Windows):"


def _hanging(label: str, text: str) -> str:
    """`text` after `label`, wrapped to the terminal with continuation lines indented under the text."""
    width = max(60, min(shutil.get_terminal_size((100, 24)).columns, 120))
    return textwrap.fill(text, width, initial_indent=label, subsequent_indent=" " * len(label), break_on_hyphens=False)


def _read_stdin() -> str:
    if sys.stdin.isatty():
        # a person at a terminal: say what to do instead of waiting silently (or refusing)
        click.echo(_PROMPT, err=True)
    return sys.stdin.read()


@click.command(
    "explain", epilog=_EPILOG, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110}
)
@click.argument("text", required=False)
@click.option("--json", "as_json", is_flag=True, help='Print {"kind","retryable","cause","fix","check"} as JSON.')
def explain(text: str | None, as_json: bool) -> None:
    """Explain an error message, traceback, status line or JSON body (read from stdin when TEXT is absent).

    It knows Python and TypeScript SDK errors, Claude Code's and Cursor's messages, Bedrock and Vertex errors,
    OpenSSL, curl and socket errors, proxies, and the errors claudewire's own gateway writes.
    """
    if text is None:
        text = _read_stdin()
    try:
        failure = explain_text(text)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    unknown = failure.kind is FailureKind.UNKNOWN
    if as_json:
        click.echo(json.dumps(explain_json(failure), indent=2, ensure_ascii=False))
        sys.exit(1 if unknown else 0)
    retry = "yes" if failure.retryable else "no"
    if failure.retryable and failure.retry_after is not None:
        retry += f" (after {failure.retry_after:g}s)"
    status = f" (HTTP {failure.status})" if failure.status else ""
    click.echo(f"kind:      {failure.kind.value}{status}")
    click.echo(f"retryable: {retry}")
    click.echo(_hanging("cause:     ", failure.cause))
    click.echo(_hanging("fix:       ", failure.fix))
    click.echo(f"check:     claudewire doctor  (the {failure.check!r} check confirms it)")
    if unknown:
        sys.exit(1)
