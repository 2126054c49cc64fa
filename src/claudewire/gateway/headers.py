"""Which header lines cross the gateway: hop-by-hop fields stay behind (RFC 9110 §7.6.1), the rest pass unchanged.

In token mode the client's credential is taken off (and checked in constant time) and the gateway's key put on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from claudewire.gateway.http import Request
from claudewire.gateway.upstream import UpstreamResponse

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
    {b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"te", b"trailer", b"upgrade"}
)
POLICY_PREFIXES = (b"anthropic-ratelimit-", b"retry-after", b"x-should-retry", b"request-id")


class ClientAuth:
    """Gateway tokens and the upstream key line that replaces them (no tokens: credentials pass through).

    Tokens are kept only as sha256 digests mapped to the client's name ("" for a plain token of the tokens file):
    a presented token is hashed and looked up, so the time taken tells nothing about any token's bytes.
    """

    __slots__ = ("digests", "key_line", "tokens")

    def __init__(
        self, tokens: tuple[str, ...], upstream_key: str | None, clients: Iterable[tuple[str, bytes]] = ()
    ) -> None:
        self.digests: dict[bytes, str] = {hashlib.sha256(t.encode()).digest(): "" for t in tokens}
        self.digests.update({digest: name for name, digest in clients})
        self.tokens = bool(self.digests)
        self.key_line = b"x-api-key: " + upstream_key.encode() + b"\r\n" if upstream_key else b""

    def client(self, presented: bytes) -> str | None:
        """The name of the client whose token `presented` is ("" for a plain token), or None for no token of ours."""
        return self.digests.get(hashlib.sha256(presented).digest())

    def accepts(self, presented: bytes) -> bool:
        """Whether `presented` is one of the tokens."""
        return self.client(presented) is not None


def forward_headers(req: Request, auth: ClientAuth) -> tuple[bytes, str] | None:
    """The request's header lines for upstream (hop-by-hop removed) and the client's name ("" when unnamed);
    None when a gateway token is missing or wrong."""
    parts: list[bytes] = []
    tokens = auth.tokens
    presented: bytes | None = None
    listed: set[bytes] | None = None
    for name, value in req.headers:
        low = name.lower()
        if low in HOP_REQUEST:
            if low == b"connection":
                listed = {v.strip().lower() for v in value.split(b",")}
            continue
        if tokens and (low == b"x-api-key" or low == b"authorization"):
            presented = value[7:].strip() if value[:7].lower() == b"bearer " else value.strip()
            continue
        parts.append(b"%b: %b\r\n" % (name, value))
    if listed:
        listed -= {b"close", b"keep-alive"}
        parts = [p for p in parts if p.split(b":", 1)[0].lower() not in listed]
    client = ""
    if tokens:
        found = auth.client(presented) if presented is not None else None
        if found is None:
            return None
        client = found
        parts.append(auth.key_line)
    return b"".join(parts), client


def response_headers(resp: UpstreamResponse, policy_headers: dict[str, str]) -> bytes:
    """The upstream's header lines for the client (hop-by-hop and framing removed); fills `policy_headers`."""
    parts: list[bytes] = []
    for name, value in resp.headers:
        low = name.lower()
        if low in HOP_RESPONSE or low == b"content-length":
            continue
        if low.startswith(POLICY_PREFIXES):
            policy_headers[low.decode("latin-1")] = value.decode("latin-1")
        parts.append(b"%b: %b\r\n" % (name, value))
    return b"".join(parts)
