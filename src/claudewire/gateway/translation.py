"""What a translating ingress gives `claudewire.gateway.exchange.deliver`: how to rewrite the accepted answer.

The gateway's driver knows only this Protocol; the OpenAI ingress (`claudewire.gateway.openai.answers`) implements
it for Chat Completions and Responses, and its model list (`claudewire.gateway.openai.models`) for ``GET /v1/models``.
"""

from __future__ import annotations

from typing import Any, Protocol

from claudewire._errors import Failure

__all__ = ["Translation"]


class Translation(Protocol):
    """How a translating ingress rewrites the accepted attempt's answer for its caller (None: it passes as it is).

    The upstream's answer is always the Messages API's; the translation sees it once the flow has accepted it, so a
    retried attempt is never translated. `whole` rewrites a whole answer (a JSON body, or an error); `start` the head
    of a stream, whose bytes then go through `feed` and end with `close`; `fail` is the end of a stream the gateway
    cuts (idle, broken); `refuse` a stream that never began: its held ``error`` event (`StreamScanner.error`) as a
    whole error answer of the caller's dialect.
    """

    def whole(self, status: int, headers: bytes, body: bytes) -> tuple[int, bytes, bytes]:
        """The status, header lines and body to send for a whole answer."""
        ...

    def start(self, status: int, headers: bytes) -> bytes:
        """The header lines of a stream."""
        ...

    def feed(self, chunk: bytes) -> bytes:
        """The caller's bytes for the upstream's next stream bytes."""
        ...

    def close(self) -> bytes:
        """The caller's last bytes once the upstream's stream ended."""
        ...

    def fail(self, failure: Failure, detail: str) -> bytes:
        """The caller's last bytes for a stream the gateway ends on `failure`."""
        ...

    def refuse(self, status: int, headers: bytes, event: dict[str, Any]) -> tuple[int, bytes, bytes]:
        """A stream whose held first event was an ``error``, as a whole answer."""
        ...
