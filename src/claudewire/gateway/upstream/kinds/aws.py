"""AWS auth for the kinds that reach Bedrock (``bedrock``: InvokeModel; ``bedrock-mantle``: the Messages API): a
Bedrock API key as ``Authorization: Bearer``, else a SigV4 signature by botocore with the standard credential chain.

One `AwsAuth` per upstream; the kinds differ only in the SigV4 service name they sign for.
"""

from __future__ import annotations

import asyncio
import os
import re
from typing import Any

from claudewire.gateway.upstream.kinds.base import KeyRing
from claudewire.gateway.upstream.pool import Headers, UpstreamTarget

__all__ = ["AwsAuth", "aws_region"]


def aws_region(given: str | None, host: str, host_region: re.Pattern[str]) -> str:
    """The region an upstream signs for: `given`, else the one in its URL's `host` (group 1 of `host_region`), else
    ``AWS_REGION``; ValueError when none says."""
    found = host_region.search(host)
    region = given or (found.group(1) if found else None) or os.environ.get("AWS_REGION") or ""
    if not region:
        raise ValueError("region: not given, not in the URL's host and AWS_REGION is not set")
    return region


class AwsAuth:
    """The auth headers of one Bedrock or Mantle request, and the credentials in them to scrub from its answer."""

    def __init__(
        self, upstream: str, kind: str, service: str, target: UpstreamTarget, region: str, keys: KeyRing, creds: Any
    ) -> None:
        self.upstream = upstream
        self.kind = kind
        self.service = service
        self.target = target
        self.region = region
        self.keys = keys
        self._credentials = creds  # botocore credentials; resolved from the AWS chain on first use

    async def headers(self, route: str, data: bytes, chosen: str | None) -> tuple[Headers, tuple[str, ...]]:
        """The auth header pairs for POST `route` with body `data`, and what to scrub (a key; a signature and a
        session token)."""
        key = self.keys.pick(chosen)
        if key is not None:  # a Bedrock API key
            return [(b"authorization", b"Bearer " + key.encode("latin-1"))], (key,)
        from botocore.auth import SigV4Auth  # the `bedrock` extra
        from botocore.awsrequest import AWSRequest

        credentials = await self._frozen()
        host = self.target.host_header.decode("latin-1")
        url = f"{self.target.scheme}://{host}{self.target.prefix}{route}"
        request = AWSRequest("POST", url, data=data, headers={"content-type": "application/json", "host": host})
        SigV4Auth(credentials, self.service, self.region).add_auth(request)
        out: Headers = []
        for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
            value = request.headers.get(name)
            if value:
                out.append((name.lower().encode(), str(value).encode("latin-1")))
        signature = str(request.headers.get("Authorization", "")).rpartition("Signature=")[2]
        token = str(request.headers.get("X-Amz-Security-Token") or "")
        return out, tuple(m for m in (signature, token) if m)

    async def _frozen(self) -> Any:
        creds = self._credentials
        if creds is None:
            # the standard chain (environment, shared files, SSO, container and instance metadata): may do I/O
            import botocore.session

            creds = await asyncio.to_thread(lambda: botocore.session.get_session().get_credentials())
            if creds is None:
                raise PermissionError(
                    f"{self.kind} upstream {self.upstream}: no AWS credentials found (set AWS_ACCESS_KEY_ID / "
                    "AWS_SECRET_ACCESS_KEY, a profile, or instance credentials; or give Bedrock API keys in keys)"
                )
            self._credentials = creds
        refresh = getattr(creds, "refresh_needed", None)
        if callable(refresh) and refresh():
            return await asyncio.to_thread(creds.get_frozen_credentials)
        return creds.get_frozen_credentials() if hasattr(creds, "get_frozen_credentials") else creds
