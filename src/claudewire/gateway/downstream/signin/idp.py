"""The organisation's OpenID Connect provider, as the gateway's sign-in uses it (authlib for OAuth, joserfc for JOSE).

- Discovery (``/.well-known/openid-configuration``) is read at start and kept; its ``issuer`` must be the configured
  one exactly (OIDC Discovery §4.3). The JWKS is cached and read again when an ID token names an unknown key.
- `authorization_url`: the authorization-code request with PKCE (S256), a nonce and a state.
- `exchange`: the code for tokens (client authentication ``client_secret_basic`` with a secret, ``none`` without);
  the ID token validated: signature from the IdP's JWKS, ``iss``, ``aud``/``azp``, ``exp``/``iat``, the nonce and
  ``at_hash`` (authlib's `CodeIDToken`).
- `recheck`: whether the IdP still vouches for a user, through its refresh token (a fresh ID token, or userinfo):
  `IdpRefused` when it answers that the grant is no longer good (deprovisioned), `IdpUnavailable` when it cannot say.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx2
from authlib.oauth2.auth import ClientAuth  # type: ignore[import-untyped]
from authlib.oauth2.rfc7636 import create_s256_code_challenge  # type: ignore[import-untyped]
from authlib.oidc.core import CodeIDToken, IDToken  # type: ignore[import-untyped]
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from claudewire.gateway.downstream.signin.config import SignInConfig

__all__ = ["Identity", "IdentityProvider", "IdpRefused", "IdpUnavailable", "create_s256_code_challenge"]

_log = logging.getLogger(__name__)
_LEEWAY = 60  # seconds of clock skew tolerated between the IdP and the gateway


class IdpUnavailable(RuntimeError):
    """The IdP could not be asked (unreachable, 5xx, an answer that is not OAuth's): try again later."""


class IdpRefused(RuntimeError):
    """The IdP answered, and no longer vouches for the user (invalid_grant, an ID token that does not validate)."""


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the IdP says signed in: `sub`, the validated `claims`, and the IdP's own tokens kept for the re-checks."""

    sub: str
    claims: dict[str, Any]
    refresh_token: str | None = field(default=None, repr=False)
    access_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Discovery:
    """The parts of the IdP's discovery document sign-in uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    algorithms: tuple[str, ...]


class IdentityProvider:
    """One IdP; `http` is the client to reach it (tests inject one; by default one trusting the system's CAs)."""

    def __init__(self, config: SignInConfig, *, http: httpx2.AsyncClient | None = None) -> None:
        self.config = config
        self.http = http or httpx2.AsyncClient(timeout=10.0, follow_redirects=False)
        self._discovery: Discovery | None = None
        self._keys: KeySet | None = None

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.http.aclose()

    async def _json(self, method: str, url: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        try:
            resp = await self.http.request(method, url, **kwargs)
        except httpx2.HTTPError as exc:
            raise IdpUnavailable(f"the IdP did not answer {method} {url}: {exc!r}") from exc
        try:
            data = resp.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise IdpUnavailable(f"the IdP answered {method} {url} with {resp.status_code} and no JSON object")
        return resp.status_code, data

    async def discovery(self) -> Discovery:
        """The IdP's endpoints (read once; the issuer checked)."""
        if self._discovery is not None:
            return self._discovery
        issuer = self.config.oidc_issuer
        url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        status, doc = await self._json("GET", url)
        if status != 200:
            raise IdpUnavailable(f"IdP discovery {url} answered {status}")
        if doc.get("issuer") not in (issuer, issuer.rstrip("/")):
            raise IdpUnavailable(f"IdP discovery names issuer {doc.get('issuer')!r}, not the configured {issuer!r}")
        needed = ("authorization_endpoint", "token_endpoint", "jwks_uri")
        if not all(isinstance(doc.get(k), str) for k in needed):
            raise IdpUnavailable(f"IdP discovery {url} lacks one of {', '.join(needed)}")
        algorithms = doc.get("id_token_signing_alg_values_supported") or ["RS256"]
        self._discovery = Discovery(
            issuer=doc["issuer"],
            authorization_endpoint=doc["authorization_endpoint"],
            token_endpoint=doc["token_endpoint"],
            jwks_uri=doc["jwks_uri"],
            userinfo_endpoint=doc.get("userinfo_endpoint") if isinstance(doc.get("userinfo_endpoint"), str) else None,
            algorithms=tuple(a for a in algorithms if isinstance(a, str) and a != "none"),
        )
        return self._discovery

    async def _key_set(self, *, force: bool = False) -> KeySet:
        if self._keys is None or force:
            found = await self.discovery()
            status, doc = await self._json("GET", found.jwks_uri)
            if status != 200:
                raise IdpUnavailable(f"IdP JWKS {found.jwks_uri} answered {status}")
            self._keys = KeySet.import_key_set(doc)  # type: ignore[arg-type]
        return self._keys

    async def authorization_url(self, *, redirect_uri: str, state: str, nonce: str, verifier: str) -> str:
        """Where the browser goes to sign in: the authorization-code request with PKCE (S256)."""
        found = await self.discovery()
        params = {
            "response_type": "code",
            "client_id": self.config.oidc_client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(self.config.oidc_scopes),
            "state": state,
            "nonce": nonce,
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
        }
        if "offline_access" in self.config.oidc_scopes:
            params["prompt"] = "consent"  # OIDC Core §11: offline_access is only granted with prompt=consent
        sep = "&" if "?" in found.authorization_endpoint else "?"
        return found.authorization_endpoint + sep + urlencode(params)

    async def _token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        found = await self.discovery()
        secret = self.config.oidc_client_secret
        method = "client_secret_basic" if secret else "none"
        auth = ClientAuth(self.config.oidc_client_id, secret or "", method)
        body = urlencode(form)
        headers = {"content-type": "application/x-www-form-urlencoded", "accept": "application/json"}
        uri, headers, body = auth.prepare("POST", found.token_endpoint, headers, body)
        return await self._json("POST", uri, headers=headers, content=body.encode())

    async def _validate(self, id_token: str, *, nonce: str | None, access_token: str | None) -> dict[str, Any]:
        found = await self.discovery()
        try:
            try:
                token = jwt.decode(id_token, await self._key_set(), algorithms=list(found.algorithms))
            except InvalidKeyIdError:  # the IdP rotated its keys since we read them
                token = jwt.decode(id_token, await self._key_set(force=True), algorithms=list(found.algorithms))
            options = {
                "iss": {"essential": True, "value": found.issuer},
                "aud": {"essential": True, "value": self.config.oidc_client_id},
            }
            params = {"client_id": self.config.oidc_client_id, "nonce": nonce, "access_token": access_token}
            claims_cls = CodeIDToken if nonce is not None else IDToken
            claims = claims_cls(token.claims, token.header, options, params)
            claims.validate(leeway=_LEEWAY)
        except (JoseError, ValueError) as exc:
            raise IdpRefused(f"the ID token does not validate: {exc}") from exc
        return dict(token.claims)

    async def exchange(self, code: str, *, redirect_uri: str, verifier: str, nonce: str) -> Identity:
        """The authorization code for the user's validated identity (`IdpRefused` when anything does not check)."""
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        form["code_verifier"] = verifier
        if not self.config.oidc_client_secret:
            form["client_id"] = self.config.oidc_client_id
        status, answer = await self._token(form)
        if status >= 500:
            raise IdpUnavailable(f"the IdP token endpoint answered {status}")
        if status != 200 or not isinstance(answer.get("id_token"), str):
            raise IdpRefused(
                f"the IdP refused the code: {answer.get('error', status)} {answer.get('error_description', '')}"
            )
        access = answer.get("access_token") if isinstance(answer.get("access_token"), str) else None
        claims = await self._validate(answer["id_token"], nonce=nonce, access_token=access)
        refresh = answer.get("refresh_token") if isinstance(answer.get("refresh_token"), str) else None
        return Identity(str(claims["sub"]), claims, refresh, access)

    async def recheck(self, previous: Identity) -> Identity:
        """Ask the IdP again about `previous` (its refresh token; else userinfo with its access token)."""
        if previous.refresh_token:
            form = {"grant_type": "refresh_token", "refresh_token": previous.refresh_token}
            if not self.config.oidc_client_secret:
                form["client_id"] = self.config.oidc_client_id
            status, answer = await self._token(form)
            if status >= 500 or (status != 200 and "error" not in answer):
                raise IdpUnavailable(f"the IdP token endpoint answered {status}")
            if status != 200:
                raise IdpRefused(f"the IdP refused the refresh: {answer.get('error')}")
            access = answer.get("access_token") if isinstance(answer.get("access_token"), str) else None
            refresh = answer.get("refresh_token") if isinstance(answer.get("refresh_token"), str) else None
            refresh = refresh or previous.refresh_token
            if isinstance(answer.get("id_token"), str):
                claims = await self._validate(answer["id_token"], nonce=None, access_token=access)
            elif access is not None:
                claims = await self._userinfo(access)
            else:
                raise IdpUnavailable("the IdP's refresh answer has neither an ID token nor an access token")
            if str(claims.get("sub")) != previous.sub:
                raise IdpRefused("the IdP answered for another subject")
            return Identity(previous.sub, claims, refresh, access)
        if previous.access_token:
            claims = await self._userinfo(previous.access_token)
            if str(claims.get("sub")) != previous.sub:
                raise IdpRefused("the IdP's userinfo names another subject")
            return Identity(previous.sub, claims, None, previous.access_token)
        raise IdpRefused("the IdP gave no refresh token (offline_access) to re-check the user with")

    async def _userinfo(self, access_token: str) -> dict[str, Any]:
        found = await self.discovery()
        if found.userinfo_endpoint is None:
            raise IdpUnavailable("the IdP has no userinfo endpoint to re-check the user with")
        status, claims = await self._json(
            "GET", found.userinfo_endpoint, headers={"authorization": f"Bearer {access_token}"}
        )
        if status in (401, 403):
            raise IdpRefused(f"the IdP's userinfo answered {status}")
        if status != 200:
            raise IdpUnavailable(f"the IdP's userinfo answered {status}")
        return claims
