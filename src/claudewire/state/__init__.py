"""Where the gateway's shared state lives: in this process by default, in Redis when configured.

`open_state(url)` picks the backend: ``memory`` (or nothing) keeps everything in the process; ``redis://`` and
``rediss://`` URLs share it across workers and replicas (the ``redis`` extra). The policy never imports this
package: the gateway feeds it.
"""

from __future__ import annotations

from claudewire.state.base import (
    Admission,
    Bucket,
    BucketView,
    ClientLimits,
    StateBackend,
    StateUnavailableError,
    Ticket,
    rfc3339,
)
from claudewire.state.memory import MemoryState

__all__ = [
    "Admission",
    "Bucket",
    "BucketView",
    "ClientLimits",
    "MemoryState",
    "StateBackend",
    "StateError",
    "StateUnavailableError",
    "Ticket",
    "open_state",
    "rfc3339",
]


class StateError(ValueError):
    """A state URL that cannot work (unknown scheme, redis-py missing); the message says how to fix it."""


def open_state(
    url: str | None,
    *,
    namespace: str = "claudewire",
    timeout: float = 0.05,
    ca_file: str | None = None,
    processes: int = 1,
) -> StateBackend:
    """The backend for `url`: None/``memory`` → `MemoryState`; ``redis://``/``rediss://`` → the Redis backend.

    `processes`: how many processes on this host share the limits (``--workers``); a process that finds Redis slow
    grants locally at most a tenth of its share of a limit (`claudewire.state.redis`).

    ``rediss://`` verifies the server's certificate and host name against the system's CAs (SSL_CERT_FILE
    works), and `ca_file` (a PEM bundle) when given; there is no way to switch verification off.
    """
    if not url or url == "memory":
        return MemoryState()
    if url.startswith(("redis://", "rediss://", "unix://")):
        try:
            from claudewire.state.redis import RedisState
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise StateError("--state redis://... needs redis-py: pip install 'claudewire[redis]'") from exc
        connect = {"ssl_ca_certs": ca_file} if ca_file and url.startswith("rediss://") else None
        return RedisState(url, namespace=namespace, timeout=timeout, processes=processes, connect=connect)
    raise StateError(f"unknown state backend {url!r}: use memory, redis://HOST:PORT/DB or rediss://HOST:PORT/DB")
