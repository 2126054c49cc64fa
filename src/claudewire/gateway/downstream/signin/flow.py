"""The sign-in's steps, without HTTP: RFC 8628's device grant, the browser's detour through the IdP, the token grants.

Everything a step needs to remember lives in the state backend under ``signin:``, so any replica can take the next
step of a sign-in another began: ``dc:<sha256 of device_code>`` the grant (pending, then approved with the user's
identity, or denied), ``uc:<user_code>`` the way from the code typed in the browser to that grant, ``st:<state>``
the browser's round trip through the IdP (PKCE verifier, nonce, a hash of the browser's cookie), ``rt:<sha256 of
refresh token>`` a session's refresh token, ``rv:<session>`` a revoked session. A grant, a state and a refresh token
are *taken* (read and deleted atomically): each is used once, whichever replica gets there first.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from claudewire.gateway.downstream.signin.config import GroupSpec, SignInConfig
from claudewire.gateway.downstream.signin.idp import Identity, IdentityProvider, IdpRefused, IdpUnavailable
from claudewire.gateway.downstream.signin.tokens import Keyring, digest, new_secret
from claudewire.state import StateBackend

__all__ = ["DEVICE_TTL", "INTERVAL", "OAuthError", "SignInFlow", "TokenAnswer", "normal_user_code"]

_log = logging.getLogger(__name__)

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
DEVICE_TTL = 600  # seconds a device code and its user code live (expires_in)
INTERVAL = 5  # seconds between polls (interval); faster is slow_down
REFRESH_TTL = 14 * 86400  # a session not refreshed for this long ends
USER_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"  # RFC 8628 §6.1: no vowels (no words), no look-alike digits
USER_CODE_LENGTH = 8


class OAuthError(Exception):
    """An OAuth error answer: `error` (RFC 6749 §5.2 / RFC 8628 §3.5), a description, the HTTP status."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error, self.description, self.status = error, description, status


@dataclass(frozen=True, slots=True)
class TokenAnswer:
    """A successful token response (RFC 6749 §5.1)."""

    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"  # noqa: S105 - the scheme's name, not a secret


@dataclass(frozen=True, slots=True)
class _Session:
    """What a refresh token continues: the user, their group, the session id, the IdP's own tokens."""

    sub: str
    group: str
    sid: str
    idp_refresh: str | None = None
    idp_access: str | None = None


def normal_user_code(typed: str) -> str:
    """A user code as typed (any case, dashes, spaces) in its stored form."""
    return "".join(c for c in typed.upper() if c.isalnum())


def _now() -> float:
    return time.time()


class SignInFlow:
    """The steps; `public_url` is the gateway's origin as clients reach it."""

    def __init__(
        self,
        config: SignInConfig,
        state: StateBackend,
        idp: IdentityProvider,
        keyring: Keyring,
        public_url: str,
        *,
        wall: Callable[[], float] = _now,
    ) -> None:
        self.config = config
        self.state = state
        self.idp = idp
        self.keyring = keyring
        self.public_url = public_url
        self.wall = wall

    # --- RFC 8628 §3.1-3.2: the device asks --------------------------------------------------------------------------
    async def authorize_device(self) -> dict[str, Any]:
        """A new device grant: the device authorization response."""
        device_code = secrets.token_urlsafe(32)  # 256 bits
        key = digest(device_code)
        for _ in range(5):  # 20^8 codes: a clash with a live one is rare; try another
            user_code = "".join(secrets.choice(USER_ALPHABET) for _ in range(USER_CODE_LENGTH))
            if await self.state.kv_put(f"signin:uc:{user_code}", key.encode(), DEVICE_TTL, only_new=True):
                break
        else:
            raise OAuthError("temporarily_unavailable", "no free user code; try again", 503)
        grant = {"status": "pending", "user_code": user_code, "created": self.wall()}
        await self.state.kv_put(f"signin:dc:{key}", json.dumps(grant).encode(), DEVICE_TTL)
        shown = f"{user_code[:4]}-{user_code[4:]}"
        return {
            "device_code": device_code,
            "user_code": shown,
            "verification_uri": f"{self.public_url}/device",
            "verification_uri_complete": f"{self.public_url}/device?user_code={shown}",
            "expires_in": DEVICE_TTL,
            "interval": INTERVAL,
        }

    # --- the verification page: the user confirms the code and goes to the IdP ---------------------------------------
    async def begin_browser(self, typed_code: str, browser_secret: str) -> str | None:
        """The IdP authorization URL for the grant of `typed_code` (None: no such pending code)."""
        code = normal_user_code(typed_code)
        if len(code) != USER_CODE_LENGTH:
            return None
        key = await self.state.kv_get(f"signin:uc:{code}")
        if key is None:
            return None
        verifier, nonce, state = secrets.token_urlsafe(48), secrets.token_urlsafe(24), secrets.token_urlsafe(32)
        trip = {"device": key.decode(), "verifier": verifier, "nonce": nonce, "browser": digest(browser_secret)}
        await self.state.kv_put(f"signin:st:{state}", json.dumps(trip).encode(), DEVICE_TTL)
        return await self.idp.authorization_url(
            redirect_uri=self.redirect_uri, state=state, nonce=nonce, verifier=verifier
        )

    @property
    def redirect_uri(self) -> str:
        """Where the IdP sends the browser back (register it with the IdP)."""
        return f"{self.public_url}/oauth/callback"

    async def finish_browser(
        self, state: str, code: str | None, idp_error: str | None, browser_secret: str | None
    ) -> tuple[bool, str]:
        """The IdP's answer: approve (or deny) the grant; (signed in, what to tell the user)."""
        raw = await self.state.kv_take(f"signin:st:{state}")
        if raw is None:
            return False, "This sign-in link has expired or was already used. Start again from your terminal."
        trip = json.loads(raw)
        if browser_secret is None or not hmac.compare_digest(digest(browser_secret), trip["browser"]):
            return False, "This sign-in was started in another browser. Open the link shown in your terminal here."
        grant_key = f"signin:dc:{trip['device']}"
        grant_raw = await self.state.kv_get(grant_key)
        grant = json.loads(grant_raw) if grant_raw is not None else None
        if grant is None or grant.get("status") != "pending":
            return False, "This code has expired or was already used. Start again from your terminal."
        if idp_error is not None or code is None:
            await self._settle(grant_key, grant, {"status": "denied"})
            return False, f"The identity provider did not sign you in ({idp_error or 'no code'})."
        try:
            identity = await self.idp.exchange(
                code, redirect_uri=self.redirect_uri, verifier=trip["verifier"], nonce=trip["nonce"]
            )
        except IdpRefused as exc:
            _log.warning("sign-in refused by the IdP: %s", exc)
            await self._settle(grant_key, grant, {"status": "denied"})
            return False, "The identity provider's answer did not check out; sign-in denied."
        group = await self._group_of(identity)
        if group is None:
            await self._settle(grant_key, grant, {"status": "denied"})
            return False, "You are signed in at the identity provider, but in no group this gateway serves."
        session = _Session(
            identity.sub, group.name, secrets.token_urlsafe(16), identity.refresh_token, identity.access_token
        )
        await self._settle(grant_key, grant, {"status": "approved", "session": asdict(session)})
        _log.info("sign-in approved for a user of group %s", group.name)
        return True, "You are signed in. Return to your terminal."

    async def _settle(self, key: str, grant: dict[str, Any], change: dict[str, Any]) -> None:
        left = max(1.0, grant["created"] + DEVICE_TTL - self.wall())
        await self.state.kv_put(key, json.dumps(grant | change).encode(), left)
        await self.state.kv_take(f"signin:uc:{grant['user_code']}")  # the code is spent

    async def _group_of(self, identity: Identity) -> GroupSpec | None:
        claim = self.config.groups_claim
        names = identity.claims.get(claim)
        if names is None and identity.access_token:  # some IdPs put groups in userinfo only
            try:
                names = (await self.idp.recheck(Identity(identity.sub, {}, None, identity.access_token))).claims.get(
                    claim
                )
            except (IdpRefused, IdpUnavailable):
                names = None
        return self.config.group(names)

    # --- the token endpoint ----------------------------------------------------------------------------------------
    async def poll(self, device_code: str) -> TokenAnswer:
        """RFC 8628 §3.4-3.5: the device's poll."""
        key = digest(device_code)
        raw = await self.state.kv_get(f"signin:dc:{key}")
        if raw is None:
            raise OAuthError("expired_token", "the device code is unknown or has expired; start a new sign-in")
        grant = json.loads(raw)
        if grant["status"] == "pending":
            if not await self.state.kv_put(f"signin:poll:{key}", b"1", INTERVAL - 0.5, only_new=True):
                raise OAuthError("slow_down", f"poll at most every {INTERVAL} seconds")
            raise OAuthError("authorization_pending", "the user has not finished signing in yet")
        taken = await self.state.kv_take(f"signin:dc:{key}")  # single use, whichever replica polls first
        if taken is None:
            raise OAuthError("expired_token", "the device code was already used")
        grant = json.loads(taken)
        if grant["status"] != "approved":
            raise OAuthError("access_denied", "the sign-in was denied")
        return await self._issue(_Session(**grant["session"]))

    async def refresh(self, refresh_token: str) -> TokenAnswer:
        """A refresh grant: the IdP re-checks the user first; the refresh token is rotated."""
        key = f"signin:rt:{digest(refresh_token)}"
        raw = await self.state.kv_take(key)
        if raw is None:
            raise OAuthError("invalid_grant", "the refresh token is unknown, expired, revoked or already used")
        session = _Session(**json.loads(raw))
        if await self.state.kv_get(f"signin:rv:{session.sid}") is not None:
            raise OAuthError("invalid_grant", "the session was revoked")
        try:
            identity = await self.idp.recheck(Identity(session.sub, {}, session.idp_refresh, session.idp_access))
        except IdpUnavailable as exc:
            _log.warning("sign-in refresh: the IdP could not be asked: %s", exc)
            await self.state.kv_put(key, raw, REFRESH_TTL)  # not the user's fault: the same token works later
            raise OAuthError("temporarily_unavailable", "the identity provider could not be reached", 503) from None
        except IdpRefused as exc:
            _log.warning("sign-in refresh refused: the IdP no longer vouches for the user (%s)", exc)
            await self._revoke_session(session.sid)
            raise OAuthError("invalid_grant", "the identity provider no longer vouches for this user") from None
        group = await self._group_of(identity)
        if group is None:
            await self._revoke_session(session.sid)
            raise OAuthError("invalid_grant", "the user is no longer in a group this gateway serves")
        return await self._issue(
            _Session(session.sub, group.name, session.sid, identity.refresh_token, identity.access_token)
        )

    async def _issue(self, session: _Session) -> TokenAnswer:
        ttl = self.config.session_ttl
        access, _ = await self.keyring.mint(session.sub, session.group, session.sid, ttl)
        refresh = new_secret("cwr_")
        await self.state.kv_put(f"signin:rt:{digest(refresh)}", json.dumps(asdict(session)).encode(), REFRESH_TTL)
        return TokenAnswer(access, refresh, ttl)

    # --- RFC 7009: revocation --------------------------------------------------------------------------------------
    async def revoke(self, token: str) -> None:
        """Revoke the session of a refresh or access token (unknown tokens: nothing, as RFC 7009 §2.2 says)."""
        raw = await self.state.kv_take(f"signin:rt:{digest(token)}")
        if raw is not None:
            await self._revoke_session(json.loads(raw)["sid"])
            return
        claims = self.keyring.verify(token)
        if claims is not None:
            await self._revoke_session(claims.sid)

    async def _revoke_session(self, sid: str) -> None:
        await self.state.kv_put(f"signin:rv:{sid}", b"1", REFRESH_TTL)

    @staticmethod
    def revoked_key(sid: str) -> str:
        """The state key whose presence means session `sid` is revoked."""
        return f"signin:rv:{sid}"
