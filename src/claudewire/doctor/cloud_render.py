"""Rendering the cloud doctor's reports: plain text for a terminal or a log, JSON for scripts (one source: the
frozen `CloudReport`s, so the two can never disagree). Keys never appear: the reports hold only redacted names."""

from __future__ import annotations

import json
from collections.abc import Sequence

from claudewire._secrets import redact_text
from claudewire.doctor.cloud_checks import CloudReport

__all__ = ["render_cloud_json", "render_cloud_text"]


def render_cloud_text(reports: Sequence[CloudReport]) -> str:
    """Each target's checks, one line each, then what to fix with a command to reproduce it."""
    lines: list[str] = []
    for report in reports:
        lines.append(f"{report.name} ({report.kind}) {report.url}: {report.verdict.value}")
        for check in report.checks:
            lines.append(f"  {check.status.symbol} {check.title:<14} {check.detail}")
        for check in report.checks:
            if check.fix:
                lines.append(f"  fix {check.title}: {check.fix}")
                if check.reproduce:
                    lines.append(f"      reproduce: {check.reproduce}")
        lines.append("")
    return redact_text("\n".join(lines).rstrip() + "\n")


def render_cloud_json(reports: Sequence[CloudReport]) -> str:
    """``{"verdict", "targets": [...]}``: fail if any target failed, else warn if any warned."""
    verdicts = {r.verdict.value for r in reports}
    verdict = "fail" if "fail" in verdicts else "warn" if "warn" in verdicts else "pass"
    document = {"verdict": verdict, "targets": [r.to_json() for r in reports]}
    return redact_text(json.dumps(document, indent=2))
