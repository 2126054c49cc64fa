"""The cloud doctor's judges: what the probes saw (`CredentialProbe`, `CallProbe`) → one frozen `CloudCheck` each.

Pure functions over frozen facts, no I/O: ``credentials`` (which source was found, never its value, and whether
the service took it), ``region``, ``clock`` (skew against the service's ``Date``), ``model`` (a 1-token call) and
``betas`` (which of the client's betas the target accepts). Each failing check carries a fix and a command to
reproduce it by hand (`claudewire.doctor.cloud_commands`).
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from claudewire.doctor.cloud_commands import reproduce
from claudewire.doctor.result import Evidence, JSONValue, Status, Verdict

__all__ = [
    "CLOUD_CHECK_IDS",
    "CLOUD_KINDS",
    "CallProbe",
    "CloudCheck",
    "CloudReport",
    "CloudTarget",
    "CredentialProbe",
    "category",
    "judge_betas",
    "judge_clock",
    "judge_credentials",
    "judge_model",
    "judge_region",
]

CLOUD_KINDS: tuple[str, ...] = ("bedrock", "bedrock-mantle", "vertex", "foundry")
CLOUD_CHECK_IDS: tuple[str, ...] = ("credentials", "region", "clock", "model", "betas")
_TITLES = {
    "credentials": "Credentials",
    "region": "Region",
    "clock": "Clock",
    "model": "Model access",
    "betas": "Betas",
}
_SKEW_WARN_S = 60.0
_SKEW_FAIL_S = 300.0  # SigV4 refuses a request signed more than 5 minutes off the service's clock


@dataclass(frozen=True, slots=True)
class CloudTarget:
    """One cloud endpoint to check, fully resolved: where, which region/project/model, which key (never shown)."""

    kind: str
    name: str
    url: str
    model: str
    region: str | None = None
    region_source: str | None = None
    project: str | None = None
    api_key: str | None = field(default=None, repr=False)
    key_source: str | None = None
    betas: tuple[str, ...] = ()

    @property
    def signs(self) -> bool:
        """Whether requests are SigV4-signed (no API key for an AWS kind)."""
        return self.kind in ("bedrock", "bedrock-mantle") and self.api_key is None


@dataclass(frozen=True, slots=True)
class CredentialProbe:
    """Which credential source was found (`source`, never a value), how it authenticates, or why none was."""

    source: str | None
    method: str | None = None  # "sigv4", "api-key", "bearer"
    error: str | None = None


@dataclass(frozen=True, slots=True)
class CallProbe:
    """One 1-token call: the answer's status and error (name and message), its Date, the wall clock around it."""

    beta: str | None
    status: int | None
    error_name: str = ""
    message: str = ""
    date: str | None = None
    sent_at: float = 0.0
    received_at: float = 0.0
    transport_error: str | None = None


@dataclass(frozen=True, slots=True)
class CloudCheck:
    """One check of one target: status, what was seen, the fix and a command to reproduce it (None when fine)."""

    id: str
    status: Status
    detail: str
    fix: str | None = None
    reproduce: str | None = None
    evidence: Evidence = field(default_factory=dict)

    @property
    def title(self) -> str:
        """The check's human title."""
        return _TITLES[self.id]

    def to_json(self) -> dict[str, JSONValue]:
        """The check as ``--json`` spells it."""
        return {
            "id": self.id,
            "status": self.status.value,
            "title": self.title,
            "detail": self.detail,
            "fix": self.fix,
            "reproduce": self.reproduce,
            "evidence": dict(self.evidence),
        }


@dataclass(frozen=True, slots=True)
class CloudReport:
    """Every check of one target, in `CLOUD_CHECK_IDS` order."""

    name: str
    kind: str
    url: str
    checks: tuple[CloudCheck, ...]

    @property
    def verdict(self) -> Verdict:
        """fail if any check failed, else warn if any warned, else pass."""
        statuses = {c.status for c in self.checks}
        if Status.FAIL in statuses:
            return Verdict.FAIL
        return Verdict.WARN if Status.WARN in statuses else Verdict.PASS

    def get(self, check_id: str) -> CloudCheck:
        """The check `check_id`; KeyError if absent."""
        for check in self.checks:
            if check.id == check_id:
                return check
        raise KeyError(check_id)

    def to_json(self) -> dict[str, JSONValue]:
        """The report as ``--json`` spells it."""
        return {
            "target": self.name,
            "kind": self.kind,
            "url": self.url,
            "verdict": self.verdict.value,
            "checks": [c.to_json() for c in self.checks],
        }


_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        ("region", r"scoped to a valid region|Location \S+ is not served|not available in (this|the) region"),
        ("expired", r"ExpiredToken|token included in the request is expired|has expired|Signature expired"),
        (
            "auth",
            r"UnrecognizedClient|InvalidSignature|IncompleteSignature|MissingAuthenticationToken|"
            r"UNAUTHENTICATED|invalid Bedrock API key|invalid api-key|authentication_error",
        ),
        ("beta", r"invalid beta flag|anthropic-beta|Extra inputs are not permitted|Unexpected value.{0,40}beta"),
        (
            "model_access",
            r"don't have access to the model|does not have access to it|DeploymentNotFound|PERMISSION_DENIED|"
            r"AccessDeniedException|not authorized to perform the required AWS Marketplace",
        ),
        ("model_unknown", r"model identifier is invalid|ResourceNotFound|Publisher Model .* not found|model: \S+"),
        ("throttled", r"Throttling|RESOURCE_EXHAUSTED|Too many requests|rate_limit_error|overloaded_error"),
    )
)


def category(call: CallProbe) -> str:
    """What a call's answer says: ok, transport, region, expired, auth, beta, model_access, model_unknown,
    throttled or other."""
    if call.transport_error is not None or call.status is None:
        return "transport"
    if call.status < 400:
        return "ok"
    said = f"{call.error_name} {call.message}"
    for name, pattern in _PATTERNS:
        if pattern.search(said):
            return name
    if call.status in (401, 403):
        return "auth"
    if call.status == 429:
        return "throttled"
    return "other"


def _said(call: CallProbe) -> str:
    name = f"{call.error_name}: " if call.error_name else ""
    return f"{call.status} {name}{call.message}"[:300] if call.status else str(call.transport_error)


def _check(check_id: str, status: Status, detail: str, fix: str | None = None, how: str | None = None) -> CloudCheck:
    return CloudCheck(check_id, status, detail, fix if status in (Status.FAIL, Status.WARN) else None, how)


def judge_credentials(target: CloudTarget, found: CredentialProbe, call: CallProbe | None) -> CloudCheck:
    """A credential source was found, and the service took it."""
    how = reproduce(target, "credentials")
    if found.source is None:
        return _check("credentials", Status.FAIL, f"no credential found: {found.error}", _CRED_FIX[target.kind], how)
    seen = category(call) if call is not None else "ok"
    if call is not None and seen == "expired":
        fix = _EXPIRED_FIX[target.kind]
        return _check("credentials", Status.FAIL, f"{found.source}: expired ({_said(call)})", fix, how)
    if call is not None and seen == "auth":
        fix = f"{found.source} was refused: {_CRED_FIX[target.kind]}"
        return _check("credentials", Status.FAIL, f"{found.source}: refused ({_said(call)})", fix, how)
    return CloudCheck("credentials", Status.PASS, f"{found.source} ({found.method})", evidence={"source": found.source})


def judge_region(target: CloudTarget, call: CallProbe | None) -> CloudCheck:
    """The region is set and the endpoint serves it."""
    if target.kind == "foundry":
        return CloudCheck("region", Status.SKIP, "Foundry has no region to set: the resource's URL decides")
    how = reproduce(target, "region")
    if not target.region:
        fix = (
            "Set the region: --region, or AWS_REGION (AWS kinds) / CLOUD_ML_REGION (Vertex), or region in the "
            "[[upstreams]] table."
        )
        return _check("region", Status.FAIL, "no region configured", fix, how)
    if target.kind == "vertex" and not target.project:
        fix = "Set the Google Cloud project: --project, ANTHROPIC_VERTEX_PROJECT_ID, or project in the upstream."
        return _check("region", Status.FAIL, f"{target.region}, but no project configured", fix, how)
    where = f"{target.region} (from {target.region_source or 'the configuration'})"
    if call is not None and category(call) == "region":
        fix = (
            f"The endpoint {target.url} does not serve {target.region}: sign for the endpoint's region (--region, "
            "AWS_REGION / CLOUD_ML_REGION) or use the endpoint of the region you meant."
        )
        return _check("region", Status.FAIL, f"{where}: refused ({_said(call)})", fix, how)
    evidence: Evidence = {"region": target.region, "source": target.region_source}
    return CloudCheck("region", Status.PASS, where, evidence=evidence)


def judge_clock(target: CloudTarget, call: CallProbe | None) -> CloudCheck:
    """The local clock agrees with the service's Date header."""
    if call is None or not call.date:
        return CloudCheck("clock", Status.SKIP, "no Date header came back to compare with")
    try:
        served = email.utils.parsedate_to_datetime(call.date).timestamp()
    except (TypeError, ValueError):
        return CloudCheck("clock", Status.SKIP, f"unreadable Date header {call.date[:60]!r}")
    skew = served - (call.sent_at + call.received_at) / 2
    detail = f"local clock {abs(skew):.0f} s {'behind' if skew > 0 else 'ahead of'} the service"
    evidence: Evidence = {"skew_s": round(skew, 1)}
    fix = "Sync the clock (timedatectl set-ntp true, or chronyc makestep)" + (
        ": SigV4 refuses requests signed more than 5 minutes off." if target.signs else "."
    )
    how = reproduce(target, "clock")
    if abs(skew) > _SKEW_FAIL_S:
        return CloudCheck("clock", Status.FAIL, detail, fix, how, evidence)
    if abs(skew) > _SKEW_WARN_S:
        return CloudCheck("clock", Status.WARN, detail, fix, how, evidence)
    return CloudCheck("clock", Status.PASS, f"within {max(abs(skew), 1):.0f} s of the service", evidence=evidence)


def judge_model(target: CloudTarget, call: CallProbe | None) -> CloudCheck:
    """A 1-token call to the model succeeds."""
    how = reproduce(target, "model")
    if call is None:
        return CloudCheck("model", Status.SKIP, "skipped: no credential to call with")
    seen = category(call)
    if seen == "ok":
        return CloudCheck("model", Status.PASS, f"{target.model} answered a 1-token call", evidence={"status": 200})
    if seen == "model_access":
        detail = f"{target.model}: not enabled ({_said(call)})"
        return _check("model", Status.FAIL, detail, _ACCESS_FIX[target.kind], how)
    if seen == "model_unknown":
        fix = f"{target.model} is not a model id this endpoint knows: {_ID_HINT[target.kind]}"
        return _check("model", Status.FAIL, f"{target.model}: unknown ({_said(call)})", fix, how)
    if seen == "throttled":
        fix = "The model is reachable but throttled: ask for more quota, or retry later."
        return _check("model", Status.WARN, f"{target.model}: throttled ({_said(call)})", fix, how)
    if seen in ("auth", "expired", "region"):
        return CloudCheck("model", Status.SKIP, f"not reached: the call was refused first ({seen})")
    if seen == "transport":
        fix = f"The endpoint {target.url} did not answer: check the URL, DNS, proxy and network (`claudewire doctor`)."
        return _check("model", Status.FAIL, f"no answer: {call.transport_error}", fix, how)
    return _check("model", Status.FAIL, f"{target.model}: {_said(call)}", "Read the error above.", how)


def judge_betas(target: CloudTarget, model: CallProbe | None, calls: Sequence[CallProbe]) -> CloudCheck:
    """Which of the client's betas the target accepts (each tried alone on a 1-token call)."""
    if not target.betas:
        return CloudCheck("betas", Status.SKIP, "no betas to try")
    if model is None or category(model) != "ok":
        return CloudCheck("betas", Status.SKIP, "skipped: the model call did not succeed")
    tried = [(c.beta, category(c)) for c in calls if c.beta]
    accepted = [beta for beta, seen in tried if seen == "ok"]
    rejected = [beta for beta, seen in tried if seen == "beta"]
    unclear = [beta for beta, seen in tried if seen not in ("ok", "beta")]
    evidence: Evidence = {"accepted": accepted, "rejected": rejected, "unclear": unclear}
    detail = f"accepted: {', '.join(accepted) or 'none'}; rejected: {', '.join(rejected) or 'none'}"
    if unclear:
        detail += f"; could not tell: {', '.join(unclear)}"
    if rejected or unclear:
        fix = (
            f"Don't send {', '.join(rejected + unclear)} to this target: a rejected beta fails the whole call "
            "(Claude Code: CLAUDE_CODE_DISABLE_EXPERIMENTAL_BETAS=1), or put `claudewire proxy` in front: it "
            "drops what the upstream does not take."
        )
        return CloudCheck("betas", Status.WARN, detail, fix, reproduce(target, "betas"), evidence)
    return CloudCheck("betas", Status.PASS, detail, evidence=evidence)


_CRED_FIX = {
    "bedrock": "Give AWS credentials: aws configure / aws sso login / AWS_PROFILE, or a Bedrock API key "
    "(AWS_BEARER_TOKEN_BEDROCK).",
    "bedrock-mantle": "Give AWS credentials: aws configure / aws sso login / AWS_PROFILE, or a Bedrock API key "
    "(AWS_BEARER_TOKEN_BEDROCK).",
    "vertex": "Sign in for application default credentials: gcloud auth application-default login, or set "
    "GOOGLE_APPLICATION_CREDENTIALS to a service-account file.",
    "foundry": "Set ANTHROPIC_FOUNDRY_API_KEY (or --api-key) to a key of the Foundry resource.",
}
_EXPIRED_FIX = {
    "bedrock": "The AWS session has expired: aws sso login (or refresh the session token / assume the role again).",
    "bedrock-mantle": "The AWS session has expired: aws sso login (or refresh the session token / assume the role "
    "again).",
    "vertex": "The Google token has expired: gcloud auth application-default login, or mint a fresh token.",
    "foundry": "The key or Entra ID token has expired: get a new one from the Foundry resource.",
}
_ACCESS_FIX = {
    "bedrock": "Enable the model in the Bedrock console (Model access) for this account and region, and allow "
    "bedrock:InvokeModel* (and the Marketplace subscription actions) to the IAM identity.",
    "bedrock-mantle": "Request access to the model for Claude in Amazon Bedrock in this account and region (Bedrock "
    "console, Model access), and allow the bedrock-mantle actions to the IAM identity.",
    "vertex": "Enable the model in Vertex AI's Model Garden for the project and region, and grant "
    "roles/aiplatform.user.",
    "foundry": "Deploy the model in the Foundry resource (the deployment name is the model id sent).",
}
_ID_HINT = {
    "bedrock": "Bedrock ids look like us.anthropic.claude-haiku-4-5-20251001-v1:0.",
    "bedrock-mantle": "Mantle ids look like anthropic.claude-haiku-4-5.",
    "vertex": "Vertex ids look like claude-haiku-4-5@20251001.",
    "foundry": "use the deployment's name.",
}
