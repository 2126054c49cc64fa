"""`claudewire proxy`: an Anthropic-native gateway with the shared policy, unbuffered SSE and metrics.

    config = GatewayConfig(upstream="https://api.anthropic.com")
    run(config)                                   # serve until SIGINT/SIGTERM (the CLI does this)
    with GatewayThread(config) as gw: ...         # a gateway on 127.0.0.1:0 in a thread (tests, benchmarks)

Layers, each its own module: `http` (the server side of the wire), `upstream` (the pooled client), `headers`
(hop-by-hop rules, client tokens), `slots` (concurrency cap and queue), `sse` (watching streams), `errors`
(Anthropic-shaped answers), `accesslog`, `config`, `app` (the policy loop and pass-through), `server` (running it).
"""

from claudewire.gateway.app import Gateway
from claudewire.gateway.config import ConfigError, GatewayConfig
from claudewire.gateway.server import GatewayThread, run, serve

__all__ = ["ConfigError", "Gateway", "GatewayConfig", "GatewayThread", "run", "serve"]
