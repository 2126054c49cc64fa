"""The gateway's client side: the connection a caller opened, its requests, bodies and limits, and the answers written.

It never imports `claudewire.gateway.upstream` (and is never imported by it); what both floors need is in
`claudewire.gateway.wire`.
"""
