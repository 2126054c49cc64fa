"""Checking AWS Signature Version 4 on a request the Bedrock simulator receives.

Always: the ``Authorization`` header is ``AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request,
SignedHeaders=...,Signature=...`` for service ``bedrock`` and the simulator's region, with ``x-amz-date`` signed.
With a known access key and secret, the signature itself is recomputed with botocore's signer over the request as
received (method, raw path, query, the signed headers, the body) and must match.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["SigV4Error", "SignedRequest", "check_sigv4"]

_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<akid>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/"
    r"aws4_request,\s*SignedHeaders=(?P<signed>[a-z0-9;\-]+),\s*Signature=(?P<sig>[0-9a-f]{64})$"
)


class SigV4Error(Exception):
    """A request whose SigV4 signature is missing, malformed, for another service or region, or wrong."""

    def __init__(self, exception: str, message: str) -> None:
        super().__init__(message)
        self.exception = exception  # the x-amzn-ErrorType AWS answers with
        self.message = message


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """A request as received: method, URL (scheme://host/raw-path?query), lower-case headers, body."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes


def check_sigv4(
    request: SignedRequest,
    *,
    service: str,
    region: str,
    access_key: str | None = None,
    secret_key: str | None = None,
) -> str:
    """The access key id of a request signed for `service` in `region`; `SigV4Error` saying what is wrong."""
    auth = request.headers.get("authorization", "")
    if not auth:
        raise SigV4Error("MissingAuthenticationTokenException", "Missing Authentication Token")
    match = _AUTH.match(auth.strip())
    if match is None:
        raise SigV4Error(
            "IncompleteSignatureException",
            "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters "
            "(AWS4-HMAC-SHA256).",
        )
    if match["service"] != service:
        raise SigV4Error(
            "InvalidSignatureException",
            f"Credential should be scoped to correct service: '{service}'. ",
        )
    if match["region"] != region:
        raise SigV4Error(
            "InvalidSignatureException",
            f"Credential should be scoped to a valid region, not '{match['region']}'. ",
        )
    signed = match["signed"].split(";")
    amz_date = request.headers.get("x-amz-date", "")
    if "host" not in signed or "x-amz-date" not in signed or not amz_date.startswith(match["date"]):
        raise SigV4Error("IncompleteSignatureException", "The host and x-amz-date headers must be signed.")
    if access_key is not None and secret_key is not None:
        if match["akid"] != access_key:
            raise SigV4Error("UnrecognizedClientException", "The security token included in the request is invalid.")
        expected = _signature(request, signed, amz_date, service, region, access_key, secret_key)
        if not hmac.compare_digest(expected, match["sig"]):
            raise SigV4Error(
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you provided. Check your AWS "
                "Secret Access Key and signing method. Consult the service documentation for details.",
            )
    return match["akid"]


def _signature(
    request: SignedRequest,
    signed: list[str],
    amz_date: str,
    service: str,
    region: str,
    access_key: str,
    secret_key: str,
) -> str:
    from botocore.auth import SigV4Auth  # the `bedrock` extra; only a simulator given keys verifies
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    headers = {name: request.headers.get(name, "") for name in signed}
    aws = AWSRequest(method=request.method, url=request.url, headers=headers, data=request.body)
    aws.context["timestamp"] = amz_date
    credentials = Credentials(access_key, secret_key, request.headers.get("x-amz-security-token"))
    signer = SigV4Auth(credentials, service, region)
    canonical = signer.canonical_request(aws)
    return str(signer.signature(signer.string_to_sign(aws, canonical), aws))
