"""The gateway's own answers of Claude Code's base-URL contract: ``/api/hello`` and ``GET /protocol``.

Claude Code (code.claude.com/docs/en/llm-gateway-protocol) sends ``HEAD {ANTHROPIC_BASE_URL}/api/hello`` as a
preconnect before its first request, and some versions a ``GET`` of it as a reachability check: `hello` answers both
at once, without credentials, and nothing is forwarded. ``GET /protocol`` is `protocol_summary`: what this gateway
implements of the contract, as JSON a machine can read (the Claude apps gateway serves its contract at the same
path), built from the running configuration so it never disagrees with it.
"""

from __future__ import annotations

import json

from claudewire.gateway.config import GatewayConfig
from claudewire.gateway.downstream.http import Connection, Request
from claudewire.gateway.upstream.kinds.capability import CLASSES

__all__ = ["PROTOCOL_URL", "hello", "protocol_answer", "protocol_summary"]

PROTOCOL_URL = "https://code.claude.com/docs/en/llm-gateway-protocol"

_JSON = b"content-type: application/json\r\n"
_NO_STORE = b"cache-control: no-store\r\n"
_FORWARDED = (
    "anthropic-beta",
    "anthropic-version",
    "anthropic-workspace-id",
    "x-claude-code-session-id",
    "x-app",
    "x-stainless-*",
    "user-agent",
)
# what each kind does with the parts of the contract that differ between upstreams
_KINDS: dict[str, dict[str, str]] = {
    "anthropic": {
        "headers": "every header but hop-by-hop ones and the client's credential, verbatim (betas never filtered)",
        "count_tokens": "passed through",
        "pings": "the upstream's own",
    },
    "bedrock": {
        "headers": "anthropic-beta values into the body's anthropic_beta, through the upstream's allowlist",
        "count_tokens": "CountTokens on the foundation model; 501 not_supported where Bedrock cannot count",
        "pings": "added by the gateway during silences (Bedrock's event stream has none)",
    },
    "vertex": {
        "headers": "anthropic-beta forwarded; anthropic-version into the body",
        "count_tokens": "count-tokens:rawPredict; 501 not_supported where Vertex cannot count",
        "pings": "the upstream's own",
    },
    "foundry": {
        "headers": "every header but the credentials, verbatim",
        "count_tokens": "passed through; 501 not_supported where Foundry has no such operation",
        "pings": "the upstream's own",
    },
}


def hello(req: Request, conn: Connection) -> None:
    """``/api/hello``: 200 at once (no body for ``HEAD``), whatever the credentials; never forwarded."""
    body = b"" if req.method == b"HEAD" else b'{"status":"ok"}'
    conn.respond(200, _JSON + _NO_STORE, body)


def protocol_summary(config: GatewayConfig) -> bytes:
    """What this gateway implements of Claude Code's base-URL contract, as JSON (see the module docstring)."""
    kinds = sorted({spec.kind for spec in config.upstreams})
    credential = (
        "a gateway token as x-api-key or Authorization: Bearer (the gateway holds the upstream keys)"
        if config.token_mode
        else "the client's own, passed to the upstream"
    )
    summary = {
        "gateway": "claudewire",
        "protocol": PROTOCOL_URL,
        "base_url": {
            "credential": credential,
            "endpoints": [
                {"method": "HEAD", "path": "/api/hello", "answer": "200 at once, no credential needed, not forwarded"},
                {"method": "GET", "path": "/api/hello", "answer": "200 at once, no credential needed, not forwarded"},
                {"method": "POST", "path": "/v1/messages", "query": "matched by path: ?beta=true is tolerated"},
                {
                    "method": "POST",
                    "path": "/v1/messages/count_tokens",
                    "unsupported": "501 not_supported with x-should-retry: false, where an upstream cannot count",
                },
                {"method": "GET", "path": "/protocol", "answer": "this summary"},
            ],
            "forwarded_headers": list(_FORWARDED),
            "affinity_headers": list(config.affinity_headers),
            "pings": {
                "event": 'event: ping\ndata: {"type": "ping"}',
                "after_silence_seconds": config.ping_interval,
                "on": "translated streams without pings of their own, between two events; 0: off",
            },
            "errors": {
                "upstream_wording": "kept in error.message",
                "capability_rejected": {
                    "token": "capability_rejected: <class>, after the upstream's words, where a cloud words a "
                    "rejection otherwise than the Anthropic API",
                    "classes": list(CLASSES),
                },
            },
        },
        "upstream_kinds": {kind: _KINDS.get(kind, {}) for kind in kinds},
    }
    return json.dumps(summary, indent=2).encode() + b"\n"


def protocol_answer(conn: Connection, config: GatewayConfig) -> None:
    """Answer ``GET /protocol``."""
    conn.respond(200, _JSON + _NO_STORE, protocol_summary(config))
