"""The gateway's upstream side: the keep-alive pool per origin, one upstream connection, the `[[upstreams]]` specs,
and `kinds/` (anthropic passthrough, bedrock, vertex, foundry: small translators behind one interface).

It never imports `claudewire.gateway.downstream` (and is never imported by it); what both floors need is in
`claudewire.gateway.wire`.
"""
