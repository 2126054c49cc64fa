"""`claudewire proxy`: an Anthropic-native gateway with the shared policy, unbuffered SSE and metrics.

    config = GatewayConfig(upstream="https://api.anthropic.com")
    run(config)                                   # serve until SIGINT/SIGTERM (the CLI does this)
    with GatewayThread(config) as gw: ...         # a gateway on 127.0.0.1:0 in a thread (tests, benchmarks)

Two floors with no arrow between them, and the wiring above:

    cli ──> server (run, GatewayThread) ──> app (Gateway: the call flow drives each call)
                                             │   routing, exchange, headers, accesslog, config
                   ┌─────────────────────────┴─────────────────────────┐
                   v                                                   v
    downstream/  http (Connection), request, respond,      upstream/  pool (Upstream), conn, specs,
                 bodies, limits, slots, clients, errors               kinds/ (anthropic, bedrock, vertex, foundry)
                   └──────────────> wire (first_header, status_line, set_nodelay) <──────┘
"""

from claudewire.gateway.app import Gateway
from claudewire.gateway.config import ConfigError, GatewayConfig
from claudewire.gateway.server import GatewayThread, run, serve

__all__ = ["ConfigError", "Gateway", "GatewayConfig", "GatewayThread", "run", "serve"]
