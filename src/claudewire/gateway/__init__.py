"""`claudewire proxy`: an Anthropic-native gateway with the shared policy, unbuffered SSE and metrics.

    config = GatewayConfig(upstream="https://api.anthropic.com")
    run(config)                                   # serve until SIGINT/SIGTERM (the CLI does this)
    with GatewayThread(config) as gw: ...         # a gateway on 127.0.0.1:0 in a thread (tests, benchmarks)

Two floors with no arrow between them, and the wiring above:

    cli ──> server (run, GatewayThread) ──> app (Gateway: the call flow drives each call)
                                             │   routing, exchange, headers, accesslog, config
                   ┌─────────────────────────┴─────────────────────────┐
                   v                                                   v
    downstream/  http (Connection, owning: answers,         upstream/  pool (Upstream), conn, specs,
                 respond, bodies, deadlines), request,                kinds/ (anthropic, bedrock, vertex, foundry)
                 limits, slots, clients, errors
                   └──────────────> wire (first_header, status_line, set_nodelay) <──────┘
"""

from claudewire.gateway.app import Gateway
from claudewire.gateway.config import ConfigError, GatewayConfig
from claudewire.gateway.server import GatewayThread, run, serve

__all__ = ["ConfigError", "Gateway", "GatewayConfig", "GatewayThread", "run", "serve"]
