"""The gateway's own credentials for signed-in users: signed access tokens under rotating keys, opaque refresh tokens.

- An access token is a JWT (HS256, joserfc) naming the IdP subject, the user's group and the sign-in session, valid
  `session_ttl` seconds. It is checked on every request without a round trip: signature, expiry, issuer, audience.
- Signing keys rotate: the key of epoch ``e`` (``floor(now / period)``, `period` = `session_ttl`) signs tokens minted
  during that epoch and carries ``kid = e``; it lives in the state backend (random, created by whichever replica
  first needs it, so every replica signs and verifies with the same keys) until every token it signed has expired.
  Each replica keeps the keys of the last three epochs and the next one in memory, refreshed in the background, so
  a key never has to be fetched on a request's path.
- A refresh token is 256 random bits; the state keeps only its sha256, mapped to the session it may continue.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, OctKey

from claudewire.state import StateBackend

__all__ = ["AUDIENCE", "AccessClaims", "Keyring", "digest", "new_secret"]

_log = logging.getLogger(__name__)

AUDIENCE = "claudewire-gateway"
_ALG = "HS256"
_VERIFIED_MAX = 10_000
_KEEP_BEHIND = 2  # epochs whose tokens may still be valid: minted at the end of e-1 with ttl = period


def new_secret(prefix: str) -> str:
    """A new opaque credential: `prefix` and 256 random bits, base64url."""
    return prefix + secrets.token_urlsafe(32)


def digest(value: str) -> str:
    """What the state keeps of a credential: its sha256, hex (the credential itself is never stored)."""
    return hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """What an access token says: the IdP subject `sub`, the `group` (its models and limits), the sign-in session
    `sid` (what a revocation names) and when it `expires` (epoch seconds)."""

    sub: str
    group: str
    sid: str
    expires: float

    @property
    def user(self) -> str:
        """A stable, bounded key for this user's own buckets (never a label: that is the group)."""
        return hashlib.sha256(self.sub.encode("utf-8", "replace")).hexdigest()[:24]


class Keyring:
    """The signing keys, shared through `state`; see the module docstring. `wall` is the wall clock (tests)."""

    def __init__(self, state: StateBackend, *, issuer: str, period: int, wall: Callable[[], float] = time.time) -> None:
        self.state = state
        self.issuer = issuer
        self.period = period
        self.wall = wall
        self._keys: dict[int, OctKey] = {}
        self._set = KeySet([])
        self._task: asyncio.Task[None] | None = None
        self._verified: dict[str, AccessClaims] = {}  # token -> claims: a request's check is then a dict lookup
        self._refreshing: asyncio.Task[None] | None = None

    def epoch(self, at: float | None = None) -> int:
        """The epoch of wall time `at` (now by default)."""
        return int((self.wall() if at is None else at) // self.period)

    async def refresh(self) -> None:
        """Load (creating where missing) the keys of the epochs that may sign or verify now; drop older ones."""
        now = self.epoch()
        wanted = range(now - _KEEP_BEHIND, now + 2)
        ttl = (4 + _KEEP_BEHIND) * self.period  # from its creation as "next" until its last token has expired
        for epoch in wanted:
            if epoch in self._keys:
                continue
            name = f"signin:key:{epoch}"
            raw = await self.state.kv_get(name)
            if raw is None and epoch >= now:  # a past key that is gone signed nothing still valid
                await self.state.kv_put(name, base64.b64encode(secrets.token_bytes(32)), ttl, only_new=True)
                raw = await self.state.kv_get(name)  # whoever created it first: every replica agrees
            if raw is not None:
                self._keys[epoch] = OctKey.import_key(base64.b64decode(raw), {"kid": str(epoch), "alg": _ALG})
        for epoch in [e for e in self._keys if e < now - _KEEP_BEHIND]:
            del self._keys[epoch]
            self._verified.clear()  # what that key signed must fail from now on
        self._set = KeySet(list(self._keys.values()))

    def _refresh_soon(self) -> None:
        if self._refreshing is None or self._refreshing.done():
            with contextlib.suppress(RuntimeError):  # no running loop: nothing to schedule on
                self._refreshing = asyncio.get_running_loop().create_task(self._refresh_logged())

    async def _refresh_logged(self) -> None:
        try:
            await self.refresh()
        except Exception as exc:  # the state away: the keys in memory keep verifying
            _log.warning("sign-in: signing keys not refreshed: %s", exc)

    def start(self) -> None:
        """Keep the keys fresh in the background (every quarter period)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._keep_fresh())

    async def _keep_fresh(self) -> None:
        while True:
            await self._refresh_logged()
            await asyncio.sleep(max(1.0, self.period / 4))

    def stop(self) -> None:
        """Stop the background refresh."""
        for task in (self._task, self._refreshing):
            if task is not None:
                task.cancel()

    async def mint(self, sub: str, group: str, sid: str, ttl: int) -> tuple[str, float]:
        """A signed access token for `sub` in `group`, session `sid`, valid `ttl` seconds; and its expiry."""
        epoch = self.epoch()
        if epoch not in self._keys:
            await self.refresh()
        now = self.wall()
        claims: dict[str, Any] = {"iss": self.issuer, "aud": AUDIENCE, "sub": sub, "grp": group, "sid": sid}
        claims |= {"iat": int(now), "exp": int(now) + ttl}
        header = {"alg": _ALG, "kid": str(epoch)}
        return jwt.encode(header, claims, self._keys[epoch], algorithms=[_ALG]), now + ttl

    def verify(self, token: str) -> AccessClaims | None:
        """The claims of a valid access token (signature by a known key, not expired, ours); None otherwise."""
        known = self._verified.get(token)
        if known is not None:
            if known.expires > self.wall():
                return known
            del self._verified[token]
        if token.count(".") != 2:
            return None
        try:
            decoded = jwt.decode(token, self._set, algorithms=[_ALG])
            claims: dict[str, Any] = decoded.claims
            registry = jwt.JWTClaimsRegistry(
                now=int(self.wall()),
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": AUDIENCE},
                exp={"essential": True},
                sub={"essential": True},
            )
            registry.validate(claims)
        except JoseError as exc:
            if "kid" in str(exc).lower():  # a key minted elsewhere since our last refresh: catch up
                self._refresh_soon()
            return None
        except ValueError:
            return None
        group, sid = claims.get("grp"), claims.get("sid")
        if not isinstance(group, str) or not isinstance(sid, str) or not isinstance(claims["sub"], str):
            return None
        found = AccessClaims(claims["sub"], group, sid, float(claims["exp"]))
        if len(self._verified) >= _VERIFIED_MAX:
            self._verified.clear()  # bounded; the next requests verify again
        self._verified[token] = found
        return found
