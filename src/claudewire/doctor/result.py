"""What the doctor reports: one frozen `CheckResult` per check, in a stable order, gathered in a `Report`.

The check ids and their order are a contract (scripts read ``--json``)::

    config proxy dns tcp tls certificate http clock auth version model ratelimit messages streaming [cache] [http2]
    [reach_dns reach_https reach_certificate reach_models]
    [signin_https signin_dns signin_certificate signin_metadata]

``cache`` is present only with ``--cache``, ``http2`` only for the cursor profile, the ``reach_*`` checks
(`REACH_IDS`) only for the cursor profile with ``--url``, and the ``signin_*`` checks (`SIGNIN_IDS`) only for the
claude-code profile with a gateway URL (``--url``, ``forceLoginGatewayUrl``, or a base URL that is not Anthropic's;
for a base URL whose gateway offers no sign-in, only ``signin_metadata``, skipped, saying so).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Union

__all__ = [
    "CHECK_IDS",
    "CHECK_TITLES",
    "OPT_IN_IDS",
    "REACH_IDS",
    "SIGNIN_IDS",
    "CheckResult",
    "Evidence",
    "JSONValue",
    "Report",
    "Status",
    "Verdict",
]

JSONValue = Union[str, int, float, bool, None, Sequence["JSONValue"], Mapping[str, "JSONValue"]]  # noqa: UP007
"""A value that `json.dumps` writes as is."""

Evidence = Mapping[str, JSONValue]
"""What a check saw, as JSON-ready facts (never a secret: keys appear only redacted)."""

CHECK_IDS: tuple[str, ...] = (
    "config",
    "proxy",
    "dns",
    "tcp",
    "tls",
    "certificate",
    "http",
    "clock",
    "auth",
    "version",
    "model",
    "ratelimit",
    "messages",
    "streaming",
    "cache",
    "http2",
    "reach_dns",
    "reach_https",
    "reach_certificate",
    "reach_models",
    "signin_https",
    "signin_dns",
    "signin_certificate",
    "signin_metadata",
)
"""Every check id, in report order."""

REACH_IDS: tuple[str, ...] = ("reach_dns", "reach_https", "reach_certificate", "reach_models")
"""The checks of ``--profile cursor --url``: the URL as Cursor's servers reach it (`claudewire.doctor.reach`)."""

SIGNIN_IDS: tuple[str, ...] = ("signin_https", "signin_dns", "signin_certificate", "signin_metadata")
"""The checks of a Claude Code gateway sign-in's preconditions (`claudewire.doctor.signin`)."""

OPT_IN_IDS: tuple[str, ...] = ("cache", "http2", *REACH_IDS, *SIGNIN_IDS)
"""The checks a run reports only for some profile or flag; every other id is in every report."""

CHECK_TITLES: dict[str, str] = {
    "config": "Configuration",
    "proxy": "Proxy",
    "dns": "DNS",
    "tcp": "TCP connect",
    "tls": "TLS handshake",
    "certificate": "Certificate",
    "http": "HTTP answer",
    "clock": "Clock",
    "auth": "Authentication",
    "version": "API version",
    "model": "Model",
    "ratelimit": "Rate limit",
    "messages": "Messages",
    "streaming": "Streaming",
    "cache": "Prompt cache",
    "http2": "HTTP/2 (Cursor)",
    "reach_dns": "Public address (Cursor)",
    "reach_https": "HTTPS (Cursor)",
    "reach_certificate": "Public certificate (Cursor)",
    "reach_models": "Models with the token (Cursor)",
    "signin_https": "Sign-in over HTTPS (Claude Code)",
    "signin_dns": "Sign-in private addresses (Claude Code)",
    "signin_certificate": "Sign-in certificate to pin (Claude Code)",
    "signin_metadata": "Sign-in advertised (Claude Code)",
}
"""A short human title per check id."""


class Status(enum.StrEnum):
    """How one check came out."""

    PASS = "pass"  # noqa: S105  (a status, not a password)
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"

    @property
    def symbol(self) -> str:
        """The one-character mark of the terminal table."""
        return {"pass": "✓", "warn": "!", "fail": "✗", "skip": "–"}[self.value]


class Verdict(enum.StrEnum):
    """The outcome of a whole run: the worst status seen (skips do not count)."""

    PASS = "pass"  # noqa: S105  (a status, not a password)
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check's outcome: what was seen (`detail`), what to do (`fix`, None when nothing), and the evidence."""

    id: str
    status: Status
    detail: str
    fix: str | None = None
    evidence: Evidence = field(default_factory=dict)
    elapsed_ms: float = 0.0

    def __post_init__(self) -> None:
        if self.id not in CHECK_TITLES:
            raise ValueError(f"unknown check id {self.id!r}")

    @property
    def title(self) -> str:
        """The check's human title."""
        return CHECK_TITLES[self.id]

    def to_json(self) -> dict[str, JSONValue]:
        """The check as the ``--json`` contract spells it."""
        return {
            "id": self.id,
            "status": self.status.value,
            "title": self.title,
            "detail": self.detail,
            "fix": self.fix,
            "evidence": dict(self.evidence),
            "elapsed_ms": round(self.elapsed_ms, 1),
        }


def skipped(check_id: str, because: str, detail: str | None = None) -> CheckResult:
    """A check not run because its prerequisite `because` (a check id) failed, or for the reason `detail`."""
    return CheckResult(
        check_id, Status.SKIP, detail or f"skipped: {because} failed", evidence={"prerequisite": because}
    )


@dataclass(frozen=True, slots=True)
class Report:
    """A whole run: the target URL and the checks in `CHECK_IDS` order."""

    target: str
    checks: tuple[CheckResult, ...]
    elapsed_ms: float = 0.0

    @property
    def verdict(self) -> Verdict:
        """fail if any check failed, else warn if any warned, else pass."""
        statuses = {c.status for c in self.checks}
        if Status.FAIL in statuses:
            return Verdict.FAIL
        if Status.WARN in statuses:
            return Verdict.WARN
        return Verdict.PASS

    @property
    def exit_code(self) -> int:
        """0 when nothing failed, 1 when a check failed."""
        return 1 if self.verdict is Verdict.FAIL else 0

    def get(self, check_id: str) -> CheckResult:
        """The result of check `check_id`; KeyError if the run has none."""
        for check in self.checks:
            if check.id == check_id:
                return check
        raise KeyError(check_id)

    def fixes(self) -> list[CheckResult]:
        """Checks with a fix, most important first: failures before warnings, lower layers first."""
        order = {cid: i for i, cid in enumerate(CHECK_IDS)}
        rank = {Status.FAIL: 0, Status.WARN: 1}
        with_fix = [c for c in self.checks if c.fix and c.status in rank]
        # a configuration problem (a base URL ending in /v1, a malformed key) is the root cause of what fails after
        # it, whatever its own status: it goes first
        return sorted(with_fix, key=lambda c: (c.id != "config", rank[c.status], order[c.id]))

    def to_json(self) -> dict[str, JSONValue]:
        """The report as the ``--json`` contract spells it."""
        return {
            "target": self.target,
            "verdict": self.verdict.value,
            "checks": [c.to_json() for c in self.checks],
        }
