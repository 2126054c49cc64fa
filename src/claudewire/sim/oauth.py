"""The anthropic-mode simulator with workload identity federation (``claudewire sim --federation-jwks FILE``).

Adds ``POST /v1/oauth/token``: a ``jwt-bearer`` exchange judged by `sim.federation.exchange` against the
configured issuer, answering RFC 6749 JSON (``access_token`` ``sk-ant-oat01-sim…``, ``token_type``,
``expires_in``) or an OAuth error (``{"error", "error_description"}``: 400 malformed, 401 ``invalid_grant``). The
minted tokens are accepted on every ``/v1/*`` endpoint as ``Authorization: Bearer`` with the ``oauth-2025-04-20``
beta, until they expire (401 "OAuth token has expired"); API keys keep working beside them. Faults with
``path=/v1/oauth/token`` hit the exchange.
"""

from __future__ import annotations

import json
import secrets
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from claudewire.sim.app import SimApp, _Handler
from claudewire.sim.config import SimConfig
from claudewire.sim.endpoints import ApiError
from claudewire.sim.federation import SimFederation, exchange
from claudewire.sim.stats import Stats
from claudewire.sim.validation import betas_of

__all__ = ["OAUTH_BETA", "TOKEN_PATH", "FederatedApp"]

TOKEN_PATH = "/v1/oauth/token"  # noqa: S105  (a path, not a password)
OAUTH_BETA = "oauth-2025-04-20"
_MINTED_PREFIX = "sk-ant-oat01-sim"
_MAX_MINTED = 10_000


class FederatedApp(SimApp):
    """`SimApp` with the token endpoint and the bearer tokens it mints.

    `exchanges` keeps, for the most recent exchanges, the status answered and the identity token's ``sub`` and
    ``jti`` (never the token); `minted` maps each live access token to when it expires (wall-clock seconds).
    """

    def __init__(self, config: SimConfig, stats: Stats) -> None:
        super().__init__(config, stats)
        assert config.federation is not None
        self.federation: SimFederation = config.federation
        self.exchanges: deque[dict[str, Any]] = deque(maxlen=max(1, config.request_log_size))
        self.minted: dict[str, float] = {}

    def _routes(self) -> dict[tuple[str, str], _Handler]:
        return {**super()._routes(), ("POST", TOKEN_PATH): self._token}

    def _check_version(self, request: web.Request, body: Mapping[str, Any] | None) -> None:
        if request.path != TOKEN_PATH:  # the exchange carries no anthropic-version
            super()._check_version(request, body)

    def _authenticate(self, request: web.Request, raw: bytes) -> str:
        if request.path == TOKEN_PATH:
            return ""  # the assertion is the credential (judged by the endpoint); no rate-limit key
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        if not token.startswith(_MINTED_PREFIX) or request.headers.get("x-api-key"):
            return super()._authenticate(request, raw)
        expires = self.minted.get(token)
        if expires is None:
            raise ApiError(401, "authentication_error", "Invalid bearer token")
        if expires <= time.time():
            raise ApiError(
                401,
                "authentication_error",
                "OAuth token has expired. Please obtain a new token or refresh your existing token.",
            )
        if OAUTH_BETA not in betas_of(request.headers.get("anthropic-beta")):
            raise ApiError(401, "authentication_error", "OAuth authentication is currently not supported.")
        return token

    async def _token(
        self, request: web.Request, body: Mapping[str, Any] | None, rid: str, ctx: Any
    ) -> web.StreamResponse:
        raw = await request.read()
        try:
            parsed: object = json.loads(raw)
        except ValueError:
            parsed = None
        now = time.time()
        decision = exchange(parsed, self.federation, now)
        answer = dict(decision.body)
        if decision.status == 200:
            token = f"{_MINTED_PREFIX}-{secrets.token_urlsafe(24)}"
            self._remember(token, now + self.federation.expires_in, now)
            answer = {"access_token": token, **answer, "scope": "user:inference"}
        self.exchanges.append(
            {
                "status": decision.status,
                "sub": decision.claims.get("sub"),
                "jti": decision.claims.get("jti"),
                "error": answer.get("error"),
            }
        )
        return self._respond(decision.status, json.dumps(answer).encode(), ctx.headers)

    def _remember(self, token: str, expires: float, now: float) -> None:
        if len(self.minted) >= _MAX_MINTED:
            self.minted = {t: e for t, e in self.minted.items() if e > now}
            while len(self.minted) >= _MAX_MINTED:  # all live: forget the oldest
                self.minted.pop(next(iter(self.minted)))
        self.minted[token] = expires
