"""An ``anthropic`` upstream holding a workload identity federation credential (`upstream.federation`).

The pool chooses the federation credential like any key (the placeholder ``federation:<upstream>`` is the key
value the attempt carries); this kind sends ``Authorization: Bearer <minted token>`` in its place and adds the
``oauth-2025-04-20`` beta. Attempts with an ordinary key of the same upstream pass untouched. An exchange the token
endpoint refuses is answered as a 401 ``authentication_error``, so the pool takes the credential out as it does a
revoked key (and fails over); one that cannot be made is a 503 ``api_error`` (retryable, the next upstream serves).
A 401 from the API for a minted token drops it from the cache: the next attempt exchanges anew.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from claudewire.gateway.upstream.federation import (
    OAUTH_BETA,
    TOKEN_PATH,
    ExchangeFailed,
    ExchangeRefused,
    FederatedToken,
    FederationSpec,
    Minted,
    parse_token_answer,
    placeholder,
    read_identity_token,
    token_request,
)
from claudewire.gateway.upstream.kinds.base import (
    PassThrough,
    Refusal,
    ResponseTranslator,
    UpstreamCall,
    without_headers,
)
from claudewire.gateway.upstream.pool import Headers, Upstream
from claudewire.gateway.wire import first_header

__all__ = ["EXCHANGE_WITHIN_S", "FederationKind"]

EXCHANGE_WITHIN_S = 30.0
"""Seconds an exchange may take for its answer head, and between its body's chunks."""

_DROP = frozenset({b"x-api-key", b"authorization", b"anthropic-beta"})
_CREDENTIALS = frozenset({b"x-api-key", b"authorization"})


class FederationKind:
    """Bearer tokens from workload identity federation for one ``anthropic`` upstream."""

    name = "anthropic"

    def __init__(
        self,
        upstream_name: str,
        upstream: Upstream,
        spec: FederationSpec,
        *,
        clock: Callable[[], float],
    ) -> None:
        self.upstream_name = upstream_name
        self.upstream = upstream
        self.spec = spec
        self.marker = placeholder(upstream_name)
        self.tokens = FederatedToken(self._exchange, clock, upstream_name)

    async def _exchange(self) -> Minted:
        assertion = await asyncio.to_thread(read_identity_token, self.spec.identity_token_file)
        headers, body = token_request(self.spec, assertion)
        try:
            answer = await self.upstream.send(b"POST", TOKEN_PATH, headers, body, head_within=EXCHANGE_WITHIN_S)
            raw = await answer.read(EXCHANGE_WITHIN_S)
        except Exception as exc:  # any transport failure (refused, reset, TLS, timeout, a bad head) is the same here
            raise ExchangeFailed(f"the token endpoint could not be reached: {type(exc).__name__}") from None
        return parse_token_answer(answer.status, raw, assertion)

    async def request(
        self, method: bytes, path: bytes, headers: Headers, body: bytes, key: str | None
    ) -> UpstreamCall | Refusal:
        if key != self.marker:  # another key of this upstream (or the client's own credentials)
            if key is None:
                return UpstreamCall(method, path, headers, body)
            lines = [*without_headers(headers, _CREDENTIALS), (b"x-api-key", key.encode("latin-1"))]
            return UpstreamCall(method, path, lines, body, minted=(key,))
        where = f"claudewire gateway: upstream {self.upstream_name!r}: the workload identity federation exchange"
        try:
            token = await self.tokens.get()
        except ExchangeRefused as exc:
            return Refusal(
                401,
                "authentication_error",
                f"{where} was refused ({exc}): check the federation rule, service account and the identity "
                "token's issuer, audience and subject",
            )
        except ExchangeFailed as exc:
            return Refusal(503, "api_error", f"{where} failed: {exc}")
        betas = first_header(headers, b"anthropic-beta") or b""
        flags = [b.strip() for b in betas.split(b",") if b.strip()]
        if OAUTH_BETA.encode() not in flags:
            flags.append(OAUTH_BETA.encode())
        lines = without_headers(headers, _DROP)
        lines += [(b"authorization", b"Bearer " + token.encode()), (b"anthropic-beta", b",".join(flags))]
        return UpstreamCall(method, path, lines, body, minted=(token,))

    def response(self, call: UpstreamCall, status: int, headers: Headers) -> ResponseTranslator:
        if status == 401:
            sent = first_header(call.headers, b"authorization") or b""
            if sent.startswith(b"Bearer "):
                self.tokens.rejected(sent[7:].decode("latin-1"))
        return PassThrough(status, headers)
