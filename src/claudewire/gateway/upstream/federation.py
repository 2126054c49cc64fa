"""Workload identity federation as an upstream credential: a short-lived Anthropic token instead of a stored key.

An ``anthropic`` upstream may hold, among or instead of its keys, a federation credential::

    [[upstreams]]
    name = "primary"
    url = "https://api.anthropic.com"
    keys = ["federation:"]          # the [upstreams.federation] table; "federation:env": the SDK's variables
    [upstreams.federation]
    identity_token_file = "/var/run/secrets/anthropic.com/token"   # re-read at every exchange (it rotates)
    federation_rule_id = "fdrl_..."
    organization_id = "00000000-0000-0000-0000-000000000000"
    service_account_id = "svac_..."
    workspace_id = "wrkspc_..."     # optional ("default": the organization's default workspace)
    scope = "..."                   # optional, informational: the rule decides the scope

The gateway exchanges the identity token (a Kubernetes, GitHub or cloud OIDC JWT) at the upstream's
``POST /v1/oauth/token`` (RFC 7523 ``jwt-bearer`` grant, as the official SDK's ``WorkloadIdentityCredentials``
does) and sends the minted token as ``Authorization: Bearer`` with the ``oauth-2025-04-20`` beta. `FederatedToken`
caches it until shortly before ``expires_in``: within the last `ADVISORY_S` (at most half its life) one refresh
starts in the background while requests keep the current token; within the last `MANDATORY_S` (at most a tenth)
requests wait for that one refresh. An exchange the token endpoint refuses (400/401/403) raises `ExchangeRefused`,
which the kind answers as a 401 so the pool takes the credential out as it does a revoked key; one it cannot reach
raises `ExchangeFailed`. Neither the identity token nor the access token is ever logged or put in an error.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "ADVISORY_S",
    "FEDERATION_PREFIX",
    "MANDATORY_S",
    "ExchangeFailed",
    "ExchangeRefused",
    "FederatedToken",
    "FederationSpec",
    "Minted",
    "federation_spec",
    "parse_token_answer",
    "placeholder",
    "read_identity_token",
    "token_request",
]

_log = logging.getLogger(__name__)

FEDERATION_PREFIX = "federation:"
"""A ``keys`` entry starting with this is the federation credential (``federation:`` or ``federation:env``)."""

TOKEN_PATH = b"/v1/oauth/token"
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
OAUTH_BETA = "oauth-2025-04-20"  # on every request authenticated by a minted bearer token
FEDERATION_BETA = "oidc-federation-2026-04-01"  # on the jwt-bearer exchange only
ADVISORY_S = 120.0
MANDATORY_S = 30.0
RETRY_QUIET_S = 5.0  # after a failed background refresh, the next one waits this long (no hammering)
MAX_ASSERTION = 16 * 1024
MAX_ANSWER = 1 << 20
MAX_LIFETIME_S = 24 * 3600.0

_FIELDS = ("identity_token_file", "federation_rule_id", "organization_id", "service_account_id")
_OPTIONAL = ("workspace_id", "scope")
_ENV = {
    "identity_token_file": "ANTHROPIC_IDENTITY_TOKEN_FILE",
    "federation_rule_id": "ANTHROPIC_FEDERATION_RULE_ID",
    "organization_id": "ANTHROPIC_ORGANIZATION_ID",
    "service_account_id": "ANTHROPIC_SERVICE_ACCOUNT_ID",
    "workspace_id": "ANTHROPIC_WORKSPACE_ID",
    "scope": "ANTHROPIC_SCOPE",
}


def placeholder(upstream_name: str) -> str:
    """The stand-in the pool holds (as a key) for the federation credential of `upstream_name`: not a secret."""
    return f"{FEDERATION_PREFIX}{upstream_name}"


@dataclass(frozen=True, slots=True)
class FederationSpec:
    """Where the identity token is and which federation rule, organization and service account it is exchanged for."""

    identity_token_file: str
    federation_rule_id: str
    organization_id: str
    service_account_id: str
    workspace_id: str | None = None
    scope: str | None = None


def federation_spec(ref: str, table: object, where: str, env: Mapping[str, str]) -> FederationSpec:
    """The `FederationSpec` a ``keys`` reference stands for: ``federation:`` (the ``[upstreams.federation]`` table)
    or ``federation:env`` (the official SDK's ``ANTHROPIC_*`` variables). ValueError naming the missing field."""
    source = ref[len(FEDERATION_PREFIX) :].strip()
    values: dict[str, str] = {}
    if source == "env":
        for name, var in _ENV.items():
            if env.get(var, "").strip():
                values[name] = env[var].strip()
        missing = [_ENV[f] for f in _FIELDS if f not in values]
        if missing:
            raise ValueError(f"{where}: federation:env needs {', '.join(missing)} set")
    elif source in ("", "table"):
        if not isinstance(table, Mapping):
            raise ValueError(f"{where}: {ref} needs an [upstreams.federation] table (or use federation:env)")
        unknown = sorted(set(table) - set(_FIELDS) - set(_OPTIONAL))
        if unknown:
            raise ValueError(f"{where}: unknown federation field(s) {', '.join(unknown)}")
        for name, value in table.items():
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{where}: federation.{name} must be a non-empty string")
            values[name] = value.strip()
        missing = [f for f in _FIELDS if f not in values]
        if missing:
            raise ValueError(f"{where}: federation needs {', '.join(missing)}")
    else:
        raise ValueError(f"{where}: {ref!r}: write federation: (the table) or federation:env")
    path = Path(values["identity_token_file"]).expanduser()
    if not path.is_file():
        raise ValueError(f"{where}: identity token file {path} does not exist (or is not a file)")
    return FederationSpec(**{**values, "identity_token_file": str(path)})


@dataclass(frozen=True, slots=True)
class Minted:
    """An access token from one exchange and how long it lives (seconds)."""

    token: str = field(repr=False)
    expires_in: float


class ExchangeRefused(Exception):
    """The token endpoint refused the identity token (400/401/403): the credential does not work as configured."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{status} {error}: {description}" if description else f"{status} {error}")
        self.status = status
        self.error = error
        self.description = description


class ExchangeFailed(Exception):
    """The exchange did not come to an answer: endpoint unreachable, 429/5xx, a malformed answer, no token file."""


def read_identity_token(path: str) -> str:
    """The identity token in `path` (re-read at every exchange: a projected token rotates on disk)."""
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ExchangeFailed(f"cannot read the identity token file {path}: {exc.strerror or exc}") from None
    if not text:
        raise ExchangeFailed(f"the identity token file {path} is empty")
    if len(text.encode()) > MAX_ASSERTION or text.count(".") != 2:
        raise ExchangeFailed(f"{path} does not hold a JWT (three dot-separated parts, under 16 KiB)")
    return text


def token_request(spec: FederationSpec, assertion: str) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """The header pairs and JSON body of the ``jwt-bearer`` exchange (the scope is not sent: the rule decides it)."""
    body: dict[str, str] = {
        "grant_type": GRANT_TYPE,
        "assertion": assertion,
        "federation_rule_id": spec.federation_rule_id,
        "organization_id": spec.organization_id,
        "service_account_id": spec.service_account_id,
    }
    if spec.workspace_id:
        body["workspace_id"] = spec.workspace_id
    headers = [
        (b"content-type", b"application/json"),
        (b"accept", b"application/json"),
        (b"user-agent", b"claudewire"),
        (b"anthropic-beta", f"{OAUTH_BETA},{FEDERATION_BETA}".encode()),
    ]
    return headers, json.dumps(body).encode()


def parse_token_answer(status: int, raw: bytes, assertion: str) -> Minted:
    """The minted token of an exchange answer; `ExchangeRefused` / `ExchangeFailed` with a message that never
    holds the assertion or a token (the endpoint may echo them: only OAuth's error fields are kept, truncated)."""
    if len(raw) > MAX_ANSWER:
        raise ExchangeFailed(f"the token endpoint answered {status} with over {MAX_ANSWER} bytes")
    try:
        parsed: Any = json.loads(raw)
    except ValueError:
        parsed = None
    if status >= 400 or not isinstance(parsed, dict):
        error, description = _error_fields(parsed)
        description = description.replace(assertion, "<identity token>")[:200]
        if status in (400, 401, 403):
            raise ExchangeRefused(status, error or "refused", description)
        raise ExchangeFailed(f"the token endpoint answered {status} {error}".rstrip())
    token, expires_in, kind = parsed.get("access_token"), parsed.get("expires_in"), parsed.get("token_type")
    if kind is not None and str(kind).lower() != "bearer":
        raise ExchangeFailed(f"the token endpoint minted a {str(kind)[:20]!r} token, not a Bearer one")
    if not isinstance(token, str) or not token or any(c.isspace() for c in token):
        raise ExchangeFailed("the token endpoint's answer has no usable access_token")
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float) or expires_in <= 0:
        raise ExchangeFailed("the token endpoint's answer has no positive expires_in")
    return Minted(token, min(float(expires_in), MAX_LIFETIME_S))


def _error_fields(parsed: object) -> tuple[str, str]:
    if not isinstance(parsed, dict):
        return "", ""
    err = parsed.get("error")
    if isinstance(err, dict):  # the Anthropic error shape
        return str(err.get("type", ""))[:60], str(err.get("message", ""))
    return str(err or "")[:60], str(parsed.get("error_description") or "")


@dataclass(slots=True)
class _Held:
    token: str = field(repr=False)
    refresh_at: float  # from here on: one background refresh, requests keep this token
    stale_at: float  # from here on: requests wait for the refresh
    expires_at: float


class FederatedToken:
    """The current access token of one federation credential, refreshed ahead of expiry, one exchange at a time.

    `exchange` performs one exchange (`ExchangeRefused` / `ExchangeFailed` on failure); `clock` is monotonic
    seconds (the gateway's, so a test can move time on).
    """

    def __init__(self, exchange: Callable[[], Awaitable[Minted]], clock: Callable[[], float], label: str) -> None:
        self._exchange = exchange
        self._clock = clock
        self.label = label
        self._held: _Held | None = None
        self._task: asyncio.Task[str] | None = None
        self._quiet_until = 0.0
        self.exchanges = 0  # exchanges started (observable by tests and /readyz-like views; no token in it)

    async def get(self) -> str:
        """The token to send now: the cached one, or (none, or too close to expiry) the one being exchanged."""
        now = self._clock()
        held = self._held
        if held is not None and now < held.refresh_at:
            return held.token
        if held is not None and now < held.stale_at:
            if self._task is None and now >= self._quiet_until:
                self._start()  # ahead of time, in the background: this request keeps the current token
            return held.token
        task = self._task or self._start()
        try:
            return await asyncio.shield(task)
        except ExchangeFailed:
            held = self._held
            if held is not None and self._clock() < held.expires_at:
                return held.token  # not refreshed, but still valid: keep serving with it
            raise

    def rejected(self, token: str) -> None:
        """The upstream refused `token` (401): the next request exchanges anew instead of sending it again."""
        if self._held is not None and self._held.token == token:
            self._held = None

    def _start(self) -> asyncio.Task[str]:
        self.exchanges += 1
        task = asyncio.get_running_loop().create_task(self._refresh())
        task.add_done_callback(self._done)
        self._task = task
        return task

    async def _refresh(self) -> str:
        started = self._clock()
        try:
            minted = await self._exchange()
        except (ExchangeFailed, ExchangeRefused):
            self._quiet_until = self._clock() + RETRY_QUIET_S
            raise
        life = minted.expires_in
        expires_at = started + life  # counted from before the exchange: never later than the server's
        self._held = _Held(
            minted.token,
            expires_at - min(ADVISORY_S, life / 2),
            expires_at - min(MANDATORY_S, life / 10),
            expires_at,
        )
        _log.info("upstream %s: federation token exchanged, valid %.0f s", self.label, life)
        return minted.token

    def _done(self, task: asyncio.Task[str]) -> None:
        self._task = None
        if task.cancelled():
            return
        exc = task.exception()  # retrieved here, so a background refresh nobody awaits never warns
        if exc is not None:
            _log.warning("upstream %s: federation token exchange failed: %s", self.label, exc)
