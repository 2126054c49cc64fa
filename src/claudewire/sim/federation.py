"""Workload identity federation in the simulator: a trusted test issuer, JWT checks, the token exchange's decision.

Sans-IO: `exchange` judges one ``POST /v1/oauth/token`` body (RFC 7523 ``jwt-bearer`` grant, as the API takes it)
against a `SimFederation` and says what to answer; `sim.oauth.FederatedApp` serves it and accepts the tokens it
mints. JWTs are checked with ``cryptography`` (RS256 and ES256 against the configured JWKS; ``iss``, ``aud``,
``exp``, ``nbf``, ``sub``). `IdentityIssuer` is a test issuer: a fresh key pair, its JWKS, and `mint` to sign
identity tokens the way a Kubernetes or GitHub issuer would.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

__all__ = ["GRANT_TYPE", "Decision", "IdentityIssuer", "SimFederation", "exchange", "verify_jwt"]

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_LEEWAY_S = 60.0
_REQUIRED = ("assertion", "federation_rule_id", "organization_id", "service_account_id")


@dataclass(frozen=True, slots=True)
class SimFederation:
    """What the simulated token endpoint trusts: the issuer's JWKS (a JWKS document), and optionally the exact
    ``iss``, ``aud`` and ``sub`` required, the one federation rule id, organization and service account that exist
    (None: any). Minted tokens live `expires_in` seconds."""

    jwks: Mapping[str, Any]
    issuer: str | None = None
    audience: str | None = None
    subject: str | None = None
    rule_id: str | None = None
    organization_id: str | None = None
    service_account_id: str | None = None
    expires_in: int = 600

    def __post_init__(self) -> None:
        keys = self.jwks.get("keys") if isinstance(self.jwks, Mapping) else None
        if not isinstance(keys, list) or not keys:
            raise ValueError('federation jwks: a JWKS document, {"keys": [...]} with at least one key')
        for key in keys:
            _public_key(key)  # fail early on a key it cannot use
        if self.expires_in < 1:
            raise ValueError("federation expires_in must be >= 1 second")


@dataclass(frozen=True, slots=True)
class Decision:
    """The token endpoint's answer: status and JSON body (an OAuth error, or the claims that earned a token)."""

    status: int
    body: Mapping[str, Any]
    claims: Mapping[str, Any] = field(default_factory=dict)


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int(value: object) -> int:
    return int.from_bytes(_b64(str(value)), "big")


def _public_key(jwk: Mapping[str, Any]) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
    if jwk.get("kty") == "RSA":
        return rsa.RSAPublicNumbers(_int(jwk["e"]), _int(jwk["n"])).public_key()
    if jwk.get("kty") == "EC" and jwk.get("crv") == "P-256":
        return ec.EllipticCurvePublicNumbers(_int(jwk["x"]), _int(jwk["y"]), ec.SECP256R1()).public_key()
    raise ValueError(f"federation jwks: unsupported key type {jwk.get('kty')!r} (RSA or EC P-256)")


class JwtError(ValueError):
    """An identity token that does not verify, with why (never the token itself)."""


def verify_jwt(token: str, federation: SimFederation, now: float) -> dict[str, Any]:
    """The claims of `token` once its signature, issuer, audience and times check out; `JwtError` saying why not."""
    parts = token.split(".")
    if len(parts) != 3:
        raise JwtError("the assertion is not a JWT")
    try:
        header = json.loads(_b64(parts[0]))
        claims = json.loads(_b64(parts[1]))
        signature = _b64(parts[2])
    except (ValueError, binascii.Error):
        raise JwtError("the assertion is not a well-formed JWT") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise JwtError("the assertion is not a well-formed JWT")
    keys = [k for k in federation.jwks["keys"] if header.get("kid") in (None, k.get("kid"))]
    if not keys:
        raise JwtError(f"no trusted key has kid {str(header.get('kid'))[:40]!r}")
    signed = f"{parts[0]}.{parts[1]}".encode()
    if not any(_verifies(_public_key(k), str(header.get("alg")), signature, signed) for k in keys):
        raise JwtError("the identity token's signature does not verify against the trusted issuer's keys")
    if federation.issuer is not None and claims.get("iss") != federation.issuer:
        raise JwtError(f"issuer {str(claims.get('iss'))[:80]!r} is not the trusted one")
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if federation.audience is not None and federation.audience not in audiences:
        raise JwtError("the identity token's audience does not match")
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if not isinstance(exp, int | float) or exp <= now - _LEEWAY_S:
        raise JwtError("the identity token has expired")
    if isinstance(nbf, int | float) and nbf > now + _LEEWAY_S:
        raise JwtError("the identity token is not valid yet")
    return claims


def _verifies(key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey, alg: str, signature: bytes, signed: bytes) -> bool:
    try:
        if alg == "RS256" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
            return True
        if alg == "ES256" and isinstance(key, ec.EllipticCurvePublicKey) and len(signature) == 64:
            der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
            key.verify(der, signed, ec.ECDSA(hashes.SHA256()))
            return True
    except InvalidSignature:
        return False
    return False


def _oauth_error(status: int, error: str, description: str) -> Decision:
    return Decision(status, {"error": error, "error_description": description})


def exchange(body: object, federation: SimFederation, now: float) -> Decision:
    """The answer to one token exchange request body: 400 malformed, 401 ``invalid_grant``, or 200 with claims."""
    if not isinstance(body, Mapping):
        return _oauth_error(400, "invalid_request", "the request body must be a JSON object")
    if body.get("grant_type") != GRANT_TYPE:
        return _oauth_error(400, "unsupported_grant_type", f"grant_type must be {GRANT_TYPE}")
    for name in _REQUIRED:
        if not isinstance(body.get(name), str) or not body[name]:
            return _oauth_error(400, "invalid_request", f"{name} is required")
    for name, expected in (
        ("federation_rule_id", federation.rule_id),
        ("organization_id", federation.organization_id),
        ("service_account_id", federation.service_account_id),
    ):
        if expected is not None and body[name] != expected:
            shown = str(body[name])[:60]
            return _oauth_error(401, "invalid_grant", f"{name} {shown!r} does not match a federation rule")
    try:
        claims = verify_jwt(str(body["assertion"]), federation, now)
    except JwtError as exc:
        return _oauth_error(401, "invalid_grant", str(exc))
    if federation.subject is not None and claims.get("sub") != federation.subject:
        return _oauth_error(401, "invalid_grant", "the identity token's subject does not match the federation rule")
    return Decision(200, {"token_type": "Bearer", "expires_in": federation.expires_in}, claims)


class IdentityIssuer:
    """A test OIDC issuer: an RSA key pair made now, its JWKS, and identity tokens signed with it."""

    def __init__(self, issuer: str = "https://issuer.sim.test", kid: str | None = None) -> None:
        self.issuer = issuer
        self.kid = kid or f"sim-{secrets.token_hex(4)}"
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    @property
    def jwks(self) -> dict[str, Any]:
        """The public key as a JWKS document."""
        numbers = self._key.public_key().public_numbers()

        def enc(n: int) -> str:
            return _b64e(n.to_bytes((n.bit_length() + 7) // 8, "big"))

        key = {"kty": "RSA", "kid": self.kid, "alg": "RS256", "use": "sig", "n": enc(numbers.n), "e": enc(numbers.e)}
        return {"keys": [key]}

    def mint(
        self,
        subject: str = "system:serviceaccount:default:claudewire",
        audience: str = "https://api.anthropic.com",
        ttl: float = 3600.0,
        now: float | None = None,
        **claims: Any,
    ) -> str:
        """A signed identity token (RS256) for `subject`, valid `ttl` seconds from `now` (default: the wall clock)."""
        issued = time.time() if now is None else now
        payload = {
            "iss": self.issuer,
            "sub": subject,
            "aud": audience,
            "iat": int(issued),
            "exp": int(issued + ttl),
            "jti": str(uuid.uuid4()),
            **claims,
        }
        header = {"alg": "RS256", "typ": "JWT", "kid": self.kid}
        signed = f"{_b64e(json.dumps(header).encode())}.{_b64e(json.dumps(payload).encode())}"
        signature = self._key.sign(signed.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signed}.{_b64e(signature)}"

    def federation(self, **settings: Any) -> SimFederation:
        """A `SimFederation` trusting this issuer (`settings`: its other fields)."""
        return SimFederation(jwks=self.jwks, issuer=self.issuer, **settings)
