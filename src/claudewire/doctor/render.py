"""Render a `Report`: a rich terminal table with the fixes under it, the ``--json`` contract, or markdown.

All three read the same `Report`, so they cannot disagree. Every renderer scrubs its output: key-looking strings
are redacted, and so is any secret the caller names (a key that does not look like one).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable

from rich.console import Console
from rich.table import Table
from rich.text import Text

from claudewire._secrets import redact, redact_text
from claudewire.doctor.result import CheckResult, Report, Status

__all__ = ["LiveRows", "render_json", "render_markdown", "render_terminal", "scrub"]

_STYLE = {Status.PASS: "green", Status.WARN: "yellow", Status.FAIL: "bold red", Status.SKIP: "dim"}


def scrub(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`text` with key-looking strings and each of `secrets` redacted."""
    for secret in secrets:
        if secret and len(secret.strip()) >= 4:
            text = text.replace(secret, redact(secret)).replace(secret.strip(), redact(secret))
    return redact_text(text)


def _ms(value: float) -> str:
    return f"{value / 1000:.1f} s" if value >= 1000 else f"{value:.0f} ms"


def _summary(report: Report) -> str:
    counts = {s: sum(1 for c in report.checks if c.status is s) for s in Status}
    parts = [f"{counts[s]} {s.value}" for s in (Status.FAIL, Status.WARN, Status.PASS, Status.SKIP) if counts[s]]
    return f"{report.verdict.value.upper()} ({', '.join(parts)}) in {_ms(report.elapsed_ms)}"


def render_terminal(report: Report, console: Console, secrets: Iterable[str | None] = ()) -> None:
    """The compact table (✓ ! ✗ –, check, what was seen, time), then the fixes, most important first."""
    secrets = tuple(secrets)
    console.print(Text(f"claudewire doctor → {scrub(report.target, secrets)}", style="bold"))
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False, expand=False)
    table.add_column("", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("what was seen", overflow="fold")
    table.add_column("time", justify="right", no_wrap=True)
    for check in report.checks:
        style = _STYLE[check.status]
        table.add_row(
            Text(check.status.symbol, style=style),
            Text(check.id, style=style if check.status is not Status.PASS else ""),
            Text(scrub(check.detail, secrets)),
            Text(_ms(check.elapsed_ms) if check.status is not Status.SKIP else ""),
        )
    console.print(table)
    verdict_style = _STYLE[Status(report.verdict.value)]
    console.print(Text(_summary(report), style=verdict_style))
    fixes = report.fixes()
    if fixes:
        console.print(Text("\nFixes, most important first:", style="bold"))
        for n, check in enumerate(fixes, 1):
            line = Text(f" {n}. ")
            line.append(check.id, style=_STYLE[check.status])
            line.append(f": {scrub(check.fix or '', secrets)}")
            console.print(line)


class LiveRows:
    """The rows of a run as they finish, for ``rich.live.Live`` on a terminal (`add` each `CheckResult`)."""

    def __init__(self, target: str, secrets: Iterable[str | None] = ()) -> None:
        self.secrets = tuple(secrets)
        self.target = target
        self.rows: list[CheckResult] = []

    def add(self, check: CheckResult) -> None:
        """One more finished check."""
        self.rows.append(check)

    def __rich__(self) -> Table:
        table = Table(
            title=f"claudewire doctor → {scrub(self.target, self.secrets)}  (checking…)",
            title_justify="left",
            show_header=False,
            box=None,
            pad_edge=False,
        )
        table.add_column("", no_wrap=True)
        table.add_column("check", no_wrap=True)
        table.add_column("what was seen", overflow="fold")
        for check in self.rows:
            style = _STYLE[check.status]
            table.add_row(
                Text(check.status.symbol, style=style), Text(check.id), Text(scrub(check.detail, self.secrets))
            )
        return table


def render_text(report: Report, secrets: Iterable[str | None] = (), width: int = 120) -> str:
    """The terminal view as plain text (no colour), e.g. for logs."""
    buffer = io.StringIO()
    render_terminal(report, Console(file=buffer, width=width, no_color=True, highlight=False), secrets)
    return buffer.getvalue()


def render_json(report: Report, secrets: Iterable[str | None] = ()) -> str:
    """The ``--json`` document."""
    return scrub(json.dumps(report.to_json(), indent=2, ensure_ascii=False), tuple(secrets))


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(report: Report, secrets: Iterable[str | None] = ()) -> str:
    """The report to paste into a support thread: verdict, table, fixes and the evidence, secrets redacted."""
    lines = [
        f"### claudewire doctor: {report.verdict.value.upper()}",
        "",
        f"Target: `{report.target}` — {_summary(report)}",
        "",
        "| | check | what was seen | time |",
        "|---|---|---|---|",
    ]
    for check in report.checks:
        time_cell = _ms(check.elapsed_ms) if check.status is not Status.SKIP else ""
        lines.append(f"| {check.status.symbol} | {check.id} | {_cell(check.detail)} | {time_cell} |")
    fixes = report.fixes()
    if fixes:
        lines += ["", "**Fixes, most important first**", ""]
        lines += [f"{n}. **{c.id}** ({c.status.value}): {c.fix}" for n, c in enumerate(fixes, 1)]
    evidence = {c.id: dict(c.evidence) for c in report.checks if c.evidence}
    lines += [
        "",
        "<details><summary>Evidence</summary>",
        "",
        "```json",
        json.dumps(evidence, indent=2, ensure_ascii=False),
        "```",
        "",
        "</details>",
        "",
    ]
    return scrub("\n".join(lines), tuple(secrets))
