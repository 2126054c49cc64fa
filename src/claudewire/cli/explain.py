"""`claudewire explain`: paste an error, get its kind, whether to retry, the cause, the fix and the doctor check."""

from __future__ import annotations

import json
import sys

import click

from claudewire.explain import explain as explain_text
from claudewire.explain import explain_json

_EPILOG = """\b
Examples:
  claudewire explain "anthropic.RateLimitError: Error code: 429 - {'type': 'error', ...}"
  claudewire explain "[SSL: CERTIFICATE_VERIFY_FAILED] unable to get local issuer certificate"
  pbpaste | claudewire explain --json
"""


@click.command(
    "explain", epilog=_EPILOG, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110}
)
@click.argument("text", required=False)
@click.option("--json", "as_json", is_flag=True, help='Print {"kind","retryable","cause","fix","check"} as JSON.')
def explain(text: str | None, as_json: bool) -> None:
    """Explain an error message, traceback, status line or JSON body (read from stdin when TEXT is absent)."""
    if text is None:
        if sys.stdin.isatty():
            raise click.UsageError("paste the error as an argument, or pipe it on stdin")
        text = sys.stdin.read()
    try:
        failure = explain_text(text)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if as_json:
        click.echo(json.dumps(explain_json(failure), indent=2, ensure_ascii=False))
        return
    retry = "yes" if failure.retryable else "no"
    if failure.retryable and failure.retry_after is not None:
        retry += f" (after {failure.retry_after:g}s)"
    status = f" (HTTP {failure.status})" if failure.status else ""
    click.echo(f"kind:      {failure.kind.value}{status}")
    click.echo(f"retryable: {retry}")
    click.echo(f"cause:     {failure.cause}")
    click.echo(f"fix:       {failure.fix}")
    click.echo(f"check:     claudewire doctor  (the {failure.check!r} check confirms it)")
