"""The I/O of the ``--url`` checks: the host's addresses, and one bounded ``GET`` (no redirect followed).

Each probe returns what it saw as a frozen value, never raises for a network failure, and is bounded by
`Settings.timeout`; the judges that read them (`claudewire.doctor.reach`) are pure.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx2

from claudewire._net import origin
from claudewire.doctor.net import Target, is_ip, resolve
from claudewire.doctor.settings import Settings

__all__ = ["Answer", "Lookup", "UrlTarget", "get", "get_capped", "lookup"]

_MAX_BODY = 256 * 1024


@dataclass(frozen=True, slots=True)
class UrlTarget:
    """A ``--url``: the URL without a trailing slash and where a client connects for it."""

    url: str
    target: Target

    @classmethod
    def parse(cls, url: str) -> UrlTarget | None:
        """The target of an http(s) URL with a host; None otherwise."""
        try:
            where = origin(url)
        except ValueError:
            return None
        return cls(url.strip().rstrip("/"), Target(where.scheme, where.host, where.port))

    def at(self, path: str) -> str:
        """The URL with `path` appended (``/models`` → ``https://host/cursor/models``)."""
        return self.url + path


@dataclass(frozen=True, slots=True)
class Lookup:
    """What resolving the host gave: its addresses (the literal itself for an IP URL), or the error."""

    host: str
    addresses: tuple[str, ...] = ()
    error: str | None = None
    literal: bool = False
    elapsed_ms: float = 0.0


async def lookup(target: Target, seconds: float) -> Lookup:
    """Resolve `target`'s host here (IPv4 and IPv6), bounded by `seconds`."""
    host = target.host.strip("[]")
    if is_ip(host):
        return Lookup(host, (host,), literal=True)
    start = time.monotonic()
    try:
        addresses = await resolve(host, target.port, seconds)
    except TimeoutError:
        error = f"no DNS answer within {seconds:g}s"
    except (socket.gaierror, OSError, UnicodeError) as exc:
        error = str(exc) or type(exc).__name__
    else:
        return Lookup(host, tuple(addresses), elapsed_ms=(time.monotonic() - start) * 1000)
    return Lookup(host, error=error, elapsed_ms=(time.monotonic() - start) * 1000)


@dataclass(frozen=True, slots=True)
class Answer:
    """One ``GET``'s answer (status, lower-case headers, the body's first bytes: 256 KiB for `get`) or the error
    instead."""

    url: str
    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: BaseException | None = None
    elapsed_ms: float = 0.0

    def failure(self) -> tuple[BaseException, ssl.SSLCertVerificationError | None]:
        """Why no answer came: the error (a timeout when none was kept), and the certificate refusal in its chain."""
        exc = self.error or TimeoutError()
        cause: BaseException | None = exc
        while cause is not None and not isinstance(cause, ssl.SSLCertVerificationError):
            cause = cause.__cause__ or cause.__context__
        return exc, cause


async def get(settings: Settings, url: str, headers: Mapping[str, str]) -> Answer:
    """``GET url`` with `headers`, this machine's trust store (`Settings.trust_context`) and the route to ``--url``.

    Redirects are not followed: a client that was given this URL does not follow them either for an API call.
    """
    start = time.monotonic()
    try:
        async with httpx2.AsyncClient(
            verify=settings.trust_context(),
            proxy=settings.url_proxy.url,
            trust_env=False,
            follow_redirects=False,
            timeout=settings.timeout,
        ) as client:
            status, head, body = await get_capped(client, url, headers, _MAX_BODY)
    except (httpx2.HTTPError, OSError, TimeoutError) as exc:
        return Answer(url, error=exc, elapsed_ms=(time.monotonic() - start) * 1000)
    return Answer(url, status=status, headers=head, body=body, elapsed_ms=(time.monotonic() - start) * 1000)


async def get_capped(
    client: httpx2.AsyncClient, url: str, headers: Mapping[str, str], limit: int
) -> tuple[int, dict[str, str], bytes]:
    """``GET url`` with `headers` through `client`: the status, the lower-case headers and the body's first `limit`
    bytes (the rest is not read). Raises what httpx2 raises."""
    response = await client.send(client.build_request("GET", url, headers=dict(headers)), stream=True)
    try:
        body = b""
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) >= limit:
                break
    finally:
        await response.aclose()
    return response.status_code, {k.lower(): v for k, v in response.headers.items()}, body[:limit]
