"""The gateway's live console: one page (``/console``) showing what the wire is doing, and the ring it reads.

`ring` keeps the last finished calls and per-minute aggregates (and documents the record fields it reads),
`view` shapes them and the gateway's upstream facts for the page, `page` serves the page and its data, ``static/``
holds the page itself (HTML, CSS and plain JavaScript; no build step). See docs/console.md.
"""

from claudewire.gateway.downstream.console.page import CSP, Console
from claudewire.gateway.downstream.console.ring import AttemptView, CallRing, CallView, UsageView
from claudewire.gateway.downstream.console.view import UpstreamFacts

__all__ = ["CSP", "AttemptView", "CallRing", "CallView", "Console", "UpstreamFacts", "UsageView"]
