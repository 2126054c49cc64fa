"""`SignIn`: gateway sign-in as the gateway mounts it — a route table, a token verifier for the client gate, start/stop.

Besides the authorization server (`endpoints`), two endpoints for signed-in clients (bearer access token):

- ``GET /managed/settings``: the group's managed settings as Claude Code fetches them (``{uuid, checksum,
  settings}``, ``ETag`` = the quoted checksum, ``If-None-Match`` → 304; 404 when the group has none).
- ``POST /v1/metrics``, ``/v1/logs``, ``/v1/traces``: Claude Code's own OTLP export, relayed byte for byte (body,
  content type and encoding) to the gateway's OTLP/HTTP endpoint when one is configured; 200 either way (a 404 would
  make the exporter complain on every flush).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping

import httpx2

from claudewire.gateway.downstream.clients import Member
from claudewire.gateway.downstream.http import Connection, Request
from claudewire.gateway.downstream.signin.config import SignInConfig
from claudewire.gateway.downstream.signin.endpoints import OAuthEndpoints, Route, idp_origin_of
from claudewire.gateway.downstream.signin.flow import SignInFlow
from claudewire.gateway.downstream.signin.idp import IdentityProvider, IdpUnavailable
from claudewire.gateway.downstream.signin.tokens import AccessClaims, Keyring
from claudewire.state import ClientLimits, StateBackend
from claudewire.telemetry import OtlpSettings

__all__ = ["SignIn", "otlp_targets"]

_log = logging.getLogger(__name__)
_SIGNALS = ("metrics", "logs", "traces")
_MAX_RELAYS = 64  # exports in flight to the collector at once; more are dropped (the client's next flush retries)
_UNAUTHORIZED = (
    b"content-type: application/json\r\nwww-authenticate: Bearer\r\ncache-control: no-store\r\n",
    b'{"type":"error","error":{"type":"authentication_error","message":"a signed-in access token is required '
    b'(sign in to the gateway again)"}}',
)


def otlp_targets(url: str | None, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Where each OTLP signal is relayed: the gateway's own OTLP/HTTP endpoint (``otlp`` or ``OTEL_*``), per signal."""
    env = os.environ if env is None else env
    try:
        settings = OtlpSettings.from_env(url, env)
    except ValueError:
        return {}
    targets: dict[str, str] = {}
    if settings is None and not env.get("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"):
        return targets
    if settings is not None and settings.protocol != "http/protobuf":
        return targets  # a gRPC collector does not take OTLP/HTTP bodies
    base = (settings.endpoint if settings is not None else None) or env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "")
    for signal in _SIGNALS:
        own = env.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT", "")
        if own and url is None:
            targets[signal] = own
        elif base:
            targets[signal] = base.rstrip("/") + f"/v1/{signal}"
    return targets


class SignIn:
    """Gateway sign-in over `state` (grants, refresh tokens, revocations, signing keys live there).

    `routes` maps a request path to its handler; `member` is the client gate's token verifier; `start(port)` reads
    the IdP's discovery and loads the signing keys once the listening port is known; `aclose` stops it.
    """

    def __init__(
        self,
        config: SignInConfig,
        state: StateBackend,
        *,
        public_url: str,
        otlp: str | None = None,
        http: httpx2.AsyncClient | None = None,
    ) -> None:
        self.config = config
        self.state = state
        self.groups = {g.name: g for g in config.groups}
        self.idp = IdentityProvider(config, http=http)
        self.keyring = Keyring(state, issuer=public_url, period=config.session_ttl)
        self.flow = SignInFlow(config, state, self.idp, self.keyring, public_url)
        self.oauth = OAuthEndpoints(self.flow, state, public_url, self._idp_origin)
        self.targets = otlp_targets(otlp)
        self._relay = httpx2.AsyncClient(timeout=10.0)
        self._relays: set[asyncio.Task[None]] = set()
        self.routes: dict[bytes, Route] = dict(self.oauth.routes)
        self.routes[b"/managed/settings"] = self.managed_settings
        for signal in _SIGNALS:
            self.routes[f"/v1/{signal}".encode()] = self.telemetry

    @property
    def public_url(self) -> str:
        """The origin clients reach the gateway at."""
        return self.flow.public_url

    def _idp_origin(self) -> str:
        return idp_origin_of(self.config.oidc_issuer)

    async def start(self, public_url: str | None = None) -> None:
        """Read the IdP's discovery and the signing keys; `public_url` once the listening port is known."""
        if public_url is not None and self.config.public_url is None:
            self.flow.public_url = self.oauth.public_url = self.keyring.issuer = public_url
            self.oauth.secure = public_url.startswith("https://")
        try:
            await self.idp.discovery()
        except IdpUnavailable as exc:  # the API keeps working; sign-in tries again on its first use
            _log.error("sign-in: the IdP's discovery could not be read at start: %s", exc)
        await self.keyring.refresh()
        self.keyring.start()

    async def aclose(self) -> None:
        """Stop the key refresh, wait for relays in flight (bounded), close the HTTP clients."""
        self.keyring.stop()
        if self._relays:
            await asyncio.wait(set(self._relays), timeout=2.0)
        await self._relay.aclose()
        await self.idp.aclose()

    def member(self, presented: bytes) -> Member | None:
        """The client a signed-in access token names (their group, limits and models), or None."""
        claims = self.keyring.verify(presented.decode("latin-1"))
        return self._member(claims) if claims is not None else None

    def _member(self, claims: AccessClaims) -> Member | None:
        group = self.groups.get(claims.group)
        if group is None:  # a group removed from the config since the token was minted
            return None
        lim = group.limits
        limits = ClientLimits(
            f"{group.name}/{claims.user}", lim.requests_per_minute, lim.tokens_per_minute, lim.tokens_per_day
        )
        return Member(group.name, limits, group.models, SignInFlow.revoked_key(claims.sid))

    async def _bearer(self, req: Request, conn: Connection) -> Member | None:
        raw = req.header(b"authorization") or b""
        member = self.member(raw[7:].strip()) if raw[:7].lower() == b"bearer " else None
        if member is None or await self.state.kv_seen(member.revoked):
            conn.respond(401, *_UNAUTHORIZED)
            return None
        return member

    async def managed_settings(self, req: Request, conn: Connection) -> None:
        """The member's group's managed settings (304 when the client has them, 404 when there are none)."""
        member = await self._bearer(req, conn)
        if member is None:
            return
        managed = self.groups[str(member)].managed
        if managed is None:
            conn.respond(404, b"content-type: application/json\r\n", b'{"error":"no managed settings for this group"}')
            return
        headers = b"etag: " + managed.etag + b"\r\ncache-control: no-cache\r\n"
        if req.header(b"if-none-match") == managed.etag:
            conn.respond(304, headers, b"")
            return
        conn.respond(200, b"content-type: application/json\r\n" + headers, managed.body)

    async def telemetry(self, req: Request, conn: Connection) -> None:
        """A member's OTLP export: relayed to the gateway's collector when there is one; 200."""
        if req.method != b"POST":
            conn.respond(405, b"allow: POST\r\n", b"")
            return
        if await self._bearer(req, conn) is None:
            return
        signal = req.path.decode("latin-1").rsplit("/", 1)[1]
        target = self.targets.get(signal)
        if target is not None and len(self._relays) < _MAX_RELAYS:
            headers = {"content-type": (req.header(b"content-type") or b"application/x-protobuf").decode("latin-1")}
            encoding = req.header(b"content-encoding")
            if encoding is not None:
                headers["content-encoding"] = encoding.decode("latin-1")
            task = asyncio.get_running_loop().create_task(self._send(target, req.body, headers))
            self._relays.add(task)
            task.add_done_callback(self._relays.discard)
        conn.respond(200, b"content-type: application/json\r\n", b"{}")

    async def _send(self, target: str, body: bytes, headers: dict[str, str]) -> None:
        try:
            resp = await self._relay.post(target, content=body, headers=headers)
            if resp.status_code >= 400:
                _log.warning("sign-in: the OTLP collector answered %d to a relayed export", resp.status_code)
        except httpx2.HTTPError as exc:
            _log.warning("sign-in: a relayed OTLP export did not reach %s: %r", target, exc)
