"""Which header lines cross the gateway: hop-by-hop fields stay behind (RFC 9110 §7.6.1), the rest pass unchanged.

In token mode the client's credential is taken off (and checked in constant time); the gateway's key goes on at
the upstream send (`claudewire.gateway.upstream.pool`). A request with more than one credential (two ``x-api-key``,
or ``x-api-key`` and ``Authorization`` that differ) is refused whatever their order. Headers cross as pairs; what
the gateway holds is scrubbed from what comes back by the one `Scrubber` (`claudewire._secrets`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable

from claudewire._secrets import Scrubber
from claudewire.gateway.downstream.request import Request
from claudewire.gateway.upstream.pool import Headers, UpstreamResponse

__all__ = ["ClientAuth", "forward_headers", "response_headers"]

# RFC 9110 §7.6.1 hop-by-hop fields, plus the framing fields we set ourselves
HOP_REQUEST = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"transfer-encoding",
        b"te",
        b"trailer",
        b"upgrade",
        b"proxy-authorization",
        b"proxy-authenticate",
        b"host",
        b"content-length",
        b"expect",
    }
)
HOP_RESPONSE = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"transfer-encoding",
        b"te",
        b"trailer",
        b"upgrade",
        b"proxy-authenticate",
        b"proxy-authorization",
    }
)
POLICY_PREFIXES = (b"anthropic-ratelimit-", b"retry-after", b"x-should-retry", b"request-id")


class ClientAuth:
    """Gateway tokens (no tokens: credentials pass through), and the scrubber of what the gateway holds.

    Tokens are kept only as sha256 digests mapped to the client's name ("" for a plain token of the tokens file):
    a presented token is hashed and looked up, so the time taken tells nothing about any token's bytes. A token that
    is none of them goes to `verifier` when there is one (gateway sign-in: a signed access token), which names the
    client (a `claudewire.gateway.downstream.clients.Member`) or refuses it.
    """

    __slots__ = ("digests", "scrubber", "tokens", "verifier")

    def __init__(
        self,
        tokens: tuple[str, ...],
        clients: Iterable[tuple[str, bytes]] = (),
        scrubber: Scrubber | None = None,
        verifier: Callable[[bytes], str | None] | None = None,
    ) -> None:
        self.digests: dict[bytes, str] = {hashlib.sha256(t.encode()).digest(): "" for t in tokens}
        self.digests.update({digest: name for name, digest in clients})
        self.verifier = verifier
        self.tokens = bool(self.digests) or verifier is not None
        # the keys the gateway holds (never the client's own, which it may see again): the routing's scrubber
        self.scrubber = scrubber or Scrubber()

    @property
    def held(self) -> bool:
        """Whether the gateway holds any key (else there is nothing of its own to scrub)."""
        return self.scrubber.active

    def scrub(self, data: bytes) -> bytes:
        """`data` with every held key replaced by its redacted form (one search per key; a no-op without any)."""
        return self.scrubber.scrub(data)

    def client(self, presented: bytes) -> str | None:
        """The name of the client whose token `presented` is ("" for a plain token), or None for no token of ours."""
        found = self.digests.get(hashlib.sha256(presented).digest())
        if found is None and self.verifier is not None:
            return self.verifier(presented)
        return found

    def accepts(self, presented: bytes) -> bool:
        """Whether `presented` is a configured token (a signed-in user's is not: /metrics is the operator's)."""
        return hashlib.sha256(presented).digest() in self.digests

    def admits(self, req: Request, *, signed_in: bool = False) -> bool:
        """Whether `req` carries exactly one valid token: a configured one (the gateway's own endpoints, e.g.
        /metrics), or with `signed_in` also a signed-in user's (a caller of the API routes, judged on the head)."""
        presented: bytes | None = None
        seen: set[bytes] = set()
        for name, value in req.headers:
            low = name.lower()
            if low == b"x-api-key" or low == b"authorization":
                one = value[7:] if low == b"authorization" and value[:7].lower() == b"bearer " else value
                one = one.strip()
                if low in seen or (presented is not None and one != presented):
                    return False
                seen.add(low)
                presented = one
        if presented is None:
            return False
        return self.client(presented) is not None if signed_in else self.accepts(presented)


def forward_headers(req: Request, auth: ClientAuth) -> tuple[Headers, str] | None:
    """The request's header pairs for upstream (hop-by-hop and, in token mode, the client's credential removed) and
    the client's name ("" when unnamed); None when a gateway token is missing or wrong."""
    parts: Headers = []
    tokens = auth.tokens
    presented: bytes | None = None
    seen: set[bytes] = set()
    ambiguous = False
    listed: set[bytes] | None = None
    for name, value in req.headers:
        low = name.lower()
        if low in HOP_REQUEST:
            if low == b"connection":
                listed = (listed or set()) | {v.strip().lower() for v in value.split(b",")}
            continue
        if tokens and (low == b"x-api-key" or low == b"authorization"):
            one = value[7:].strip() if low == b"authorization" and value[:7].lower() == b"bearer " else value.strip()
            # a second header of the same name, or a second scheme that disagrees: refuse, whatever the order
            ambiguous |= low in seen or (presented is not None and one != presented)
            seen.add(low)
            presented = one
            continue
        parts.append((name, value))
    if listed:
        listed -= {b"close", b"keep-alive"}
        parts = [(n, v) for n, v in parts if n.lower() not in listed]
    client = ""
    if tokens:
        found = auth.client(presented) if presented is not None and not ambiguous else None
        if found is None:
            return None
        client = found
    return parts, client


def response_headers(resp: UpstreamResponse, policy_headers: dict[str, str]) -> bytes:
    """The upstream's header lines for the client (hop-by-hop, those its Connection names, and framing removed);
    fills `policy_headers`."""
    parts: list[bytes] = []
    listed: set[bytes] | None = None
    for name, value in resp.headers:
        low = name.lower()
        if low in HOP_RESPONSE or low == b"content-length":
            if low == b"connection":
                listed = (listed or set()) | {v.strip().lower() for v in value.split(b",")}
            continue
        if low.startswith(POLICY_PREFIXES):
            policy_headers[low.decode("latin-1")] = value.decode("latin-1")
        parts.append(b"%b: %b\r\n" % (name, value))
    if listed:
        parts = [p for p in parts if p.split(b":", 1)[0].lower() not in listed]
    return b"".join(parts)
