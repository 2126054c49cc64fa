"""The ``[signin]`` table and the ``[[groups]]`` a signed-in user is given, by IdP group::

    [signin]
    public_url = "https://claude-gw.corp.internal:8787"   # what clients reach; default: the listen address
    oidc_issuer = "https://idp.corp.example/"             # any OpenID Connect provider; discovery read at start
    oidc_client_id = "claudewire"
    oidc_client_secret = "env:OIDC_CLIENT_SECRET"         # literal, env:NAME or file:PATH (none: a public client)
    groups_claim = "groups"                               # ID-token claim whose values select [[groups]]
    session_ttl = 3600                                    # access-token lifetime, seconds

    [[groups]]                     # a user in no group is refused; in several: the first listed wins
    name = "engineering"
    models = ["claude-sonnet-5-5", "claude-opus-5-5"]
    requests_per_minute = 60       # per user, as a [[clients]] entry's are per client
    tokens_per_day = 5000000
    managed_settings = "file:managed/engineering.json"   # the managed-settings.json Claude Code receives

Everything is checked when the config is read: a `SignInError` names the setting and what is wrong (never a secret).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from claudewire._net import is_loopback
from claudewire.state import ClientLimits

__all__ = ["GroupSpec", "ManagedSettings", "SignInConfig", "SignInError", "resolve_secret"]

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_SIGNIN_KEYS = frozenset(
    {
        "public_url",
        "oidc_issuer",
        "oidc_client_id",
        "oidc_client_secret",
        "oidc_scopes",
        "groups_claim",
        "session_ttl",
    }
)
_LIMITS = ("requests_per_minute", "tokens_per_minute", "tokens_per_day")
_GROUP_KEYS = frozenset({"name", "models", "managed_settings", *_LIMITS})
DEFAULT_SCOPES = ("openid", "profile", "email", "offline_access")  # offline_access: the IdP's refresh token
MIN_SESSION_TTL = 600  # Claude Code refreshes 5 minutes before expiry: a shorter session would refresh constantly
MAX_SESSION_TTL = 7 * 86400


class SignInError(ValueError):
    """A ``[signin]`` or ``[[groups]]`` setting that cannot work; the message names it."""


def resolve_secret(ref: str, where: str, env: Mapping[str, str] | None = None) -> str:
    """What a secret reference stands for: ``env:NAME``, ``file:PATH`` (its first non-blank line), or itself."""
    env = os.environ if env is None else env
    if ref.startswith("env:"):
        value = env.get(ref[4:], "").strip()
        if not value:
            raise SignInError(f"{where}: environment variable {ref[4:]} is not set (or empty)")
        return value
    if ref.startswith("file:"):
        try:
            lines = Path(ref[5:]).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise SignInError(f"{where}: cannot read {ref[5:]}: {exc.strerror or exc}") from None
        value = next((line.strip() for line in lines if line.strip()), "")
        if not value:
            raise SignInError(f"{where}: {ref[5:]} is empty")
        return value
    if not ref.strip():
        raise SignInError(f"{where} is empty (a literal, env:NAME or file:PATH)")
    return ref.strip()


def canonical_json(value: Any) -> bytes:
    """`value` as Claude Code hashes it: keys sorted at every level, no spaces (JSON.stringify's spelling)."""

    def normal(v: Any) -> Any:
        if isinstance(v, float) and v.is_integer() and abs(v) < 2**53:
            return int(v)  # JavaScript writes 1.0 as 1
        if isinstance(v, dict):
            return {k: normal(x) for k, x in v.items()}
        if isinstance(v, list):
            return [normal(x) for x in v]
        return v

    return json.dumps(normal(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True, slots=True)
class ManagedSettings:
    """A group's managed settings as served: the settings, their `checksum` (``sha256:<hex>`` of the canonical
    JSON, which Claude Code recomputes for ``If-None-Match``) and the `body` of the ``{uuid, checksum, settings}``
    envelope."""

    settings: dict[str, Any]
    checksum: str
    body: bytes

    @classmethod
    def of(cls, settings: dict[str, Any]) -> ManagedSettings:
        """The envelope for `settings` (the protocol's ``uuid`` is the checksum too: one identity per content)."""
        checksum = "sha256:" + hashlib.sha256(canonical_json(settings)).hexdigest()
        body = json.dumps({"uuid": checksum, "checksum": checksum, "settings": settings}, ensure_ascii=False)
        return cls(settings, checksum, body.encode())

    @property
    def etag(self) -> bytes:
        """The ``ETag`` value: the checksum, quoted."""
        return b'"' + self.checksum.encode() + b'"'


@dataclass(frozen=True, slots=True)
class GroupSpec:
    """One ``[[groups]]`` entry: its `name` (a metric label), allowed `models` (None: any), per-user `limits` and
    the `managed` settings its members receive (None: a 404, "no policy")."""

    name: str
    models: frozenset[str] | None = None
    limits: ClientLimits = field(default_factory=lambda: ClientLimits("group"))
    managed: ManagedSettings | None = None

    @classmethod
    def from_mapping(cls, data: Any, index: int) -> GroupSpec:
        """Build from one TOML table; SignInError names what is wrong."""
        where = f"groups[{index}]"
        if not isinstance(data, dict):
            raise SignInError(f"{where} must be a [[groups]] table")
        name = data.get("name")
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise SignInError(f"{where}.name {name!r} must be 1-64 letters, digits, '_', '.' or '-' (a metric label)")
        where = f"groups[{index}] ({name})"
        unknown = set(data) - _GROUP_KEYS
        if unknown:
            raise SignInError(f"{where}: unknown setting(s) {', '.join(sorted(unknown))}; known: {_known(_GROUP_KEYS)}")
        limits: dict[str, int] = {}
        for key in _LIMITS:
            value = data.get(key)
            if value is None:
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise SignInError(f"{where}.{key} must be a whole number >= 1, got {value!r}")
            limits[key] = value
        models = data.get("models")
        if models is not None and (not isinstance(models, list) or not all(isinstance(m, str) for m in models)):
            raise SignInError(f"{where}.models must be a list of model ids")
        managed = _managed(data.get("managed_settings"), where)
        return cls(name, frozenset(models) if models is not None else None, ClientLimits(name, **limits), managed)


def _managed(raw: Any, where: str) -> ManagedSettings | None:
    if raw is None:
        return None
    if isinstance(raw, dict):
        return ManagedSettings.of(raw)
    if not isinstance(raw, str) or not raw.startswith("file:"):
        raise SignInError(f"{where}.managed_settings must be file:PATH (a managed-settings.json) or a table")
    path = raw[5:]
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise SignInError(f"{where}.managed_settings: cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise SignInError(f"{where}.managed_settings: {path} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise SignInError(f"{where}.managed_settings: {path} must hold a JSON object (managed-settings.json)")
    return ManagedSettings.of(value)


def _known(keys: frozenset[str]) -> str:
    return ", ".join(sorted(keys))


def _origin(value: Any, where: str, *, path_ok: bool) -> str:
    if not isinstance(value, str) or not value.startswith(("https://", "http://")):
        raise SignInError(f"{where} must be an https:// URL, got {value!r}")
    parts = urlsplit(value)
    host = parts.hostname or ""
    if parts.scheme == "http" and not is_loopback(host):
        raise SignInError(f"{where}: plain http is only for a loopback address (tests); use https://")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise SignInError(f"{where} must not carry a query, fragment or credentials")
    if not path_ok and parts.path not in ("", "/"):
        raise SignInError(f"{where} must be an origin (the gateway serves its sign-in endpoints at the root)")
    return value.rstrip("/") if not path_ok else value


@dataclass(frozen=True, slots=True)
class SignInConfig:
    """Gateway sign-in: the IdP (`oidc_issuer`, `oidc_client_id`, `oidc_client_secret`), the claim that names a
    user's groups, the access tokens' `session_ttl` and the `groups`. `public_url` None: the listen address."""

    oidc_issuer: str
    oidc_client_id: str
    groups: tuple[GroupSpec, ...]
    public_url: str | None = None
    oidc_client_secret: str | None = field(default=None, repr=False)
    oidc_scopes: tuple[str, ...] = DEFAULT_SCOPES
    groups_claim: str = "groups"
    session_ttl: int = 3600

    def group(self, names: Any) -> GroupSpec | None:
        """The first configured group among `names` (the ID token's claim: a list, or one string), or None."""
        if isinstance(names, str):
            names = [names]
        if not isinstance(names, list):
            return None
        have = {n for n in names if isinstance(n, str)}
        return next((g for g in self.groups if g.name in have), None)

    @classmethod
    def from_mapping(cls, data: Any, groups: Any, env: Mapping[str, str] | None = None) -> SignInConfig:
        """Build from the ``[signin]`` table and the ``[[groups]]`` list; SignInError names what is wrong."""
        if not isinstance(data, dict):
            raise SignInError("signin must be a [signin] table")
        unknown = set(data) - _SIGNIN_KEYS
        if unknown:
            raise SignInError(
                f"unknown [signin] setting(s): {', '.join(sorted(unknown))}; known: {_known(_SIGNIN_KEYS)}"
            )
        for key in ("oidc_issuer", "oidc_client_id"):
            if not isinstance(data.get(key), str) or not data[key].strip():
                raise SignInError(f"[signin] {key} is required")
        issuer = _origin(data["oidc_issuer"], "[signin] oidc_issuer", path_ok=True)
        public = data.get("public_url")
        public_url = _origin(public, "[signin] public_url", path_ok=False) if public is not None else None
        secret = data.get("oidc_client_secret")
        if secret is not None and not isinstance(secret, str):
            raise SignInError("[signin] oidc_client_secret must be a string (a literal, env:NAME or file:PATH)")
        resolved = resolve_secret(secret, "[signin] oidc_client_secret", env) if secret is not None else None
        claim = data.get("groups_claim", "groups")
        if not isinstance(claim, str) or not claim:
            raise SignInError("[signin] groups_claim must name an ID-token claim")
        ttl = data.get("session_ttl", 3600)
        if not isinstance(ttl, int) or isinstance(ttl, bool) or not MIN_SESSION_TTL <= ttl <= MAX_SESSION_TTL:
            raise SignInError(
                f"[signin] session_ttl must be whole seconds in {MIN_SESSION_TTL}..{MAX_SESSION_TTL}, got {ttl!r} "
                "(Claude Code refreshes 5 minutes before an access token expires)"
            )
        scopes = data.get("oidc_scopes", list(DEFAULT_SCOPES))
        if not isinstance(scopes, list) or "openid" not in scopes or not all(isinstance(s, str) for s in scopes):
            raise SignInError("[signin] oidc_scopes must be a list of scopes including openid")
        if not isinstance(groups, list) or not groups:
            raise SignInError("[signin] needs [[groups]]: a signed-in user in no group is refused")
        specs = tuple(GroupSpec.from_mapping(g, i) for i, g in enumerate(groups))
        names = [g.name for g in specs]
        if len(set(names)) != len(names):
            raise SignInError(f"group names must be unique: {', '.join(names)}")
        return cls(
            oidc_issuer=issuer,
            oidc_client_id=data["oidc_client_id"].strip(),
            groups=specs,
            public_url=public_url,
            oidc_client_secret=resolved,
            oidc_scopes=tuple(scopes),
            groups_claim=claim,
            session_ttl=ttl,
        )
