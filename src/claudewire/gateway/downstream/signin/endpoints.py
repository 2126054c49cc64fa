"""Sign-in's HTTP endpoints, one route table: discovery, the device grant, the verification page, the IdP's callback,
the token and revocation endpoints. OAuth errors answer in OAuth's shape (``{"error", "error_description"}``, RFC
6749 §5.2) with ``cache-control: no-store``; the browser pages are HTML."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Callable, Coroutine
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlsplit

from claudewire.gateway.downstream.http import Connection, Request
from claudewire.gateway.downstream.signin.flow import DEVICE_GRANT, DEVICE_TTL, OAuthError, SignInFlow
from claudewire.gateway.downstream.signin.pages import page_headers, result_page, verify_page
from claudewire.state import ClientLimits, StateBackend, StateUnavailableError

__all__ = ["OAuthEndpoints", "Route", "oauth_error", "peer"]

_log = logging.getLogger(__name__)

Route = Callable[[Request, Connection], Coroutine[Any, Any, None]]
_NO_STORE = b"cache-control: no-store\r\npragma: no-cache\r\n"
_JSON = b"content-type: application/json\r\n"
_CSRF_COOKIE, _BROWSER_COOKIE = "cw_csrf", "cw_signin"
DEVICE_PER_MINUTE = 10  # device authorizations per client address and minute
VERIFY_PER_MINUTE = 20  # codes tried on the verification page per client address and minute


def oauth_error(conn: Connection, error: OAuthError) -> None:
    """Answer `error` in OAuth's shape."""
    body = json.dumps({"error": error.error, "error_description": error.description}).encode()
    extra = b"retry-after: 5\r\n" if error.status == 503 else b""
    conn.respond(error.status, _JSON + _NO_STORE + extra, body)


def _json(conn: Connection, data: dict[str, Any], status: int = 200) -> None:
    conn.respond(status, _JSON + _NO_STORE, json.dumps(data).encode())


def peer(conn: Connection) -> str:
    """The client's address (what per-address limits count)."""
    transport = conn.transport
    name = transport.get_extra_info("peername") if transport is not None else None
    return str(name[0]) if isinstance(name, tuple) and name else "unknown"


def _form(req: Request) -> dict[str, str]:
    kind = (req.header(b"content-type") or b"").split(b";")[0].strip().lower()
    if kind != b"application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "send the parameters as application/x-www-form-urlencoded")
    try:
        parsed = parse_qs(req.body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise OAuthError("invalid_request", "the form is not UTF-8") from None
    for name, values in parsed.items():
        if len(values) > 1:  # RFC 6749 §3.1: parameters must not repeat
            raise OAuthError("invalid_request", f"parameter {name} is given more than once")
    return {name: values[0] for name, values in parsed.items()}


def _query(req: Request) -> dict[str, str]:
    q = req.target.find(b"?")
    if q < 0:
        return {}
    parsed = parse_qs(req.target[q + 1 :].decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in parsed.items()}


def _cookie(req: Request, name: str) -> str | None:
    raw = req.header(b"cookie")
    if raw is None:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw.decode("latin-1"))
    except CookieError:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel is not None else None


class OAuthEndpoints:
    """The routes of sign-in's authorization server, over `flow`; `public_url` is the origin clients reach."""

    def __init__(self, flow: SignInFlow, state: StateBackend, public_url: str, idp_origin: Callable[[], str]) -> None:
        self.flow = flow
        self.state = state
        self.public_url = public_url
        self.secure = public_url.startswith("https://")
        self._idp_origin = idp_origin
        self.routes: dict[bytes, Route] = {
            b"/.well-known/oauth-authorization-server": self.metadata,
            b"/oauth/device_authorization": self.device_authorization,
            b"/device": self.device,
            b"/oauth/callback": self.callback,
            b"/oauth/token": self.token,
            b"/oauth/revoke": self.revoke,
        }

    async def _guarded(self, conn: Connection, step: Coroutine[Any, Any, None]) -> None:
        try:
            await step
        except OAuthError as exc:
            oauth_error(conn, exc)
        except StateUnavailableError as exc:
            _log.warning("sign-in: %s", exc)
            oauth_error(conn, OAuthError("temporarily_unavailable", "the gateway's state store is unavailable", 503))

    async def _limited(self, what: str, conn: Connection, per_minute: int) -> bool:
        address = hashlib.sha256(peer(conn).encode()).hexdigest()[:16]
        admission = await self.state.admit(ClientLimits(f"signin.{what}.{address}", requests_per_minute=per_minute), 0)
        return not admission.allowed

    # --- RFC 8414 ------------------------------------------------------------------------------------------------
    async def metadata(self, req: Request, conn: Connection) -> None:
        """The authorization server's metadata: same-origin endpoints, the device and refresh grants only."""
        base = self.public_url
        _json(
            conn,
            {
                "issuer": base,
                "device_authorization_endpoint": f"{base}/oauth/device_authorization",
                "token_endpoint": f"{base}/oauth/token",
                "revocation_endpoint": f"{base}/oauth/revoke",
                "grant_types_supported": [DEVICE_GRANT, "refresh_token"],
                "response_types_supported": [],
                "token_endpoint_auth_methods_supported": ["none"],
                "revocation_endpoint_auth_methods_supported": ["none"],
            },
        )

    # --- RFC 8628 §3.1 -------------------------------------------------------------------------------------------
    async def device_authorization(self, req: Request, conn: Connection) -> None:
        """A new device code and user code (rate-limited per address)."""

        async def step() -> None:
            if req.method != b"POST":
                raise OAuthError("invalid_request", "POST to the device authorization endpoint", 405)
            if req.body:
                _form(req)  # a client_id or scope may come; there is nothing to choose, but the form must parse
            if await self._limited("device", conn, DEVICE_PER_MINUTE):
                raise OAuthError("slow_down", f"at most {DEVICE_PER_MINUTE} sign-ins a minute from one address", 429)
            _json(conn, await self.flow.authorize_device())

        await self._guarded(conn, step())

    # --- the verification page -----------------------------------------------------------------------------------
    def _cookie_attrs(self, max_age: int, same_site: str) -> str:
        return f"Max-Age={max_age}; Path=/; HttpOnly; SameSite={same_site}" + ("; Secure" if self.secure else "")

    def _page(self, conn: Connection, status: int, body: bytes, cookies: list[str] | None = None) -> None:
        conn.respond(status, page_headers(self._idp_origin(), cookies=[c.encode() for c in cookies or ()]), body)

    async def device(self, req: Request, conn: Connection) -> None:
        """GET: the code form (a CSRF cookie and its twin in the form). POST: the code confirmed, off to the IdP."""
        if req.method in (b"GET", b"HEAD"):
            csrf = secrets.token_urlsafe(24)
            cookie = f"{_CSRF_COOKIE}={csrf}; {self._cookie_attrs(DEVICE_TTL, 'Strict')}"
            self._page(conn, 200, verify_page(csrf, _query(req).get("user_code", "")[:16]), [cookie])
            return
        if req.method != b"POST":
            self._page(conn, 405, result_page(False, "Open the link your terminal shows."))
            return
        try:
            form = _form(req)
        except OAuthError:
            self._page(conn, 400, result_page(False, "The form did not arrive as a form."))
            return
        expected = _cookie(req, _CSRF_COOKIE)
        origin = req.header(b"origin")
        if (
            not expected
            or not hmac.compare_digest(expected.encode(), form.get("csrf", "").encode())
            or (origin is not None and origin.decode("latin-1") != self.public_url)
        ):
            self._page(conn, 403, verify_page(self._fresh_csrf(), error="That request did not come from this page."))
            return
        typed = form.get("user_code", "")
        try:
            if await self._limited("verify", conn, VERIFY_PER_MINUTE):
                self._page(conn, 429, result_page(False, "Too many attempts: wait a minute and try again."))
                return
            browser = secrets.token_urlsafe(32)
            url = await self.flow.begin_browser(typed, browser)
        except (StateUnavailableError, OSError, RuntimeError) as exc:
            _log.warning("sign-in: the verification step failed: %s", exc)
            self._page(conn, 503, result_page(False, "Sign-in is unavailable right now; try again in a minute."))
            return
        if url is None:
            error = "That code is not known or has expired: check your terminal and try again."
            self._page(conn, 400, verify_page(expected, typed[:16], error))
            return
        cookie = f"{_BROWSER_COOKIE}={browser}; {self._cookie_attrs(DEVICE_TTL, 'Lax')}"
        headers = page_headers(self._idp_origin(), cookies=[cookie.encode()]) + b"location: " + url.encode() + b"\r\n"
        conn.respond(302, headers, b"")

    def _fresh_csrf(self) -> str:
        return secrets.token_urlsafe(24)

    async def callback(self, req: Request, conn: Connection) -> None:
        """The IdP sends the browser back here with a code (or an error): the grant is approved or denied."""
        query = _query(req)
        state = query.get("state")
        if not state:
            self._page(conn, 400, result_page(False, "This page is reached from the identity provider only."))
            return
        try:
            ok, message = await self.flow.finish_browser(
                state, query.get("code"), query.get("error"), _cookie(req, _BROWSER_COOKIE)
            )
        except (StateUnavailableError, OSError, RuntimeError) as exc:
            _log.warning("sign-in: the callback failed: %s", exc)
            ok, message = False, "Sign-in could not be finished (the identity provider or the gateway's store)."
        cleared = f"{_BROWSER_COOKIE}=; {self._cookie_attrs(0, 'Lax')}"
        self._page(conn, 200 if ok else 400, result_page(ok, message), [cleared])

    # --- RFC 6749 §3.2 / RFC 8628 §3.4 ---------------------------------------------------------------------------
    async def token(self, req: Request, conn: Connection) -> None:
        """The device-code and refresh-token grants."""

        async def step() -> None:
            if req.method != b"POST":
                raise OAuthError("invalid_request", "POST to the token endpoint", 405)
            form = _form(req)
            grant = form.get("grant_type")
            if grant == DEVICE_GRANT:
                if not form.get("device_code"):
                    raise OAuthError("invalid_request", "device_code is missing")
                answer = await self.flow.poll(form["device_code"])
            elif grant == "refresh_token":
                if not form.get("refresh_token"):
                    raise OAuthError("invalid_request", "refresh_token is missing")
                answer = await self.flow.refresh(form["refresh_token"])
            elif grant is None:
                raise OAuthError("invalid_request", "grant_type is missing")
            else:
                raise OAuthError("unsupported_grant_type", "this gateway grants device_code and refresh_token only")
            _json(
                conn,
                {
                    "access_token": answer.access_token,
                    "token_type": answer.token_type,
                    "expires_in": answer.expires_in,
                    "refresh_token": answer.refresh_token,
                },
            )

        await self._guarded(conn, step())

    # --- RFC 7009 ------------------------------------------------------------------------------------------------
    async def revoke(self, req: Request, conn: Connection) -> None:
        """Revoke a refresh or access token's session; 200 whether or not the token was known."""

        async def step() -> None:
            if req.method != b"POST":
                raise OAuthError("invalid_request", "POST to the revocation endpoint", 405)
            token = _form(req).get("token")
            if not token:
                raise OAuthError("invalid_request", "token is missing")
            await self.flow.revoke(token)
            _json(conn, {})

        await self._guarded(conn, step())


def idp_origin_of(url: str) -> str:
    """The origin of `url` (for the page's form-action)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
